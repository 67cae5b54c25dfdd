from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from judgeapp.accounts.permissions import member_required
from judgeapp.accounts.selectors import DATA_ROLES
from judgeapp.campaigns.selectors import campaign_list
from judgeapp.core.errors import ApplicationError
from judgeapp.datasets.selectors import dataset_list
from judgeapp.judging.selectors import judge_list
from judgeapp.reports import exports
from judgeapp.reports.forms import ReportForm
from judgeapp.reports.models import Report
from judgeapp.reports.selectors import report_list
from judgeapp.reports.services import report_config, report_request


@member_required(DATA_ROLES)
def report_index(request):
    """Ask for a report (any member who reads data may: reports change nothing)."""
    datasets = dataset_list(user=request.user, team=request.team).filter(is_playground=False)
    campaigns = campaign_list(user=request.user, team=request.team)
    judges = judge_list(user=request.user, team=request.team).order_by("name")
    initial = {k: request.GET.get(k) for k in ("dataset", "campaign") if request.GET.get(k)}
    form = ReportForm(
        request.POST or None, datasets=datasets, campaigns=campaigns, judges=judges,
        initial=initial,
    )  # fmt: skip
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        campaign = data["campaign"]
        dataset = campaign.dataset if campaign else data["dataset"]
        try:
            config = report_config(
                dataset=dataset,
                judges=list(data["judges"]),
                humans=data["humans"],
                tie_policy=data["tie_policy"],
                seed=data["seed"],
                resamples=data["resamples"],
                breakdown=data["breakdown_keys"],
            )
            report = report_request(
                team=request.team, dataset=dataset, campaign=campaign, by=request.user,
                config=config,
            )  # fmt: skip
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            return redirect("reports:detail", report_id=report.pk)
    recent = report_list(user=request.user, team=request.team)[:20]
    keys = sorted({k for d in datasets for k in d.metadata_keys})
    return render(
        request, "reports/index.html", {"form": form, "recent": recent, "metadata_keys": keys}
    )


@member_required()  # the selector answers 404 to roles that may not read it
def report_detail(request, report_id: int):
    report = get_object_or_404(report_list(user=request.user), pk=report_id)
    context = {"report": report}
    if report.status == Report.Status.DONE:
        context.update(exports.page_context(report.result))
    if request.headers.get("HX-Request"):
        if report.status == Report.Status.DONE:
            response = HttpResponse(status=204)
            response["HX-Refresh"] = "true"
            return response
        return render(request, "reports/_status.html", context)
    return render(request, "reports/detail.html", context)


@member_required()  # the selector answers 404 to roles that may not read it
def report_export(request, report_id: int, format: str):
    report = get_object_or_404(report_list(user=request.user), pk=report_id)
    if format not in exports.FORMATS or report.status != Report.Status.DONE:
        raise Http404("No such export.")
    response = HttpResponse(
        exports.render(report, format), content_type=exports.CONTENT_TYPES[format]
    )
    response["Content-Disposition"] = f'attachment; filename="{exports.filename(report, format)}"'
    return response
