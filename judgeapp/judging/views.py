from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render

from judgeapp.accounts.permissions import member_required
from judgeapp.accounts.selectors import DATA_ROLES
from judgeapp.judging.selectors import judge_list, judgment_list, run_list


@member_required(DATA_ROLES)
def judge_index(request):
    judges = judge_list(user=request.user, team=request.team)
    return render(request, "judging/judges.html", {"judges": judges})


@member_required()  # the selector answers 404 to roles that may not read it
def judge_detail(request, judge_id: int):
    judge = get_object_or_404(judge_list(user=request.user), pk=judge_id)
    runs = run_list(user=request.user).filter(judge=judge)[:20]
    return render(request, "judging/judge.html", {"judge": judge, "runs": runs})


@member_required(DATA_ROLES)
def run_index(request):
    runs = run_list(user=request.user, team=request.team)
    return render(request, "judging/runs.html", {"runs": runs})


@member_required()  # the selector answers 404 to roles that may not read it
def run_detail(request, run_id: int):
    run = get_object_or_404(run_list(user=request.user), pk=run_id)
    page = Paginator(
        judgment_list(user=request.user, run=run).select_related("comparison"), 50
    ).get_page(request.GET.get("page"))
    return render(request, "judging/run.html", {"run": run, "page": page})


@member_required()  # the selector answers 404 to roles that may not read it
def judgment_detail(request, run_id: int, judgment_id: int):
    run = get_object_or_404(run_list(user=request.user), pk=run_id)
    judgment = get_object_or_404(
        judgment_list(user=request.user, run=run).select_related("comparison"), pk=judgment_id
    )
    return render(request, "judging/judgment.html", {"run": run, "judgment": judgment})
