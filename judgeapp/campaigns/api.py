from dataclasses import asdict

from django.core.paginator import Paginator
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from judgeapp.accounts.models import User
from judgeapp.accounts.selectors import DATA_ROLES, team_annotators, team_ids
from judgeapp.api.access import require_admin
from judgeapp.api.filters import filter_by_id_param
from judgeapp.campaigns.models import Assignment, Campaign, Label
from judgeapp.campaigns.selectors import (
    annotated_campaigns,
    assignment_list,
    campaign_list,
    campaign_progress,
    guideline_versions,
    label_history,
    label_list,
    review_items,
)
from judgeapp.campaigns.services import (
    assignment_next,
    assignment_skip,
    campaign_add_overlap,
    campaign_create,
    campaign_set_status,
    campaign_update,
    gold_set,
    label_adjudicate,
    label_submit,
    label_update,
)
from judgeapp.core.errors import ApplicationError
from judgeapp.datasets.selectors import ItemFilters, dataset_list
from judgeapp.judging.selectors import judge_list

SETTINGS = [
    "name", "guidelines", "scale", "ask_scores", "rationale", "overlap", "assignment", "seed",
    "randomise_order", "show_model_verdicts", "gold_rate", "lock_minutes", "min_seconds",
    "deadline",
]  # fmt: skip


class CampaignSerializer(serializers.ModelSerializer):
    annotators = serializers.SlugRelatedField(slug_field="username", many=True, read_only=True)

    class Meta:
        model = Campaign
        fields = [
            "id", "team", "dataset", "filters", "status", *SETTINGS, "annotators", "created_at",
        ]  # fmt: skip


class CampaignWriteSerializer(serializers.ModelSerializer):
    """Set-up (POST) and settings (PATCH). ``annotators``: usernames of team annotators."""

    dataset = serializers.IntegerField(help_text="Dataset id (on creation only).")
    filters = serializers.DictField(
        required=False,
        help_text="Only the items matching these filters, as on the items list: q, meta "
        "([key:value]), labels, judgments, disagreement (on creation only).",
    )
    annotators = serializers.ListField(child=serializers.CharField(), required=False)

    class Meta:
        model = Campaign
        fields = ["dataset", "filters", *SETTINGS, "annotators"]


def _annotators(campaign_team, names: list[str] | None) -> list[User] | None:
    if names is None:
        return None
    users = {u.username: u for u in team_annotators(team=campaign_team).filter(username__in=names)}
    missing = sorted(set(names) - set(users))
    if missing:
        raise serializers.ValidationError(
            {"annotators": f"Not annotators of the team: {', '.join(missing)}."}
        )
    return list(users.values())


class LabelSerializer(serializers.ModelSerializer):
    annotator = serializers.CharField(source="annotator_display", read_only=True)

    class Meta:
        model = Label
        fields = [
            "id", "comparison", "campaign", "kind", "annotator", "preference", "score_1",
            "score_2", "rationale", "seconds_spent", "shown_swapped", "created_at", "updated_at",
        ]  # fmt: skip


class LabelChangeSerializer(serializers.Serializer):
    answer = serializers.IntegerField(
        help_text="On the campaign's scale, for the responses as you were shown them."
    )
    score_a = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=5)
    score_b = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=5)
    rationale = serializers.CharField(required=False, allow_blank=True)


class HistorySerializer(serializers.Serializer):
    changed_at = serializers.DateTimeField()
    changed_by = serializers.CharField(source="changed_by.username", default=None)
    before = serializers.JSONField()
    after = serializers.JSONField()


class ReviewItemSerializer(serializers.Serializer):
    comparison = serializers.IntegerField(source="comparison_id")
    labels = serializers.IntegerField()
    low = serializers.IntegerField(
        help_text="Lowest side chosen: -1 response 1, 0 tie, 1 response 2."
    )
    high = serializers.IntegerField(help_text="Highest side chosen.")
    judge_mean = serializers.FloatField(required=False, allow_null=True)
    decided = serializers.BooleanField(help_text="An adjudicated label exists.")


class AdjudicateSerializer(serializers.Serializer):
    comparison = serializers.IntegerField(help_text="Item (comparison) id.")
    answer = serializers.IntegerField(help_text="On the campaign's scale, response 1 first.")
    rationale = serializers.CharField(required=False, allow_blank=True, default="")


class GoldSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The item's id in the dataset.")
    expected_preference = serializers.IntegerField(min_value=-3, max_value=3)


