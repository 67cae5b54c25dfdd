from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from judgeapp.accounts.permissions import member_required
from judgeapp.accounts.selectors import ADMIN_ROLES, DATA_ROLES, team_annotators
from judgeapp.campaigns import scales
from judgeapp.campaigns.forms import AdjudicationForm, CampaignForm, GoldForm, LabelForm
from judgeapp.campaigns.models import Assignment, Campaign, Label
from judgeapp.campaigns.selectors import (
    annotated_campaigns,
    annotator_progress,
    assignment_list,
    campaign_admin_list,
    campaign_list,
    campaign_progress,
    guideline_versions,
    item_labels,
    item_verdicts,
    label_history,
    own_labels,
    review_items,
    visible_verdicts,
)
from judgeapp.campaigns.services import (
    assignment_next,
    assignment_skip,
    campaign_add_overlap,
    campaign_create,
    campaign_set_status,
    campaign_update,
    gold_set,
    label_adjudicate,
    label_submit,
    label_update,
    parse_gold,
)
from judgeapp.core.errors import ApplicationError
from judgeapp.datasets.selectors import ItemFilters, comparison_detail, dataset_list
from judgeapp.judging.selectors import judge_list

# Set-up and the lead's views ---------------------------------------------------------------------


@member_required()
def campaign_index(request):
    campaigns = campaign_list(user=request.user, team=request.team)
    return render(
        request,
        "campaigns/index.html",
        {"campaigns": campaigns, "can_create": request.membership.role in ADMIN_ROLES},
    )


