from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets

from judgeapp.api.filters import filter_by_id_param
from judgeapp.judging.models import Judge, JudgeRun, Judgment, PrincipleSet
from judgeapp.judging.selectors import judge_list, judgment_list, principle_set_list, run_list


class JudgeSerializer(serializers.ModelSerializer):
    has_api_key = serializers.SerializerMethodField()

    class Meta:
        model = Judge
        # api_key_encrypted is never part of a reply.
        fields = [
            "id", "team", "name", "protocol", "base_url", "model", "api_key_env", "has_api_key",
            "temperature", "top_p", "max_tokens", "max_in_flight", "timeout_seconds",
            "principle_position", "principles_one_message_each", "created_at",
        ]  # fmt: skip

    def get_has_api_key(self, judge: Judge) -> bool:
        return bool(judge.api_key_encrypted or judge.api_key_env)


class PrincipleSetSerializer(serializers.ModelSerializer):
    class Meta:
        model = PrincipleSet
        fields = ["id", "team", "name", "version", "principles", "created_at"]


class RunSerializer(serializers.ModelSerializer):
    class Meta:
        model = JudgeRun
        exclude = ["created_by"]


class JudgmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Judgment
        fields = "__all__"


def _team_scoped(viewset, qs):
    return filter_by_id_param(viewset.request, qs, "team", "team_id")


class JudgeViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = JudgeSerializer

    def get_queryset(self):
        return _team_scoped(self, judge_list(user=self.request.user))


class PrincipleSetViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = PrincipleSetSerializer

    def get_queryset(self):
        return _team_scoped(self, principle_set_list(user=self.request.user))


class RunViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = RunSerializer

    def get_queryset(self):
        return _team_scoped(self, run_list(user=self.request.user))


@extend_schema(parameters=[OpenApiParameter("run", int, description="Only this run.")])
class JudgmentViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = JudgmentSerializer

    def get_queryset(self):
        return filter_by_id_param(
            self.request, judgment_list(user=self.request.user), "run", "run_id"
        )
