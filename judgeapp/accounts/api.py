from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import api_view
from rest_framework.response import Response

from judgeapp.accounts.models import Membership, Team
from judgeapp.accounts.selectors import team_ids, team_list
from judgeapp.accounts.services import membership_add, membership_remove, membership_set_role
from judgeapp.api.filters import filter_by_id_param


class TeamSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()

    class Meta:
        model = Team
        fields = ["id", "name", "role", "created_at"]

    def get_role(self, team: Team) -> str | None:
        roles = self.context.get("roles", {})
        return roles.get(team.pk)


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    email = serializers.CharField(source="user.email", read_only=True)
    identifier = serializers.CharField(write_only=True, help_text="Username or e-mail to add.")

    class Meta:
        model = Membership
        fields = ["id", "team", "username", "email", "role", "identifier", "created_at"]
        read_only_fields = ["id", "username", "email", "created_at"]


class TeamViewSet(viewsets.ReadOnlyModelViewSet):
    """The teams you belong to, with your role in each."""

    serializer_class = TeamSerializer

    def get_queryset(self):
        return team_list(user=self.request.user)

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["roles"] = dict(
            Membership.objects.filter(user=self.request.user).values_list("team_id", "role")
        )
        return context


@extend_schema(parameters=[OpenApiParameter("team", int, description="Only this team's members.")])
class MembershipViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Members of your teams. Adding, changing roles and removing need the admin role."""

    serializer_class = MembershipSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        qs = Membership.objects.filter(team__in=team_ids(user=self.request.user)).select_related(
            "user", "team"
        )
        return filter_by_id_param(self.request, qs, "team", "team_id")

    def perform_create(self, serializer):
        team = serializer.validated_data["team"]
        if not team_list(user=self.request.user).filter(pk=team.pk).exists():
            raise serializers.ValidationError({"team": "No such team."})
        serializer.instance, _ = membership_add(
            team=team,
            identifier=serializer.validated_data["identifier"],
            role=serializer.validated_data.get("role", Membership.Role.VIEWER),
            by=self.request.user,
        )

    def perform_update(self, serializer):
        role = serializer.validated_data.get("role", serializer.instance.role)
        serializer.instance = membership_set_role(
            membership=serializer.instance, role=role, by=self.request.user
        )

    def perform_destroy(self, instance):
        membership_remove(membership=instance, by=self.request.user)


class MeTeamSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    role = serializers.ChoiceField(choices=Membership.Role.choices)


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    email = serializers.CharField()
    teams = MeTeamSerializer(many=True)


@extend_schema(responses=MeSerializer)
@api_view(["GET"])
def me(request):
    """Who the token or session belongs to, and their teams."""
    memberships = Membership.objects.filter(user=request.user).select_related("team")
    return Response(
        {
            "username": request.user.username,
            "email": request.user.email,
            "teams": [{"id": m.team_id, "name": m.team.name, "role": m.role} for m in memberships],
        }
    )
