"""Reads for judges, principle sets, runs and judgments, scoped by the user's teams and roles.

Annotators see no model output here; the campaign pages decide what an annotator may see.
"""

from django.db.models import QuerySet

from judgeapp.accounts.models import Team, User
from judgeapp.accounts.selectors import DATA_ROLES, team_ids
from judgeapp.judging.models import Judge, JudgeRun, Judgment, PrincipleSet


def judge_list(*, user: User, team: Team | None = None) -> QuerySet[Judge]:
    qs = Judge.objects.filter(team__in=team_ids(user=user, roles=DATA_ROLES))
    return qs.filter(team=team) if team is not None else qs


def principle_set_list(*, user: User, team: Team | None = None) -> QuerySet[PrincipleSet]:
    qs = PrincipleSet.objects.filter(team__in=team_ids(user=user, roles=DATA_ROLES))
    return qs.filter(team=team) if team is not None else qs


def run_list(*, user: User, team: Team | None = None) -> QuerySet[JudgeRun]:
    qs = JudgeRun.objects.filter(team__in=team_ids(user=user, roles=DATA_ROLES)).select_related(
        "judge", "dataset"
    )
    return qs.filter(team=team) if team is not None else qs


def judgment_list(*, user: User, run: JudgeRun | None = None) -> QuerySet[Judgment]:
    qs = Judgment.objects.filter(run__team__in=team_ids(user=user, roles=DATA_ROLES))
    return qs.filter(run=run) if run is not None else qs
