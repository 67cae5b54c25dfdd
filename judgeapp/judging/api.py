from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from judgeapp.accounts.models import Team
from judgeapp.api.access import admin_team, require_admin
from judgeapp.api.filters import filter_by_id_param
from judgeapp.datasets.selectors import ItemFilters, dataset_list
from judgeapp.judging.models import Judge, JudgeRun, Judgment, PrincipleSet
from judgeapp.judging.selectors import (
    judge_list,
    judgment_list,
    principle_set_list,
    run_list,
    run_progress,
)
from judgeapp.judging.services import (
    JUDGE_FIELDS,
    judge_create,
    judge_delete,
    judge_test_connection,
    judge_update,
    playground_judge,
    playground_save,
    principle_set_save,
    run_cancel,
    run_retry,
    run_start,
)


def _team_scoped(viewset, qs):
    return filter_by_id_param(viewset.request, qs, "team", "team_id")


class JudgmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Judgment
        exclude = ["lease_owner"]


# Judges ----------------------------------------------------------------------------------------


class JudgeSerializer(serializers.ModelSerializer):
    team = serializers.PrimaryKeyRelatedField(queryset=Team.objects.all())
    # Checked by the service: hosts such as http://vllm:8000/v1 (a compose service) are fine.
    base_url = serializers.CharField(max_length=500)
    api_key = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        trim_whitespace=True,
        help_text="Write-only: stored encrypted, never returned. Omit to keep the stored key.",
    )
    clear_api_key = serializers.BooleanField(write_only=True, required=False, default=False)
    has_api_key = serializers.SerializerMethodField()

    class Meta:
        model = Judge
        # api_key_encrypted is never part of a reply.
        fields = [
            "id", "team", "name", "protocol", "base_url", "model", "api_key", "clear_api_key",
            "api_key_env", "has_api_key", "temperature", "top_p", "max_tokens", "max_in_flight",
            "timeout_seconds", "principle_position", "principles_one_message_each",
            "structured_output", "created_at",
        ]  # fmt: skip
        read_only_fields = ["created_at"]

    def get_has_api_key(self, judge: Judge) -> bool:
        return bool(judge.api_key_encrypted or judge.api_key_env)


@extend_schema(parameters=[OpenApiParameter("team", int, description="Only this team's judges.")])
class JudgeViewSet(viewsets.ModelViewSet):
    """Judges: any member with data access reads them; team admins create, change and delete."""

    serializer_class = JudgeSerializer

    def get_queryset(self):
        return _team_scoped(self, judge_list(user=self.request.user))

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        team = admin_team(self.request.user, data.pop("team").pk)
        data.pop("clear_api_key", None)
        fields = {k: v for k, v in data.items() if k in JUDGE_FIELDS}
        serializer.instance = judge_create(
            team=team, by=self.request.user, api_key=data.get("api_key", ""), **fields
        )

    def perform_update(self, serializer):
        judge = serializer.instance
        require_admin(self.request.user, judge.team_id)
        data = dict(serializer.validated_data)
        if "team" in data and data.pop("team").pk != judge.team_id:
            raise serializers.ValidationError({"team": "A judge cannot move to another team."})
        fields = {k: v for k, v in data.items() if k in JUDGE_FIELDS}
        serializer.instance = judge_update(
            judge=judge,
            by=self.request.user,
            api_key=data.get("api_key") or None,
            clear_api_key=data.get("clear_api_key", False),
            **fields,
        )

    def perform_destroy(self, instance):
        require_admin(self.request.user, instance.team_id)
        judge_delete(judge=instance)

    @extend_schema(request=None, responses={202: JudgmentSerializer})
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        """Send the judge one tiny comparison; poll the returned judgment for what came back."""
        judge = self.get_object()
        require_admin(request.user, judge.team_id)
        judgment = judge_test_connection(judge=judge, by=request.user)
        return Response(JudgmentSerializer(judgment).data, status=status.HTTP_202_ACCEPTED)


# Principle sets --------------------------------------------------------------------------------


