from django.conf import settings
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render

from judgeapp.accounts.permissions import member_required
from judgeapp.accounts.selectors import ADMIN_ROLES, DATA_ROLES
from judgeapp.core.errors import ApplicationError
from judgeapp.core.pagination import keyset_page
from judgeapp.datasets.exports import EXPORT_FORMATS, export_response
from judgeapp.datasets.forms import ImportForm
from judgeapp.datasets.progress import import_progress
from judgeapp.datasets.search import search_indexed_count
from judgeapp.datasets.selectors import (
    ItemFilters,
    comparison_judgments,
    comparison_labels,
    comparison_search,
    dataset_list,
    dataset_list_with_counts,
    import_job_list,
)
from judgeapp.datasets.selectors import (
    comparison_detail as comparison_get,
)
from judgeapp.datasets.services import (
    dataset_create,
    import_job_create,
    import_job_start,
)


@member_required(DATA_ROLES)
def dataset_index(request):
    datasets = dataset_list_with_counts(user=request.user, team=request.team)
    return render(request, "datasets/index.html", {"datasets": datasets})


@member_required()  # the selector answers 404 to roles that may not read it
def dataset_detail(request, dataset_id: int):
    dataset = get_object_or_404(dataset_list(user=request.user), pk=dataset_id)
    filters = ItemFilters.from_query(request.GET)
    page = keyset_page(
        comparison_search(user=request.user, dataset=dataset, filters=filters).only(
            "pk", "external_id", "conversation", "metadata"
        ),
        after=request.GET.get("after"),
        before=request.GET.get("before"),
    )
    context = {
        "dataset": dataset,
        "page": page,
        "filters": filters,
        "total": dataset.comparisons.count(),
        "search_indexed": search_indexed_count(dataset_id=dataset.pk),
        "imports": import_job_list(user=request.user, dataset=dataset)[:5],
        "export_formats": list(EXPORT_FORMATS),
    }
    return render(request, "datasets/detail.html", context)


@member_required()  # the selector answers 404 to roles that may not read it
def comparison_detail(request, dataset_id: int, comparison_id: int):
    dataset = get_object_or_404(dataset_list(user=request.user), pk=dataset_id)
    comparison = comparison_get(user=request.user, dataset=dataset, comparison_id=comparison_id)
    if comparison is None:
        raise Http404("No such item.")
    context = {
        "dataset": dataset,
        "comparison": comparison,
        "labels": comparison_labels(comparison=comparison),
        "judgments": comparison_judgments(comparison=comparison),
    }
    return render(request, "datasets/comparison.html", context)


@member_required()
def dataset_export(request, dataset_id: int, format: str):
    dataset = get_object_or_404(dataset_list(user=request.user), pk=dataset_id)
    if format not in EXPORT_FORMATS:
        raise Http404("Unknown export format.")
    return export_response(dataset=dataset, format=format)


@member_required(ADMIN_ROLES)
def dataset_import_page(request):
    datasets = dataset_list(user=request.user, team=request.team, roles=ADMIN_ROLES)
    form = ImportForm(
        request.POST or None,
        request.FILES or None,
        datasets=datasets,
        initial={"dataset": request.GET.get("dataset")},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if data["dataset"]:
                dataset = get_object_or_404(datasets, pk=data["dataset"])
            else:
                dataset = dataset_create(
                    team=request.team, name=data["new_dataset"], by=request.user
                )
            upload = data["file"]
            job = import_job_create(
                dataset=dataset,
                by=request.user,
                filename=upload.name,
                format=data["format"],
                skip_invalid=data["skip_invalid"],
                upload=upload,
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            import_job_start(job=job)
            return redirect("datasets:import", job_id=job.pk)
    context = {"form": form, "max_mb": settings.IMPORT_MAX_UPLOAD_MB}
    return render(request, "datasets/import.html", context)


@member_required()
def import_detail(request, job_id: int):
    job = get_object_or_404(import_job_list(user=request.user), pk=job_id)
    context = {"job": job, "progress": import_progress(job)}
    if request.headers.get("HX-Request"):
        return render(request, "datasets/_import_status.html", context)
    return render(request, "datasets/import_job.html", context)
