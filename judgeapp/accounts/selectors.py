"""Reads for teams and memberships. Every other app scopes its queries through these."""

from collections.abc import Iterable

from django.db.models import QuerySet

from judgeapp.accounts.models import Membership, Team, User

ALL_ROLES = tuple(Membership.Role.values)
DATA_ROLES = (Membership.Role.ADMIN, Membership.Role.VIEWER)
ADMIN_ROLES = (Membership.Role.ADMIN,)


def team_ids(*, user: User, roles: Iterable[str] = ALL_ROLES) -> QuerySet:
    """The ids of the teams where ``user`` holds one of ``roles``, as a subquery."""
    if not user.is_authenticated:
        return Membership.objects.none().values("team_id")
    return Membership.objects.filter(user=user, role__in=list(roles)).values("team_id")


def team_list(*, user: User) -> QuerySet[Team]:
    return Team.objects.filter(id__in=team_ids(user=user))


def membership_list_for_user(*, user: User) -> list[Membership]:
    if not user.is_authenticated:
        return []
    return list(Membership.objects.filter(user=user).select_related("team").order_by("team__name"))


def membership_list(*, team: Team) -> QuerySet[Membership]:
    return Membership.objects.filter(team=team).select_related("user").order_by("user__username")


def membership_get(*, team: Team, membership_id: int) -> Membership | None:
    return membership_list(team=team).filter(pk=membership_id).first()


def user_find(*, identifier: str) -> User | None:
    """A user by username, or by e-mail address when exactly one account has it."""
    identifier = identifier.strip()
    if not identifier:
        return None
    user = User.objects.filter(username=identifier).first()
    if user is not None:
        return user
    matches = list(User.objects.filter(email__iexact=identifier)[:2])
    return matches[0] if len(matches) == 1 else None


def team_annotators(*, team: Team) -> QuerySet[User]:
    """Members of ``team`` with the annotator role, by username."""
    return User.objects.filter(
        memberships__team=team, memberships__role=Membership.Role.ANNOTATOR
    ).order_by("username")


def team_by_name_or_id(value: str) -> Team | None:
    """The team a command line names, by name or else by numeric id."""
    team = Team.objects.filter(name=value).first()
    if team is None and value.isdigit():
        team = Team.objects.filter(pk=int(value)).first()
    return team
