from django.shortcuts import get_object_or_404, render

from judgeapp.accounts.permissions import member_required
from judgeapp.campaigns.selectors import campaign_list


@member_required()
def campaign_index(request):
    campaigns = campaign_list(user=request.user, team=request.team)
    return render(request, "campaigns/index.html", {"campaigns": campaigns})


@member_required()
def campaign_detail(request, campaign_id: int):
    campaign = get_object_or_404(campaign_list(user=request.user), pk=campaign_id)
    return render(request, "campaigns/detail.html", {"campaign": campaign})
