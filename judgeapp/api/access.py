from rest_framework.exceptions import PermissionDenied

from judgeapp.accounts.selectors import ADMIN_ROLES, team_ids


def require_admin(user, team_id: int) -> None:
    """Writes that only a team admin may make: 403 for the team's other members."""
    if not team_ids(user=user, roles=ADMIN_ROLES).filter(team_id=team_id).exists():
        raise PermissionDenied("Only an admin of the team can do this.")