class PrincipleSetSerializer(serializers.ModelSerializer):
    team = serializers.PrimaryKeyRelatedField(queryset=Team.objects.all())
    principles = serializers.ListField(child=serializers.CharField(), allow_empty=False)

    class Meta:
        model = PrincipleSet
        fields = ["id", "team", "name", "version", "principles", "created_at"]
        read_only_fields = ["version", "created_at"]
        validators = []  # a name already taken gets a new version, not an error


@extend_schema(
    parameters=[
        OpenApiParameter("team", int, description="Only this team's sets."),
        OpenApiParameter("name", str, description="Only the versions of this set."),
    ]
)
class PrincipleSetViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Named, versioned principle sets. Posting an existing name with other principles adds a
    version; the old versions stay, as runs recorded them."""

    serializer_class = PrincipleSetSerializer

    def get_queryset(self):
        qs = _team_scoped(self, principle_set_list(user=self.request.user))
        name = self.request.query_params.get("name")
        return qs.filter(name=name) if name else qs

    def perform_create(self, serializer):
        data = serializer.validated_data
        team = admin_team(self.request.user, data["team"].pk)
        serializer.instance = principle_set_save(
            team=team, name=data["name"], principles=data["principles"], by=self.request.user
        )


# Runs ------------------------------------------------------------------------------------------


class RunSerializer(serializers.ModelSerializer):
    judge_name = serializers.CharField(source="judge.name", read_only=True)
    dataset_name = serializers.CharField(source="dataset.name", read_only=True)
    progress = serializers.SerializerMethodField()

    class Meta:
        model = JudgeRun
        exclude = ["created_by"]

    def get_progress(self, run: JudgeRun) -> dict | None:
        if not self.context.get("with_progress"):
            return None
        return run_progress(run=run).as_dict()


class RunCreateSerializer(serializers.Serializer):
    dataset = serializers.IntegerField(help_text="Dataset id.")
    judge = serializers.IntegerField(help_text="Judge id (of the dataset's team).")
    filters = serializers.DictField(
        required=False,
        help_text="Item filters as on the items list: q, meta ([key:value]), labels, judgments, "
        "disagreement.",
    )
    principle_set = serializers.IntegerField(required=False, help_text="Principle set id.")
    principles = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Principles typed in full."
    )
    both_orders = serializers.BooleanField(default=False)
    samples = serializers.IntegerField(default=1, min_value=1)


@extend_schema(
    parameters=[
        OpenApiParameter("team", int, description="Only this team's runs."),
        OpenApiParameter("dataset", int, description="Only runs over this dataset."),
    ]
)
class RunViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Runs of a judge over a dataset. ``progress`` is filled on the detail endpoint."""

    serializer_class = RunSerializer

    def get_queryset(self):
        qs = _team_scoped(self, run_list(user=self.request.user))
        return filter_by_id_param(self.request, qs, "dataset", "dataset_id")

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "with_progress": self.action != "list"}

    @extend_schema(request=RunCreateSerializer, responses={201: RunSerializer})
    def create(self, request, *args, **kwargs):
        values = RunCreateSerializer(data=request.data)
        values.is_valid(raise_exception=True)
        data = values.validated_data
        user = request.user
        dataset = dataset_list(user=user).filter(pk=data["dataset"]).first()
        if dataset is None:
            raise serializers.ValidationError({"dataset": "No such dataset."})
        require_admin(user, dataset.team_id)
        judge = judge_list(user=user, team=dataset.team).filter(pk=data["judge"]).first()
        if judge is None:
            raise serializers.ValidationError({"judge": "No such judge in the dataset's team."})
        principle_set = None
        if data.get("principle_set") is not None:
            principle_set = (
                principle_set_list(user=user, team=dataset.team)
                .filter(pk=data["principle_set"])
                .first()
            )
            if principle_set is None:
                raise serializers.ValidationError({"principle_set": "No such principle set."})
        run = run_start(
            team=dataset.team,
            dataset=dataset,
            judge=judge,
            by=user,
            filters=ItemFilters.from_dict(data.get("filters") or {}),
            principle_set=principle_set,
            principles=data.get("principles"),
            both_orders=data["both_orders"],
            samples=data["samples"],
        )
        body = self.get_serializer(run).data
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        run = self.get_object()
        require_admin(request.user, run.team_id)
        return Response(self.get_serializer(run_cancel(run=run, by=request.user)).data)

    @extend_schema(
        request=inline_serializer("RunRetry", {"unparsed": serializers.BooleanField(default=False)})
    )
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        """Queue the failed judgments again (and, with ``unparsed``, those without a verdict)."""
        run = self.get_object()
        require_admin(request.user, run.team_id)
        unparsed = str(request.data.get("unparsed", "")).lower() in ("1", "true", "yes")
        run_retry(run=run, by=request.user, unparsed=unparsed)
        run.refresh_from_db()
        return Response(self.get_serializer(run).data)


