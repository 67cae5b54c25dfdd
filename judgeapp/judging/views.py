from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from judgeapp.accounts.permissions import member_required
from judgeapp.accounts.selectors import ADMIN_ROLES, DATA_ROLES
from judgeapp.core.errors import ApplicationError
from judgeapp.datasets.selectors import ItemFilters, dataset_list
from judgeapp.judging.forms import JudgeForm, PlaygroundForm, PrincipleSetForm, RunForm
from judgeapp.judging.models import Judgment
from judgeapp.judging.selectors import (
    judge_admin_list,
    judge_list,
    judgment_list,
    principle_set_latest,
    principle_set_list,
    run_list,
    run_progress,
    runnable_judges,
)
from judgeapp.judging.services import (
    judge_create,
    judge_test_connection,
    judge_update,
    playground_judge,
    playground_save,
    principle_set_save,
    principles_from_text,
    run_cancel,
    run_retry,
    run_start,
)

# Judges ----------------------------------------------------------------------------------------


@member_required(DATA_ROLES)
def judge_index(request):
    judges = judge_list(user=request.user, team=request.team)
    return render(request, "judging/judges.html", {"judges": judges})


@member_required(ADMIN_ROLES)
def judge_new(request):
    return _judge_form(request, judge=None)


@member_required(ADMIN_ROLES)
def judge_edit(request, judge_id: int):
    judge = get_object_or_404(judge_admin_list(user=request.user, team=request.team), pk=judge_id)
    if judge.protocol == judge.Protocol.IMPORTED:
        raise Http404("Judges of imported verdicts have no settings.")
    return _judge_form(request, judge=judge)


def _judge_form(request, *, judge):
    form = JudgeForm(request.POST or None, instance=judge)
    if request.method == "POST" and form.is_valid():
        try:
            if judge is None:
                judge = judge_create(
                    team=request.team,
                    by=request.user,
                    api_key=form.cleaned_data["api_key"],
                    **form.settings(),
                )
            else:
                judge.refresh_from_db()  # the form wrote its values onto the instance
                judge = judge_update(
                    judge=judge,
                    by=request.user,
                    api_key=form.cleaned_data["api_key"] or None,
                    clear_api_key=form.cleaned_data.get("clear_api_key", False),
                    **form.settings(),
                )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Saved {judge.name}.")
            return redirect("judging:judge", judge_id=judge.pk)
    return render(request, "judging/judge_form.html", {"form": form, "judge": judge})


@member_required()  # the selector answers 404 to roles that may not read it
def judge_detail(request, judge_id: int):
    judge = get_object_or_404(judge_list(user=request.user), pk=judge_id)
    runs = run_list(user=request.user).filter(judge=judge, dataset__is_playground=False)[:20]
    return render(request, "judging/judge.html", {"judge": judge, "runs": runs})


@require_POST
@member_required(ADMIN_ROLES)
def judge_test(request, judge_id: int):
    judge = get_object_or_404(judge_admin_list(user=request.user, team=request.team), pk=judge_id)
    try:
        judgment = judge_test_connection(judge=judge, by=request.user)
    except ApplicationError as exc:
        return render(request, "judging/_verdict.html", {"error": exc.message})
    return render(request, "judging/_verdict.html", {"judgment": judgment, "test": True})


# Principle sets --------------------------------------------------------------------------------


@member_required(DATA_ROLES)
def principle_index(request):
    is_admin = request.membership.role in ADMIN_ROLES
    editing = request.GET.get("edit", "")
    sets = principle_set_latest(user=request.user, team=request.team)
    initial = {}
    if editing:
        current = next((ps for ps in sets if ps.name == editing), None)
        if current is not None:
            initial = {"name": current.name, "principles": "\n".join(current.principles)}
    form = PrincipleSetForm(request.POST or None, initial=initial)
    if request.method == "POST":
        if not is_admin:
            raise Http404
        if form.is_valid():
            try:
                ps = principle_set_save(
                    team=request.team,
                    name=form.cleaned_data["name"],
                    principles=principles_from_text(form.cleaned_data["principles"]),
                    by=request.user,
                )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, f"Saved {ps.name} (version {ps.version}).")
                return redirect("judging:principles")
    versions = {}
    for ps in principle_set_list(user=request.user, team=request.team):
        versions.setdefault(ps.name, []).append(ps)
    context = {
        "sets": sets,
        "versions": versions,
        "form": form,
        "is_admin": is_admin,
        "editing": editing,
    }
    return render(request, "judging/principles.html", context)


