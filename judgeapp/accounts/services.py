"""Writes for teams, memberships, users and API tokens."""

import secrets

from django.db import transaction
from rest_framework.authtoken.models import Token

from judgeapp.accounts.models import Membership, Team, User
from judgeapp.accounts.selectors import user_find
from judgeapp.core.errors import ApplicationError, Forbidden


def _check_role(role: str) -> None:
    if role not in Membership.Role.values:
        choices = ", ".join(Membership.Role.values)
        raise ApplicationError(f"Unknown role {role!r}: expected one of {choices}.")


def _require_admin(*, team: Team, by: User) -> None:
    if not Membership.objects.filter(team=team, user=by, role=Membership.Role.ADMIN).exists():
        raise Forbidden("Only an admin of the team can change its members.")


def _keep_an_admin(*, membership: Membership) -> None:
    others = Membership.objects.filter(team=membership.team, role=Membership.Role.ADMIN).exclude(
        pk=membership.pk
    )
    if membership.role == Membership.Role.ADMIN and not others.exists():
        raise ApplicationError("A team needs at least one admin: make someone else admin first.")


def _user_create_for(identifier: str) -> tuple[User, str]:
    """A new account named after ``identifier`` (a username, or an e-mail's local part)."""
    email = identifier if "@" in identifier else ""
    base = (identifier.split("@")[0] if email else identifier)[:140]
    if not base or not User.username_validator.regex.match(base):
        raise ApplicationError(
            f"{identifier!r} cannot be a username: use letters, digits and @/./+/-/_ only."
        )
    username, n = base, 1
    while User.objects.filter(username=username).exists():
        n += 1
        username = f"{base}{n}"
    password = secrets.token_urlsafe(12)
    return User.objects.create_user(username=username, email=email, password=password), password


@transaction.atomic
def membership_add(
    *, team: Team, identifier: str, role: str, by: User, create_user: bool = False
) -> tuple[Membership, str | None]:
    """Add a user to ``team``. With ``create_user``, an unknown identifier gets a new account.

    Returns the membership and the new account's generated password (None for existing users).
    """
    _require_admin(team=team, by=by)
    _check_role(role)
    identifier = identifier.strip()
    user, password = user_find(identifier=identifier), None
    if user is None:
        if not create_user:
            raise ApplicationError(f"No user with the username or e-mail {identifier!r}.")
        user, password = _user_create_for(identifier)
    if Membership.objects.filter(team=team, user=user).exists():
        raise ApplicationError(f"{user.username} is already a member of {team.name}.")
    return Membership.objects.create(team=team, user=user, role=role), password


@transaction.atomic
def membership_set_role(*, membership: Membership, role: str, by: User) -> Membership:
    _require_admin(team=membership.team, by=by)
    _check_role(role)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if role != Membership.Role.ADMIN:
        _keep_an_admin(membership=membership)
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, by: User) -> None:
    _require_admin(team=membership.team, by=by)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    _keep_an_admin(membership=membership)
    membership.delete()


@transaction.atomic
def team_setup(
    *, name: str, admin_username: str, password: str | None = None, email: str = ""
) -> tuple[Team, User, str | None]:
    """Create (or find) a team and make ``admin_username`` its admin. Safe to run again.

    Returns the team, the user and the password when one was set now (generated if not given
    for a new user), else None.
    """
    team, _ = Team.objects.get_or_create(name=name.strip())
    user = User.objects.filter(username=admin_username).first()
    new_password = None
    if user is None:
        new_password = password or secrets.token_urlsafe(12)
        user = User.objects.create_user(username=admin_username, email=email, password=new_password)
    elif password:
        user.set_password(password)
        user.save(update_fields=["password"])
        new_password = password
    Membership.objects.update_or_create(
        team=team, user=user, defaults={"role": Membership.Role.ADMIN}
    )
    return team, user, new_password


def token_for(*, user: User) -> Token:
    token, _ = Token.objects.get_or_create(user=user)
    return token
