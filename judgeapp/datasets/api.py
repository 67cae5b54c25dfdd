from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from judgeapp.accounts.models import Team
from judgeapp.api.access import admin_team
from judgeapp.api.filters import filter_by_id_param
from judgeapp.datasets.exports import EXPORT_FORMATS, export_response
from judgeapp.datasets.models import Comparison, Dataset, ImportJob
from judgeapp.datasets.progress import import_progress
from judgeapp.datasets.records import FORMATS
from judgeapp.datasets.selectors import (
    ItemFilters,
    comparison_list,
    comparison_search,
    dataset_list,
    import_job_list,
)
from judgeapp.datasets.services import (
    dataset_create,
    dataset_get_or_create,
    import_job_create,
    import_job_start,
)


class _ExportRenderer(BaseRenderer):
    """Lets ``?format=jsonl|csv`` through DRF's format negotiation; the export view streams its
    own response, so nothing is rendered here (errors are answered as JSON)."""

    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return JSONRenderer().render(data, "application/json", renderer_context)


class JSONLRenderer(_ExportRenderer):
    media_type = "application/x-ndjson"
    format = "jsonl"


class CSVRenderer(_ExportRenderer):
    media_type = "text/csv"
    format = "csv"


class DatasetSerializer(serializers.ModelSerializer):
    team = serializers.PrimaryKeyRelatedField(queryset=Team.objects.all())

    class Meta:
        model = Dataset
        fields = ["id", "team", "name", "description", "metadata_keys", "created_at"]
        read_only_fields = ["metadata_keys", "created_at"]


class ComparisonSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="external_id", read_only=True)
    pk = serializers.IntegerField(read_only=True)

    class Meta:
        model = Comparison
        fields = [
            "pk", "id", "dataset", "conversation", "response_1", "response_2", "principles",
            "metadata", "created_at",
        ]  # fmt: skip


class ImportJobSerializer(serializers.ModelSerializer):
    progress = serializers.SerializerMethodField()

    class Meta:
        model = ImportJob
        exclude = ["file", "created_by"]

    def get_progress(self, job: ImportJob) -> dict:
        return import_progress(job)


class ImportCreateSerializer(serializers.Serializer):
    file = serializers.FileField()
    dataset = serializers.IntegerField(required=False, help_text="Id of an existing dataset.")
    team = serializers.IntegerField(required=False, help_text="With dataset_name: the team.")
    dataset_name = serializers.CharField(
        required=False, help_text="Import into this dataset of `team`, created if missing."
    )
    format = serializers.ChoiceField(choices=["auto", *FORMATS], default="auto")
    skip_invalid = serializers.BooleanField(default=False)


ADMIN_ACTION = "create datasets and import files"


@extend_schema(parameters=[OpenApiParameter("team", int, description="Only this team's datasets.")])
class DatasetViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = DatasetSerializer

    def get_queryset(self):
        return filter_by_id_param(
            self.request, dataset_list(user=self.request.user), "team", "team_id"
        )

    def perform_create(self, serializer):
        team = admin_team(self.request.user, serializer.validated_data["team"].pk, ADMIN_ACTION)
        serializer.instance = dataset_create(
            team=team,
            name=serializer.validated_data["name"],
            description=serializer.validated_data.get("description", ""),
            by=self.request.user,
        )

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=list(EXPORT_FORMATS), default="jsonl")],
        responses={(200, "application/x-ndjson"): OpenApiTypes.BINARY},
    )
    @action(
        detail=True, methods=["get"], renderer_classes=[JSONRenderer, JSONLRenderer, CSVRenderer]
    )
    def export(self, request, pk=None):
        """The dataset with its labels and verdicts, as native JSONL or flat CSV (streamed)."""
        dataset = self.get_object()
        format = request.query_params.get("format", "jsonl")
        if format not in EXPORT_FORMATS:
            raise serializers.ValidationError({"format": "must be jsonl or csv"})
        return export_response(dataset=dataset, format=format)


ITEM_FILTER_PARAMS = [
    OpenApiParameter("dataset", int, description="Only this dataset (needed for the filters)."),
    OpenApiParameter("q", str, description="Full-text search in the conversation and responses."),
    OpenApiParameter("meta", str, many=True, description="key:value metadata filter; repeatable."),
    OpenApiParameter("labels", bool, description="Only items with (true) or without labels."),
    OpenApiParameter("judgments", bool, description="Only items with (true) or without verdicts."),
    OpenApiParameter("disagreement", bool, description="Only items people or judges split on."),
]


@extend_schema(parameters=ITEM_FILTER_PARAMS)
class ComparisonViewSet(viewsets.ReadOnlyModelViewSet):
    """Items. ``pk`` is the row id used in URLs; ``id`` is the record's own id from its file."""

    serializer_class = ComparisonSerializer

    def get_queryset(self):
        user = self.request.user
        raw = self.request.query_params.get("dataset")
        if raw and self.action == "list":
            dataset = filter_by_id_param(self.request, dataset_list(user=user), "dataset", "pk")
            dataset = dataset.first()
            if dataset is None:
                return Comparison.objects.none()
            filters = ItemFilters.from_query(self.request.query_params)
            return comparison_search(user=user, dataset=dataset, filters=filters)
        return comparison_list(user=user)


@extend_schema(parameters=[OpenApiParameter("dataset", int, description="Only this dataset.")])
class ImportJobViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Imports. POST a multipart file to start one; poll the returned job until ``finished_at``
    is set: ``status`` is then done, rejected (nothing written; see ``errors``) or failed."""

    parser_classes = [MultiPartParser, FormParser]

    def get_serializer_class(self):
        return ImportCreateSerializer if self.action == "create" else ImportJobSerializer

    def get_queryset(self):
        return filter_by_id_param(
            self.request, import_job_list(user=self.request.user), "dataset", "dataset_id"
        )

    @extend_schema(request=ImportCreateSerializer, responses={201: ImportJobSerializer})
    def create(self, request, *args, **kwargs):
        data = ImportCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        user = request.user
        if values.get("dataset") is not None:
            dataset = dataset_list(user=user).filter(pk=values["dataset"]).first()
            if dataset is None:
                raise serializers.ValidationError({"dataset": "No such dataset."})
            admin_team(user, dataset.team_id, ADMIN_ACTION)
        elif values.get("team") is not None and values.get("dataset_name"):
            team = admin_team(user, values["team"], ADMIN_ACTION)
            dataset = dataset_get_or_create(team=team, name=values["dataset_name"], by=user)
        else:
            raise serializers.ValidationError(
                {"dataset": "Give `dataset` (an id), or `team` and `dataset_name`."}
            )
        upload = values["file"]
        job = import_job_create(
            dataset=dataset,
            by=user,
            filename=upload.name,
            format=values["format"],
            skip_invalid=values["skip_invalid"],
            upload=upload,
        )
        job = import_job_start(job=job)
        return Response(ImportJobSerializer(job).data, status=status.HTTP_201_CREATED)
