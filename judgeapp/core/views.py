from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from judgeapp.accounts.permissions import member_required
from judgeapp.campaigns.selectors import campaign_list
from judgeapp.core.health import health_check
from judgeapp.datasets.selectors import dataset_list
from judgeapp.judging.selectors import judge_list, run_list


@member_required()
def home(request):
    team, user = request.team, request.user
    context = {"campaigns": campaign_list(user=user, team=team)[:5]}
    if request.membership.can_read_data:
        context.update(
            datasets=dataset_list(user=user, team=team)[:5],
            judges=judge_list(user=user, team=team).count(),
            runs=run_list(user=user, team=team)[:5],
        )
    return render(request, "core/home.html", context)


def _requested_checks(request) -> list[str] | None:
    raw = request.GET.get("checks", "")
    return [name.strip() for name in raw.split(",") if name.strip()] or None


@never_cache
@require_GET
def health(request):
    checks = health_check(_requested_checks(request))
    ok = all(c.ok for c in checks)
    template = "core/_health.html" if request.headers.get("HX-Request") else "core/health.html"
    return render(request, template, {"checks": checks, "ok": ok}, status=200 if ok else 503)


@never_cache
@require_GET
def health_json(request):
    checks = health_check(_requested_checks(request))
    ok = all(c.ok for c in checks)
    body = {"ok": ok, "checks": {c.name: c.as_dict() for c in checks}}
    return JsonResponse(body, status=200 if ok else 503)
