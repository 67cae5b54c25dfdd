from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render

from judgeapp.accounts.permissions import member_required
from judgeapp.accounts.selectors import DATA_ROLES
from judgeapp.datasets.selectors import comparison_list, dataset_list, import_job_list


@member_required(DATA_ROLES)
def dataset_index(request):
    datasets = dataset_list(user=request.user, team=request.team)
    return render(request, "datasets/index.html", {"datasets": datasets})


@member_required()  # the selector answers 404 to roles that may not read it
def dataset_detail(request, dataset_id: int):
    dataset = get_object_or_404(dataset_list(user=request.user), pk=dataset_id)
    page = Paginator(comparison_list(user=request.user, dataset=dataset), 50).get_page(
        request.GET.get("page")
    )
    imports = import_job_list(user=request.user, dataset=dataset)[:10]
    return render(
        request, "datasets/detail.html", {"dataset": dataset, "page": page, "imports": imports}
    )


@member_required()  # the selector answers 404 to roles that may not read it
def comparison_detail(request, dataset_id: int, comparison_id: int):
    dataset = get_object_or_404(dataset_list(user=request.user), pk=dataset_id)
    comparison = get_object_or_404(
        comparison_list(user=request.user, dataset=dataset), pk=comparison_id
    )
    return render(
        request, "datasets/comparison.html", {"dataset": dataset, "comparison": comparison}
    )