@member_required(ADMIN_ROLES)
def campaign_new(request):
    """Set up a campaign. The items list links here with its filters in the query string."""
    datasets = dataset_list(user=request.user, team=request.team).filter(is_playground=False)
    filters = ItemFilters.from_query(request.GET)
    form = CampaignForm(
        request.POST or None,
        datasets=datasets,
        annotators=team_annotators(team=request.team),
        initial={"dataset": request.GET.get("dataset")},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            campaign = campaign_create(
                team=request.team,
                dataset=data["dataset"],
                by=request.user,
                annotators=list(data["annotators"]),
                filters=filters,
                **form.settings(),
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Campaign {campaign.name!r} created.")
            return redirect("campaigns:detail", campaign_id=campaign.pk)
    return render(request, "campaigns/form.html", {"form": form, "filters": filters})


@member_required(ADMIN_ROLES)
def campaign_edit(request, campaign_id: int):
    campaign = get_object_or_404(
        campaign_admin_list(user=request.user, team=request.team), pk=campaign_id
    )
    form = CampaignForm(
        request.POST or None, instance=campaign, annotators=team_annotators(team=request.team)
    )
    if request.method == "POST" and form.is_valid():
        changes = {
            k: v
            for k, v in form.settings().items()
            if k not in form.fields or not form.fields[k].disabled
        }
        try:
            campaign_update(
                # Fresh from the database: the bound form has already written the new values
                # onto ``campaign``, and the service compares against the stored ones.
                campaign=Campaign.objects.get(pk=campaign.pk),
                by=request.user,
                annotators=list(form.cleaned_data["annotators"]),
                **changes,
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "Settings saved.")
            return redirect("campaigns:detail", campaign_id=campaign.pk)
    gold_text = "\n".join(
        f"{g.comparison.external_id} {g.expected_preference}"
        for g in campaign.gold_items.select_related("comparison").order_by("id")
    )
    context = {
        "form": form,
        "campaign": campaign,
        "gold_form": GoldForm(initial={"gold": gold_text}),
        "versions": guideline_versions(campaign=campaign),
    }
    return render(request, "campaigns/form.html", context)


@require_POST
@member_required(ADMIN_ROLES)
def campaign_gold(request, campaign_id: int):
    campaign = get_object_or_404(
        campaign_admin_list(user=request.user, team=request.team), pk=campaign_id
    )
    form = GoldForm(request.POST)
    form.is_valid()
    try:
        entries = parse_gold(form.cleaned_data.get("gold", ""))
        count = gold_set(campaign=campaign, by=request.user, entries=entries)
    except ApplicationError as exc:
        messages.error(request, f"Gold items not saved: {exc.message}")
    else:
        messages.success(request, f"{count} gold item{'s' if count != 1 else ''}.")
    return redirect("campaigns:edit", campaign_id=campaign.pk)


@require_POST
@member_required(ADMIN_ROLES)
def campaign_status(request, campaign_id: int, status: str):
    campaign = get_object_or_404(
        campaign_admin_list(user=request.user, team=request.team), pk=campaign_id
    )
    if status not in Campaign.Status.values:
        raise Http404("No such status.")
    campaign_set_status(campaign=campaign, by=request.user, status=status)
    messages.success(request, "Campaign closed." if status == "closed" else "Campaign reopened.")
    return redirect("campaigns:detail", campaign_id=campaign.pk)


@member_required()
def campaign_detail(request, campaign_id: int):
    """The lead's dashboard (admins, viewers); annotators get their own start page."""
    campaign = get_object_or_404(campaign_list(user=request.user), pk=campaign_id)
    if request.membership.role not in DATA_ROLES or campaign.team_id != request.team.pk:
        return _annotator_home(request, campaign)
    context = {
        "campaign": campaign,
        "progress": campaign_progress(campaign=campaign),
        "can_change": request.membership.role in ADMIN_ROLES,
    }
    if request.headers.get("HX-Request"):
        return render(request, "campaigns/_progress.html", context)
    context["judges"] = judge_list(user=request.user, team=request.team)
    return render(request, "campaigns/detail.html", context)


def _annotator_home(request, campaign: Campaign):
    campaign = get_object_or_404(annotated_campaigns(user=request.user), pk=campaign.pk)
    context = {
        "campaign": campaign,
        "mine": annotator_progress(campaign=campaign, user=request.user),
    }
    return render(request, "campaigns/annotator_home.html", context)


# Review ------------------------------------------------------------------------------------------


def _review_judge(request):
    raw = request.GET.get("judge") or request.POST.get("judge")
    if not raw or not str(raw).isdigit():
        return None
    return judge_list(user=request.user, team=request.team).filter(pk=raw).first()


@member_required(ADMIN_ROLES)
def review_index(request, campaign_id: int):
    campaign = get_object_or_404(
        campaign_admin_list(user=request.user, team=request.team), pk=campaign_id
    )
    judge = _review_judge(request)
    if request.method == "POST":
        try:
            extra = int(request.POST.get("extra", "1"))
        except ValueError:
            extra = 0
        try:
            count = campaign_add_overlap(
                campaign=campaign, by=request.user, extra=extra, judge=judge
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                f"{count} disagreed item(s) now want {extra} more label(s) each.",
            )
        query = f"?judge={judge.pk}" if judge else ""
        return redirect(f"{request.path}{query}")
    pending_only = request.GET.get("all") != "1"
    rows = review_items(campaign=campaign, judge=judge, pending_only=pending_only)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    ids = [row["comparison_id"] for row in page.object_list]
    external = dict(
        campaign.dataset.comparisons.filter(pk__in=ids).values_list("pk", "external_id")
    )
    context = {
        "campaign": campaign,
        "page": page,
        "external": external,
        "judge": judge,
        "judges": judge_list(user=request.user, team=request.team),
        "pending_only": pending_only,
    }
    return render(request, "campaigns/review.html", context)


@member_required(ADMIN_ROLES)
def review_item(request, campaign_id: int, comparison_id: int):
    campaign = get_object_or_404(
        campaign_admin_list(user=request.user, team=request.team), pk=campaign_id
    )
    comparison = comparison_detail(
        user=request.user, dataset=campaign.dataset, comparison_id=comparison_id
    )
    if comparison is None or not campaign.items.filter(comparison_id=comparison.pk).exists():
        raise Http404("Not an item of this campaign.")
    labels = list(item_labels(campaign=campaign, comparison_id=comparison.pk))
    decided = next((lbl for lbl in labels if lbl.kind == Label.Kind.ADJUDICATION), None)
    initial = {}
    if decided is not None:
        initial = {
            "answer": scales.to_answer(campaign.scale, decided.preference, swapped=False),
            "rationale": decided.rationale,
        }
    form = AdjudicationForm(request.POST or None, campaign=campaign, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            label_adjudicate(
                campaign=campaign,
                comparison_id=comparison.pk,
                by=request.user,
                answer=form.cleaned_data["answer"],
                rationale=form.cleaned_data["rationale"],
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "Adjudicated label saved.")
            return redirect(request.get_full_path())
    for label in labels:
        label.text = scales.describe(campaign.scale, label.preference, item_order=True)
    verdicts = item_verdicts(campaign=campaign, comparison_id=comparison.pk)
    context = {
        "campaign": campaign,
        "comparison": comparison,
        "labels": labels,
        "decided": decided,
        "history": label_history(label=decided) if decided else [],
        "verdicts": verdicts,
        "form": form,
    }
    return render(request, "campaigns/review_item.html", context)


# Annotators --------------------------------------------------------------------------------------


def _annotated(request, campaign_id: int) -> Campaign:
    return get_object_or_404(annotated_campaigns(user=request.user), pk=campaign_id)


def _shown(comparison, swapped: bool) -> tuple[str, str]:
    if swapped:
        return comparison.response_2, comparison.response_1
    return comparison.response_1, comparison.response_2


def _verdicts_shown(campaign: Campaign, comparison_id: int, swapped: bool) -> list[dict]:
    return [
        {
            "judge": j.run.judge.name,
            "text": scales.describe(scales.HELPSTEER3, j.preference, swapped=swapped),
        }
        for j in visible_verdicts(campaign=campaign, comparison_id=comparison_id)
    ]


def _item_context(request, campaign, comparison, swapped: bool) -> dict:
    response_a, response_b = _shown(comparison, swapped)
    return {
        "campaign": campaign,
        "comparison": comparison,
        "response_a": response_a,
        "response_b": response_b,
        "verdicts": _verdicts_shown(campaign, comparison.pk, swapped),
        "guidelines": campaign.guidelines,
    }


@member_required()
def annotate(request, campaign_id: int):
    """The labelling page: the next item (or the one held), answered with the keyboard."""
    campaign = _annotated(request, campaign_id)
    if request.method == "POST":
        assignment = get_object_or_404(
            assignment_list(user=request.user).filter(campaign=campaign),
            pk=request.POST.get("assignment") or 0,
        )
        if request.POST.get("action") == "skip":
            try:
                assignment_skip(
                    assignment=assignment,
                    annotator=request.user,
                    reason=request.POST.get("reason", ""),
                )
            except ApplicationError as exc:
                messages.error(request, exc.message)
            else:
                messages.info(request, "Skipped.")
            return redirect("campaigns:annotate", campaign_id=campaign.pk)
        form = LabelForm(request.POST, campaign=campaign)
        if form.is_valid():
            data = form.cleaned_data
            try:
                label_submit(
                    assignment=assignment,
                    annotator=request.user,
                    answer=data["answer"],
                    score_1=data["score_a"],
                    score_2=data["score_b"],
                    rationale=data.get("rationale", ""),
                    seconds_spent=data["seconds_spent"],
                )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, "Saved.")
                return redirect("campaigns:annotate", campaign_id=campaign.pk)
        return _annotate_page(request, campaign, assignment, form, status=400)
    if campaign.status != Campaign.Status.OPEN:
        return _annotate_done(request, campaign, closed=True)
    assignment = assignment_next(campaign=campaign, annotator=request.user)
    if assignment is None:
        return _annotate_done(request, campaign, closed=False)
    return _annotate_page(request, campaign, assignment, LabelForm(campaign=campaign))


def _annotate_page(request, campaign, assignment: Assignment, form, status: int = 200):
    context = _item_context(request, campaign, assignment.comparison, assignment.shown_swapped)
    context.update(
        {
            "assignment": assignment,
            "form": form,
            "mine": annotator_progress(campaign=campaign, user=request.user),
            "previous": own_labels(campaign=campaign, user=request.user).last(),
            "next_url": None,
        }
    )
    return render(request, "campaigns/annotate.html", context, status=status)


def _annotate_done(request, campaign, *, closed: bool):
    context = {
        "campaign": campaign,
        "closed": closed,
        "mine": annotator_progress(campaign=campaign, user=request.user),
        "previous": own_labels(campaign=campaign, user=request.user).last(),
    }
    return render(request, "campaigns/annotate_done.html", context)


@member_required()
def my_labels(request, campaign_id: int):
    campaign = _annotated(request, campaign_id)
    labels = own_labels(campaign=campaign, user=request.user).select_related("comparison")
    page = Paginator(labels.reverse(), 50).get_page(request.GET.get("page"))
    for label in page.object_list:
        label.text = scales.describe(
            campaign.scale, label.preference, swapped=bool(label.shown_swapped)
        )
    return render(request, "campaigns/my_labels.html", {"campaign": campaign, "page": page})


def _values_text(campaign: Campaign, values: dict | None, swapped: bool) -> str:
    """A label's stored values as the annotator saw them: answer, scores (A / B), rationale."""
    if not values:
        return ""
    parts = [scales.describe(campaign.scale, values["preference"], swapped=swapped)]
    scores = (values.get("score_1"), values.get("score_2"))
    if any(v is not None for v in scores):
        a, b = reversed(scores) if swapped else scores
        parts.append(f"scores A {a if a is not None else '-'} / B {b if b is not None else '-'}")
    if values.get("rationale"):
        rationale = values["rationale"]
        parts.append(f"“{rationale[:117]}…”" if len(rationale) > 120 else f"“{rationale}”")
    return " · ".join(parts)


@member_required()
def label_edit(request, campaign_id: int, label_id: int):
    """An annotator's own earlier label: change it (kept in its history), walk back and forth."""
    campaign = _annotated(request, campaign_id)
    mine = own_labels(campaign=campaign, user=request.user)
    label = get_object_or_404(mine.select_related("comparison"), pk=label_id)
    swapped = bool(label.shown_swapped)
    scores = (label.score_2, label.score_1) if swapped else (label.score_1, label.score_2)
    initial = {
        "answer": scales.to_answer(campaign.scale, label.preference, swapped=swapped),
        "score_a": scores[0],
        "score_b": scores[1],
        "rationale": label.rationale,
    }
    form = LabelForm(request.POST or None, campaign=campaign, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            label_update(
                label=label,
                by=request.user,
                answer=data["answer"],
                score_1=data["score_a"],
                score_2=data["score_b"],
                rationale=data.get("rationale"),
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "Label changed.")
            return redirect("campaigns:label", campaign_id=campaign.pk, label_id=label.pk)
    history = list(label_history(label=label))
    for change in history:
        change.before_text = _values_text(campaign, change.before, swapped)
        change.after_text = _values_text(campaign, change.after, swapped)
    context = _item_context(request, campaign, label.comparison, swapped)
    context.update(
        {
            "label": label,
            "form": form,
            "history": history,
            "previous": mine.filter(pk__lt=label.pk).last(),
            "next": mine.filter(pk__gt=label.pk).first(),
            "mine": annotator_progress(campaign=campaign, user=request.user),
        }
    )
    return render(request, "campaigns/label.html", context)