@extend_schema(parameters=[OpenApiParameter("team", int, description="Only this team's.")])
class CampaignViewSet(
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Campaigns: admins set them up and run them; annotators see those they label in."""

    serializer_class = CampaignSerializer
    http_method_names = ["get", "post", "patch", "put", "head", "options"]

    def get_queryset(self):
        qs = campaign_list(user=self.request.user).prefetch_related("annotators")
        return filter_by_id_param(self.request, qs, "team", "team_id")

    def _admin_object(self) -> Campaign:
        campaign = self.get_object()
        require_admin(self.request.user, campaign.team_id)
        return campaign

    @extend_schema(request=CampaignWriteSerializer, responses={201: CampaignSerializer})
    def create(self, request, *args, **kwargs):
        values = CampaignWriteSerializer(data=request.data)
        values.is_valid(raise_exception=True)
        data = dict(values.validated_data)
        dataset = dataset_list(user=request.user).filter(pk=data.pop("dataset")).first()
        if dataset is None:
            raise serializers.ValidationError({"dataset": "No such dataset."})
        require_admin(request.user, dataset.team_id)
        annotators = _annotators(dataset.team, data.pop("annotators", []))
        filters = ItemFilters.from_dict(data.pop("filters", None) or {})
        campaign = campaign_create(
            team=dataset.team,
            dataset=dataset,
            by=request.user,
            annotators=annotators,
            filters=filters,
            **data,
        )
        return Response(self.get_serializer(campaign).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CampaignWriteSerializer, responses={200: CampaignSerializer})
    def update(self, request, *args, **kwargs):
        campaign = self._admin_object()
        values = CampaignWriteSerializer(data=request.data, partial=True)
        values.is_valid(raise_exception=True)
        data = dict(values.validated_data)
        for fixed in ("dataset", "filters"):
            if fixed in data:
                raise serializers.ValidationError({fixed: "Fixed once the campaign exists."})
        annotators = _annotators(campaign.team, data.pop("annotators", None))
        campaign = campaign_update(
            campaign=campaign, by=request.user, annotators=annotators, **data
        )
        return Response(self.get_serializer(campaign).data)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        """No more items handed out or labels taken; items in progress are released."""
        campaign = campaign_set_status(
            campaign=self._admin_object(), by=request.user, status=Campaign.Status.CLOSED
        )
        return Response(self.get_serializer(campaign).data)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        campaign = campaign_set_status(
            campaign=self._admin_object(), by=request.user, status=Campaign.Status.OPEN
        )
        return Response(self.get_serializer(campaign).data)

    @extend_schema(
        responses=inline_serializer(
            "CampaignProgress",
            {
                "items": serializers.IntegerField(),
                "complete": serializers.IntegerField(),
                "labels_wanted": serializers.IntegerField(),
                "labels_given": serializers.IntegerField(),
                "locked": serializers.IntegerField(),
                "gold_items": serializers.IntegerField(),
                "adjudicated": serializers.IntegerField(),
                "annotators": serializers.ListField(child=serializers.DictField()),
            },
        )
    )
    @action(detail=True, methods=["get"])
    def progress(self, request, pk=None):
        """The dashboard's figures: overall and per annotator (admins and viewers)."""
        campaign = self.get_object()
        if not team_ids(user=request.user, roles=DATA_ROLES).filter(team_id=campaign.team_id):
            return Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
        progress = campaign_progress(campaign=campaign)
        body = asdict(progress)
        for row, stats in zip(body["annotators"], progress.annotators, strict=True):
            row.update(
                gold_accuracy=stats.gold_accuracy,
                too_fast_share=stats.too_fast_share,
                first_position_rate=stats.first_position_rate,
                tie_rate=stats.tie_rate,
            )
        return Response(body)

    @extend_schema(
        methods=["get"],
        responses=GoldSerializer(many=True),
    )
    @extend_schema(
        methods=["put"],
        request=GoldSerializer(many=True),
        responses=GoldSerializer(many=True),
    )
    @action(detail=True, methods=["get", "put"])
    def gold(self, request, pk=None):
        """Gold items with their expected preference (-3..3, item order). PUT replaces them."""
        campaign = self._admin_object()
        if request.method == "PUT":
            values = GoldSerializer(data=request.data, many=True)
            values.is_valid(raise_exception=True)
            entries = [
                (n, row["id"], row["expected_preference"])
                for n, row in enumerate(values.validated_data, 1)
            ]
            ids = [item for _, item, _ in entries]
            dupes = sorted({item for item in ids if ids.count(item) > 1})
            if dupes:
                raise ApplicationError(f"Listed twice: {', '.join(dupes)}.")
            gold_set(campaign=campaign, by=request.user, entries=entries, unit="entry")
        rows = campaign.gold_items.select_related("comparison").order_by("id")
        return Response(
            [
                {"id": g.comparison.external_id, "expected_preference": g.expected_preference}
                for g in rows
            ]
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("judge", int, description="Also where this judge differs."),
            OpenApiParameter("all", bool, description="Include adjudicated items."),
            OpenApiParameter("page", int),
        ],
        responses=ReviewItemSerializer(many=True),
    )
    @action(detail=True, methods=["get"])
    def review(self, request, pk=None):
        """The review queue: items the annotators (or annotators and a judge) disagree on."""
        campaign = self._admin_object()
        judge = self._judge(request.query_params.get("judge"), campaign)
        pending_only = request.query_params.get("all") not in ("1", "true")
        rows = review_items(campaign=campaign, judge=judge, pending_only=pending_only)
        page = Paginator(rows, 100).get_page(request.query_params.get("page"))
        return Response(
            {
                "count": page.paginator.count,
                "page": page.number,
                "pages": page.paginator.num_pages,
                "results": ReviewItemSerializer(page.object_list, many=True).data,
            }
        )

    def _judge(self, raw, campaign):
        if raw in (None, ""):
            return None
        judge = judge_list(user=self.request.user, team=campaign.team).filter(pk=str(raw)).first()
        if judge is None:
            raise serializers.ValidationError({"judge": "No such judge in the campaign's team."})
        return judge

    @extend_schema(
        request=inline_serializer(
            "AddOverlap",
            {
                "extra": serializers.IntegerField(default=1, min_value=1, max_value=10),
                "judge": serializers.IntegerField(required=False),
            },
        ),
        responses=inline_serializer("AddedOverlap", {"items": serializers.IntegerField()}),
    )
    @action(detail=True, methods=["post"], url_path="add-overlap")
    def add_overlap(self, request, pk=None):
        """More labels for the disagreed, not yet adjudicated items only."""
        campaign = self._admin_object()
        try:
            extra = int(request.data.get("extra", 1))
        except (TypeError, ValueError):
            raise serializers.ValidationError({"extra": "A whole number 1..10."}) from None
        judge = self._judge(request.data.get("judge"), campaign)
        count = campaign_add_overlap(campaign=campaign, by=request.user, extra=extra, judge=judge)
        return Response({"items": count})

    @extend_schema(request=AdjudicateSerializer, responses={200: LabelSerializer})
    @action(detail=True, methods=["post"])
    def adjudicate(self, request, pk=None):
        """Set the reviewer's label on an item (kept apart; the gold label in reports)."""
        campaign = self._admin_object()
        values = AdjudicateSerializer(data=request.data)
        values.is_valid(raise_exception=True)
        data = values.validated_data
        label = label_adjudicate(
            campaign=campaign,
            comparison_id=data["comparison"],
            by=request.user,
            answer=data["answer"],
            rationale=data["rationale"],
        )
        return Response(LabelSerializer(label).data)

    @extend_schema(
        responses=inline_serializer(
            "GuidelineVersion",
            {
                "version": serializers.IntegerField(),
                "text": serializers.CharField(),
                "created_at": serializers.DateTimeField(),
            },
            many=True,
        )
    )
    @action(detail=True, methods=["get"])
    def guidelines(self, request, pk=None):
        """Every saved version of the guidelines, newest first."""
        campaign = self.get_object()
        return Response(
            [
                {"version": v.version, "text": v.text, "created_at": v.created_at}
                for v in guideline_versions(campaign=campaign)
            ]
        )