# Judgments and the playground ------------------------------------------------------------------


@extend_schema(parameters=[OpenApiParameter("run", int, description="Only this run.")])
class JudgmentViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = JudgmentSerializer

    def get_queryset(self):
        return filter_by_id_param(
            self.request, judgment_list(user=self.request.user), "run", "run_id"
        )


class TurnSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=["system", "user", "assistant"])
    content = serializers.CharField(trim_whitespace=False)


class PlaygroundSerializer(serializers.Serializer):
    judge = serializers.IntegerField()
    conversation = TurnSerializer(many=True)
    response_1 = serializers.CharField(trim_whitespace=False)
    response_2 = serializers.CharField(trim_whitespace=False)
    principles = serializers.ListField(child=serializers.CharField(), required=False)
    swapped = serializers.BooleanField(default=False, help_text="Show response_2 first.")


class PlaygroundSaveSerializer(serializers.Serializer):
    dataset = serializers.IntegerField()
    external_id = serializers.CharField(required=False, allow_blank=True)


class PlaygroundViewSet(viewsets.GenericViewSet):
    """Judge one typed-in comparison ahead of running judges; poll the judgment it returns."""

    serializer_class = PlaygroundSerializer

    def get_queryset(self):
        return judgment_list(user=self.request.user).filter(run__dataset__is_playground=True)

    @extend_schema(request=PlaygroundSerializer, responses={202: JudgmentSerializer})
    def create(self, request):
        values = PlaygroundSerializer(data=request.data)
        values.is_valid(raise_exception=True)
        data = values.validated_data
        judge = judge_list(user=request.user).filter(pk=data["judge"]).first()
        if judge is None:
            raise serializers.ValidationError({"judge": "No such judge."})
        require_admin(request.user, judge.team_id)
        judgment = playground_judge(
            team=judge.team,
            judge=judge,
            by=request.user,
            conversation=[dict(turn) for turn in data["conversation"]],
            response_1=data["response_1"],
            response_2=data["response_2"],
            principles=data.get("principles") or [],
            swapped=data["swapped"],
        )
        return Response(JudgmentSerializer(judgment).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=PlaygroundSaveSerializer, responses={201: None})
    @action(detail=True, methods=["post"])
    def save(self, request, pk=None):
        """Copy the playground item into one of the team's datasets."""
        judgment = self.get_object()
        require_admin(request.user, judgment.run.team_id)
        values = PlaygroundSaveSerializer(data=request.data)
        values.is_valid(raise_exception=True)
        dataset = (
            dataset_list(user=request.user)
            .filter(pk=values.validated_data["dataset"], team_id=judgment.run.team_id)
            .first()
        )
        if dataset is None:
            raise serializers.ValidationError({"dataset": "No such dataset in the team."})
        comparison = playground_save(
            judgment=judgment,
            dataset=dataset,
            by=request.user,
            external_id=values.validated_data.get("external_id", ""),
        )
        return Response(
            {"dataset": dataset.pk, "comparison": comparison.pk, "id": comparison.external_id},
            status=status.HTTP_201_CREATED,
        )
