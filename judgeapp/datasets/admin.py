from django.contrib import admin

from judgeapp.datasets.models import Comparison, Dataset, ImportJob


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "created_at"]
    list_filter = ["team"]
    search_fields = ["name"]


@admin.register(Comparison)
class ComparisonAdmin(admin.ModelAdmin):
    list_display = ["external_id", "dataset", "created_at"]
    list_filter = ["dataset__team"]
    search_fields = ["external_id"]
    raw_id_fields = ["dataset"]
    show_full_result_count = False


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ["id", "dataset", "filename", "status", "items_created", "error_count"]
    list_filter = ["status"]
    raw_id_fields = ["dataset"]
