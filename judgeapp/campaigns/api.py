from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets

from judgeapp.api.filters import filter_by_id_param
from judgeapp.campaigns.models import Campaign, Label
from judgeapp.campaigns.selectors import campaign_list, label_list


class CampaignSerializer(serializers.ModelSerializer):
    class Meta:
        model = Campaign
        exclude = ["created_by", "annotators"]


class LabelSerializer(serializers.ModelSerializer):
    annotator = serializers.CharField(source="annotator_display", read_only=True)

    class Meta:
        model = Label
        fields = [
            "id", "comparison", "campaign", "kind", "annotator", "preference", "score_1",
            "score_2", "rationale", "seconds_spent", "shown_swapped", "created_at", "updated_at",
        ]  # fmt: skip


class CampaignViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = CampaignSerializer

    def get_queryset(self):
        return filter_by_id_param(
            self.request, campaign_list(user=self.request.user), "team", "team_id"
        )


@extend_schema(parameters=[OpenApiParameter("campaign", int, description="Only this campaign.")])
class LabelViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = LabelSerializer

    def get_queryset(self):
        qs = label_list(user=self.request.user).select_related("annotator")
        return filter_by_id_param(self.request, qs, "campaign", "campaign_id")
