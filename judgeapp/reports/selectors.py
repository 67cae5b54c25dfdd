from django.db.models import QuerySet

from judgeapp.accounts.models import Team, User
from judgeapp.accounts.selectors import DATA_ROLES, team_ids
from judgeapp.reports.models import Report


def report_list(*, user: User, team: Team | None = None) -> QuerySet[Report]:
    """Reports of the teams where the user reads data (admins and viewers)."""
    qs = Report.objects.filter(team__in=team_ids(user=user, roles=DATA_ROLES)).select_related(
        "dataset", "campaign"
    )
    return qs.filter(team=team) if team is not None else qs