@extend_schema(parameters=[OpenApiParameter("campaign", int, description="Only this campaign.")])
class LabelViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Labels: admins and viewers read their teams'; annotators only their own. An annotator
    changes their own label with PATCH (answer as shown to them); each change is kept."""

    serializer_class = LabelSerializer
    http_method_names = ["get", "patch", "head", "options"]

    def get_queryset(self):
        qs = label_list(user=self.request.user).select_related("annotator", "campaign")
        return filter_by_id_param(self.request, qs, "campaign", "campaign_id")

    @extend_schema(request=LabelChangeSerializer, responses={200: LabelSerializer})
    def partial_update(self, request, *args, **kwargs):
        label = self.get_object()
        values = LabelChangeSerializer(data=request.data)
        values.is_valid(raise_exception=True)
        data = values.validated_data
        label = label_update(
            label=label,
            by=request.user,
            answer=data["answer"],
            score_1=data.get("score_a"),
            score_2=data.get("score_b"),
            rationale=data.get("rationale"),
        )
        return Response(self.get_serializer(label).data)

    @extend_schema(responses=HistorySerializer(many=True))
    @action(detail=True, methods=["get"])
    def history(self, request, pk=None):
        """Every change of the label: who, when, the values before and after (item order)."""
        label = self.get_object()
        return Response(HistorySerializer(label_history(label=label), many=True).data)


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
