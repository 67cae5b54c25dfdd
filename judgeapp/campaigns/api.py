from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from judgeapp.api.filters import filter_by_id_param
from judgeapp.campaigns.models import Assignment, Campaign, Label
from judgeapp.campaigns.selectors import (
    annotated_campaigns,
    assignment_list,
    campaign_list,
    label_list,
)
from judgeapp.campaigns.services import assignment_next, assignment_skip, label_submit


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


class AssignmentSerializer(serializers.ModelSerializer):
    """An item as its annotator sees it: responses in the order shown to them, nothing else."""

    conversation = serializers.JSONField(source="comparison.conversation", read_only=True)
    principles = serializers.JSONField(source="comparison.principles", read_only=True)
    response_a = serializers.SerializerMethodField(help_text="The response shown first (left).")
    response_b = serializers.SerializerMethodField(help_text="The response shown second (right).")

    class Meta:
        model = Assignment
        fields = [
            "id", "campaign", "status", "locked_until", "conversation", "principles",
            "response_a", "response_b",
        ]  # fmt: skip

    def get_response_a(self, a: Assignment) -> str:
        c = a.comparison
        return c.response_2 if a.shown_swapped else c.response_1

    def get_response_b(self, a: Assignment) -> str:
        c = a.comparison
        return c.response_1 if a.shown_swapped else c.response_2


class SubmitSerializer(serializers.Serializer):
    answer = serializers.IntegerField(
        help_text="On the campaign's scale, for the responses as shown (a = first)."
    )
    score_a = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=5)
    score_b = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=5)
    rationale = serializers.CharField(required=False, allow_blank=True, default="")
    seconds_spent = serializers.FloatField(required=False, allow_null=True, min_value=0)


class AssignmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The annotator's queue through the API, with the same rules as the labelling page."""

    serializer_class = AssignmentSerializer

    def get_queryset(self):
        return filter_by_id_param(
            self.request, assignment_list(user=self.request.user), "campaign", "campaign_id"
        )

    @extend_schema(
        request=None,
        parameters=[OpenApiParameter("campaign", int, required=True)],
        responses={200: AssignmentSerializer, 204: None},
    )
    @action(detail=False, methods=["post"])
    def next(self, request):
        """The item you hold, or the next one, locked to you; 204 when none is left."""
        raw = request.query_params.get("campaign") or request.data.get("campaign")
        campaign = annotated_campaigns(user=request.user).filter(pk=str(raw or 0)).first()
        if campaign is None:
            return Response({"detail": "No such campaign."}, status=status.HTTP_404_NOT_FOUND)
        assignment = assignment_next(campaign=campaign, annotator=request.user)
        if assignment is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(self.get_serializer(assignment).data)

    @extend_schema(request=SubmitSerializer, responses={201: LabelSerializer})
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        assignment = self.get_object()
        values = SubmitSerializer(data=request.data)
        values.is_valid(raise_exception=True)
        data = values.validated_data
        label = label_submit(
            assignment=assignment,
            annotator=request.user,
            answer=data["answer"],
            score_1=data.get("score_a"),
            score_2=data.get("score_b"),
            rationale=data.get("rationale", ""),
            seconds_spent=data.get("seconds_spent"),
        )
        return Response(LabelSerializer(label).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=inline_serializer("SkipReason", {"reason": serializers.CharField(required=False)}),
        responses={200: AssignmentSerializer},
    )
    @action(detail=True, methods=["post"])
    def skip(self, request, pk=None):
        assignment = assignment_skip(
            assignment=self.get_object(),
            annotator=request.user,
            reason=str(request.data.get("reason", "")),
        )
        return Response(self.get_serializer(assignment).data)
