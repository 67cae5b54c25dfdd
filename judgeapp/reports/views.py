from django.shortcuts import render

from judgeapp.accounts.permissions import member_required
from judgeapp.accounts.selectors import DATA_ROLES
from judgeapp.campaigns.selectors import campaign_list
from judgeapp.datasets.selectors import dataset_list
from judgeapp.judging.selectors import judge_list


@member_required(DATA_ROLES)
def report_index(request):
    context = {
        "datasets": dataset_list(user=request.user, team=request.team),
        "campaigns": campaign_list(user=request.user, team=request.team),
        "judges": judge_list(user=request.user, team=request.team),
    }
    return render(request, "reports/index.html", context)
