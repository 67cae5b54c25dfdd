from django.contrib import admin

from judgeapp.campaigns.models import (
    Assignment,
    Campaign,
    GoldItem,
    GuidelineVersion,
    Label,
    LabelHistory,
)


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "dataset", "scale", "overlap", "status"]
    list_filter = ["status", "scale", "team"]
    raw_id_fields = ["dataset"]
    filter_horizontal = ["annotators"]


@admin.register(GuidelineVersion)
class GuidelineVersionAdmin(admin.ModelAdmin):
    list_display = ["campaign", "version", "created_at"]
    raw_id_fields = ["campaign"]


@admin.register(GoldItem)
class GoldItemAdmin(admin.ModelAdmin):
    list_display = ["campaign", "comparison", "expected_preference"]
    raw_id_fields = ["campaign", "comparison"]


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["id", "campaign", "comparison", "annotator", "status", "locked_until"]
    list_filter = ["status"]
    raw_id_fields = ["campaign", "comparison", "annotator"]
    show_full_result_count = False


class LabelHistoryInline(admin.TabularInline):
    model = LabelHistory
    extra = 0
    readonly_fields = ["changed_by", "changed_at", "before", "after"]


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "comparison",
        "kind",
        "campaign",
        "annotator",
        "annotator_name",
        "preference",
    ]
    list_filter = ["kind"]
    raw_id_fields = ["comparison", "campaign", "annotator"]
    inlines = [LabelHistoryInline]
    show_full_result_count = False
