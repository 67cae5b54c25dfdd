from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from judgeapp.api.filters import filter_by_id_param
from judgeapp.campaigns.selectors import campaign_list
from judgeapp.datasets.api import CSVRenderer
from judgeapp.datasets.selectors import dataset_list
from judgeapp.judging.selectors import judge_list
from judgeapp.reports import exports, metrics
from judgeapp.reports.data import HUMANS
from judgeapp.reports.models import Report
from judgeapp.reports.selectors import report_list
from judgeapp.reports.services import report_config, report_request


class HTMLRenderer(CSVRenderer):
    media_type = "text/html"
    format = "html"


class ReportSerializer(serializers.ModelSerializer):
    class Meta:
        model = Report
        fields = [
            "id", "team", "dataset", "campaign", "config", "fingerprint", "status", "stage",
            "progress", "error", "created_at", "finished_at",
        ]  # fmt: skip


class ReportDetailSerializer(ReportSerializer):
    class Meta(ReportSerializer.Meta):
        fields = [*ReportSerializer.Meta.fields, "result"]


class ReportRequestSerializer(serializers.Serializer):
    dataset = serializers.IntegerField(required=False, help_text="Dataset id (or a campaign).")
    campaign = serializers.IntegerField(required=False, help_text="Campaign id: its items only.")
    judges = serializers.ListField(
        child=serializers.IntegerField(), required=False,
        help_text="Judge ids; none: every judge with verdicts on the items.",
    )  # fmt: skip
    humans = serializers.ChoiceField(choices=HUMANS, default="all")
    tie_policy = serializers.ChoiceField(choices=metrics.TIE_POLICIES, default="strict")
    breakdown = serializers.ListField(child=serializers.CharField(), required=False)
    resamples = serializers.IntegerField(default=1000, min_value=0, max_value=10_000)
    seed = serializers.IntegerField(default=0, min_value=0)


@extend_schema(parameters=[OpenApiParameter("team", int, description="Only this team's.")])
class ReportViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Agreement reports. POST asks for one: 201 with the stored report when nothing it reads has
    changed (or it was small enough to compute at once), 202 while a worker computes it (poll
    the report until ``status`` is ``done``). The figures are under ``result``."""

    serializer_class = ReportSerializer

    def get_queryset(self):
        return filter_by_id_param(
            self.request, report_list(user=self.request.user), "team", "team_id"
        )

    def get_serializer_class(self):
        return ReportDetailSerializer if self.action == "retrieve" else ReportSerializer

    @extend_schema(
        request=ReportRequestSerializer,
        responses={201: ReportDetailSerializer, 202: ReportSerializer},
    )
    def create(self, request, *args, **kwargs):
        values = ReportRequestSerializer(data=request.data)
        values.is_valid(raise_exception=True)
        data = values.validated_data
        user = request.user
        campaign = None
        if data.get("campaign") is not None:
            campaign = campaign_list(user=user).filter(pk=data["campaign"]).first()
            if campaign is None:
                raise serializers.ValidationError({"campaign": "No such campaign."})
            dataset = campaign.dataset
        elif data.get("dataset") is not None:
            dataset = dataset_list(user=user).filter(pk=data["dataset"]).first()
            if dataset is None:
                raise serializers.ValidationError({"dataset": "No such dataset."})
        else:
            raise serializers.ValidationError({"dataset": "Give a dataset or a campaign."})
        if not dataset_list(user=user).filter(pk=dataset.pk).exists():
            raise NotFound("No such dataset.")
        judges = None
        if data.get("judges"):
            judges = list(judge_list(user=user, team=dataset.team).filter(pk__in=data["judges"]))
            missing = set(data["judges"]) - {j.pk for j in judges}
            if missing:
                raise serializers.ValidationError({"judges": f"No such judges: {sorted(missing)}."})
        config = report_config(
            dataset=dataset,
            judges=judges,
            humans=data["humans"],
            tie_policy=data["tie_policy"],
            seed=data["seed"],
            resamples=data["resamples"],
            breakdown=data.get("breakdown"),
        )
        report = report_request(
            team=dataset.team, dataset=dataset, campaign=campaign, by=user, config=config
        )
        if report.status == Report.Status.DONE:
            return Response(ReportDetailSerializer(report).data, status=status.HTTP_201_CREATED)
        return Response(ReportSerializer(report).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=list(exports.FORMATS), default="json")],
        responses={(200, "application/json"): OpenApiTypes.BINARY},
    )
    @action(
        detail=True, methods=["get"], renderer_classes=[JSONRenderer, CSVRenderer, HTMLRenderer]
    )
    def export(self, request, pk=None):
        """The report as a JSON document, one CSV table, or a self-contained HTML file."""
        report = self.get_object()
        format = request.query_params.get("format", "json")
        if format not in exports.FORMATS:
            raise serializers.ValidationError({"format": "must be json, csv or html"})
        if report.status != Report.Status.DONE:
            raise serializers.ValidationError({"detail": f"The report is {report.status}."})
        response = HttpResponse(
            exports.render(report, format), content_type=exports.CONTENT_TYPES[format]
        )
        response["Content-Disposition"] = (
            f'attachment; filename="{exports.filename(report, format)}"'
        )
        return response
