from django.contrib import admin

from judgeapp.judging.models import Judge, JudgeRun, Judgment, PrincipleSet


@admin.register(Judge)
class JudgeAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "protocol", "model", "max_in_flight"]
    list_filter = ["protocol", "team"]
    search_fields = ["name", "model"]
    # The stored key never appears in a form, encrypted or not.
    exclude = ["api_key_encrypted"]


@admin.register(PrincipleSet)
class PrincipleSetAdmin(admin.ModelAdmin):
    list_display = ["name", "version", "team", "created_at"]
    list_filter = ["team"]


@admin.register(JudgeRun)
class JudgeRunAdmin(admin.ModelAdmin):
    list_display = ["id", "judge", "dataset", "status", "both_orders", "samples", "created_at"]
    list_filter = ["status"]
    raw_id_fields = ["judge", "dataset", "principle_set"]


@admin.register(Judgment)
class JudgmentAdmin(admin.ModelAdmin):
    list_display = ["id", "run", "comparison", "swapped", "sample", "status", "parse_status"]
    list_filter = ["status", "parse_status"]
    raw_id_fields = ["run", "comparison"]
    show_full_result_count = False