# Runs ------------------------------------------------------------------------------------------


@member_required(DATA_ROLES)
def run_index(request):
    runs = run_list(user=request.user, team=request.team).filter(dataset__is_playground=False)
    page = Paginator(runs, 50).get_page(request.GET.get("page"))
    can_start = request.membership.role in ADMIN_ROLES
    return render(
        request,
        "judging/runs.html",
        {"runs": page.object_list, "page": page, "can_start": can_start},
    )


@member_required(ADMIN_ROLES)
def run_new(request):
    """Start runs. The items list links here with its filters in the query string."""
    datasets = dataset_list(user=request.user, team=request.team).filter(is_playground=False)
    judges = runnable_judges(user=request.user, team=request.team)
    principle_sets = principle_set_list(user=request.user, team=request.team)
    filters = ItemFilters.from_query(request.GET)
    form = RunForm(
        request.POST or None,
        datasets=datasets,
        judges=judges,
        principle_sets=principle_sets,
        initial={"dataset": request.GET.get("dataset"), "samples": 1},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        typed = principles_from_text(data["principles"])
        try:
            runs = [
                run_start(
                    team=request.team,
                    dataset=data["dataset"],
                    judge=judge,
                    by=request.user,
                    filters=filters,
                    principle_set=data["principle_set"],
                    principles=typed or None,
                    both_orders=data["both_orders"],
                    samples=data["samples"],
                )
                for judge in data["judges"]
            ]
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            if len(runs) == 1:
                return redirect("judging:run", run_id=runs[0].pk)
            messages.success(request, f"Started {len(runs)} runs.")
            return redirect("judging:runs")
    context = {
        "form": form,
        "filters": filters,
        "judges_exist": judges.exists(),
        "principle_sets": principle_sets,
    }
    return render(request, "judging/run_new.html", context)


JUDGMENT_FILTERS = {
    "failed": {"status": Judgment.Status.FAILED},
    "running": {"status": Judgment.Status.RUNNING},
    "queued": {"status": Judgment.Status.QUEUED},
    "unparsed": {"status": Judgment.Status.DONE, "preference__isnull": True},
    "inconsistent": {"parse_status": Judgment.ParseStatus.INCONSISTENT},
}


@member_required()  # the selector answers 404 to roles that may not read it
def run_detail(request, run_id: int):
    run = get_object_or_404(run_list(user=request.user), pk=run_id)
    context = {
        "run": run,
        "progress": run_progress(run=run),
        "can_change": run.team_id == request.team.pk and request.membership.role in ADMIN_ROLES,
    }
    if request.headers.get("HX-Request"):
        return render(request, "judging/_run_progress.html", context)
    show = request.GET.get("show", "")
    judgments = judgment_list(user=request.user, run=run).select_related("comparison")
    judgments = judgments.filter(**JUDGMENT_FILTERS.get(show, {}))
    context["page"] = Paginator(judgments, 50).get_page(request.GET.get("page"))
    context["show"] = show
    return render(request, "judging/run.html", context)


@require_POST
@member_required(ADMIN_ROLES)
def run_action(request, run_id: int, action: str):
    run = get_object_or_404(run_list(user=request.user, team=request.team), pk=run_id)
    try:
        if action == "cancel":
            run_cancel(run=run, by=request.user)
            messages.success(request, "Run cancelled.")
        elif action == "retry":
            count = run_retry(run=run, by=request.user, unparsed=bool(request.POST.get("unparsed")))
            messages.success(request, f"Queued {count} judgments again.")
        else:
            raise Http404
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("judging:run", run_id=run.pk)


@member_required()  # the selector answers 404 to roles that may not read it
def judgment_detail(request, run_id: int, judgment_id: int):
    run = get_object_or_404(run_list(user=request.user), pk=run_id)
    judgment = get_object_or_404(
        judgment_list(user=request.user, run=run).select_related("comparison"), pk=judgment_id
    )
    return render(request, "judging/judgment.html", {"run": run, "judgment": judgment})


# Playground ------------------------------------------------------------------------------------


@member_required(ADMIN_ROLES)
def playground(request):
    judges = runnable_judges(user=request.user, team=request.team)
    form = PlaygroundForm(request.POST or None, judges=judges)
    turns = (
        _posted_turns(request) if request.method == "POST" else [{"role": "user", "content": ""}]
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            judgment = playground_judge(
                team=request.team,
                judge=data["judge"],
                by=request.user,
                conversation=turns,
                response_1=data["response_1"],
                response_2=data["response_2"],
                principles=principles_from_text(data["principles"]),
                swapped=data["swapped"],
            )
        except ApplicationError as exc:
            if request.headers.get("HX-Request"):
                return render(request, "judging/_verdict.html", {"error": exc.message})
            form.add_error(None, exc.message)
        else:
            if request.headers.get("HX-Request"):
                return render(request, "judging/_verdict.html", _verdict_context(request, judgment))
            return redirect("judging:playground_result", judgment_id=judgment.pk)
    elif request.method == "POST" and request.headers.get("HX-Request"):
        problems = "; ".join(f"{name}: {' '.join(errs)}" for name, errs in form.errors.items())
        return render(request, "judging/_verdict.html", {"error": problems})
    context = {
        "form": form,
        "turns": turns,
        "principle_sets": principle_set_latest(user=request.user, team=request.team),
        "judges_exist": judges.exists(),
    }
    return render(request, "judging/playground.html", context)


def _posted_turns(request) -> list[dict]:
    roles, contents = request.POST.getlist("role"), request.POST.getlist("content")
    return [
        {"role": role, "content": content}
        for role, content in zip(roles, contents, strict=False)
        if content.strip()
    ]


def _playground_judgment(request, judgment_id: int) -> Judgment:
    return get_object_or_404(
        judgment_list(user=request.user)
        .filter(run__dataset__is_playground=True, run__team=request.team)
        .select_related("comparison", "run__judge"),
        pk=judgment_id,
    )


def _verdict_context(request, judgment: Judgment) -> dict:
    datasets = dataset_list(user=request.user, team=request.team).filter(is_playground=False)
    return {"judgment": judgment, "datasets": datasets}


@member_required(ADMIN_ROLES)
def playground_result(request, judgment_id: int):
    judgment = _playground_judgment(request, judgment_id)
    context = _verdict_context(request, judgment)
    if request.headers.get("HX-Request"):
        context["test"] = request.GET.get("test") == "1"
        return render(request, "judging/_verdict.html", context)
    return render(request, "judging/playground_result.html", context)


@require_POST
@member_required(ADMIN_ROLES)
def playground_save_view(request, judgment_id: int):
    judgment = _playground_judgment(request, judgment_id)
    datasets = dataset_list(user=request.user, team=request.team).filter(is_playground=False)
    dataset = datasets.filter(pk=request.POST.get("dataset") or 0).first()
    if dataset is None:
        messages.error(request, "Choose a dataset to save the item into.")
        return redirect("judging:playground_result", judgment_id=judgment.pk)
    try:
        comparison = playground_save(
            judgment=judgment,
            dataset=dataset,
            by=request.user,
            external_id=request.POST.get("external_id", ""),
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("judging:playground_result", judgment_id=judgment.pk)
    messages.success(request, f"Saved as {comparison.external_id} in {dataset.name}.")
    return redirect("datasets:comparison", dataset_id=dataset.pk, comparison_id=comparison.pk)
