from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets

from judgeapp.api.filters import filter_by_id_param
from judgeapp.datasets.models import Comparison, Dataset, ImportJob
from judgeapp.datasets.selectors import comparison_list, dataset_list, import_job_list


class DatasetSerializer(serializers.ModelSerializer):
    class Meta:
        model = Dataset
        fields = ["id", "team", "name", "description", "created_at"]


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
    class Meta:
        model = ImportJob
        exclude = ["file", "created_by"]


class DatasetViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = DatasetSerializer

    def get_queryset(self):
        return filter_by_id_param(
            self.request, dataset_list(user=self.request.user), "team", "team_id"
        )


@extend_schema(parameters=[OpenApiParameter("dataset", int, description="Only this dataset.")])
class ComparisonViewSet(viewsets.ReadOnlyModelViewSet):
    """Items. ``pk`` is the row id used in URLs; ``id`` is the record's own id from its file."""

    serializer_class = ComparisonSerializer

    def get_queryset(self):
        return filter_by_id_param(
            self.request, comparison_list(user=self.request.user), "dataset", "dataset_id"
        )


@extend_schema(parameters=[OpenApiParameter("dataset", int, description="Only this dataset.")])
class ImportJobViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ImportJobSerializer

    def get_queryset(self):
        return filter_by_id_param(
            self.request, import_job_list(user=self.request.user), "dataset", "dataset_id"
        )
