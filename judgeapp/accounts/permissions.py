"""Page guards: a signed-in member of the current team, with one of the given roles."""

from collections.abc import Callable, Iterable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render

from judgeapp.accounts.selectors import ALL_ROLES


def member_required(roles: Iterable[str] = ALL_ROLES) -> Callable:
    allowed = tuple(roles)

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapped(request, *args, **kwargs):
            if request.membership is None:
                return render(request, "accounts/no_team.html", status=403)
            if request.membership.role not in allowed:
                raise PermissionDenied("Your role in this team does not give access to this page.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
