from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied

from judgeapp.accounts.models import Team
from judgeapp.accounts.selectors import ADMIN_ROLES, team_ids, team_list


def require_admin(user, team_id: int, action: str = "do this") -> None:
    """Writes that only a team admin may make: 403 for the team's other members."""
    if not team_ids(user=user, roles=ADMIN_ROLES).filter(team_id=team_id).exists():
        raise PermissionDenied(f"Only an admin of the team can {action}.")


def admin_team(user, team_id: int, action: str = "do this") -> Team:
    """The team named in a request's body: a field error when the user is not in it, 403 when
    they are but not as an admin."""
    team = team_list(user=user).filter(pk=team_id).first()
    if team is None:
        raise serializers.ValidationError({"team": "No such team."})
    require_admin(user, team.pk, action)
    return team
