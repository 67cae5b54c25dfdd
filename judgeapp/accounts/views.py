from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from judgeapp.accounts.forms import MemberAddForm, MemberRoleForm
from judgeapp.accounts.middleware import SESSION_KEY
from judgeapp.accounts.permissions import member_required
from judgeapp.accounts.selectors import ADMIN_ROLES, membership_get, membership_list
from judgeapp.accounts.services import membership_add, membership_remove, membership_set_role
from judgeapp.core.errors import ApplicationError


@require_POST
@login_required
def team_switch(request):
    try:
        team_id = int(request.POST.get("team", ""))
    except ValueError:
        raise Http404("No such team.") from None
    membership = next((m for m in request.memberships if m.team_id == team_id), None)
    if membership is None:
        raise Http404("No such team.")
    request.session[SESSION_KEY] = team_id
    messages.success(request, f"Now working in {membership.team.name}.")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = "home"
    return redirect(target)


@member_required()
def members(request):
    context = {
        "members": membership_list(team=request.team),
        "add_form": MemberAddForm(),
        "role_choices": MemberRoleForm.base_fields["role"].choices,
    }
    return render(request, "accounts/members.html", context)


def _apply(request, action) -> None:
    try:
        text = action()
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, text)


@require_POST
@member_required(ADMIN_ROLES)
def member_add(request):
    form = MemberAddForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give a username or e-mail address and a role.")
        return redirect("accounts:members")

    def add() -> str:
        m, password = membership_add(
            team=request.team,
            identifier=form.cleaned_data["identifier"],
            role=form.cleaned_data["role"],
            by=request.user,
            create_user=form.cleaned_data["create_user"],
        )
        text = f"Added {m.user.username} as {m.get_role_display().lower()}."
        if password:
            text += f" New account: username {m.user.username}, password {password} (shown once)."
        return text

    _apply(request, add)
    return redirect("accounts:members")


@require_POST
@member_required(ADMIN_ROLES)
def member_role(request, membership_id: int):
    membership = membership_get(team=request.team, membership_id=membership_id)
    form = MemberRoleForm(request.POST)
    if membership is None:
        raise Http404("No such member.")
    if not form.is_valid():
        messages.error(request, "Choose one of the roles admin, annotator or viewer.")
        return redirect("accounts:members")

    def change() -> str:
        m = membership_set_role(
            membership=membership, role=form.cleaned_data["role"], by=request.user
        )
        return f"{m.user.username} is now {m.get_role_display().lower()}."

    _apply(request, change)
    return redirect("accounts:members")


@require_POST
@member_required(ADMIN_ROLES)
def member_remove(request, membership_id: int):
    membership = membership_get(team=request.team, membership_id=membership_id)
    if membership is None:
        raise Http404("No such member.")

    def remove() -> str:
        membership_remove(membership=membership, by=request.user)
        return f"Removed {membership.user.username} from {membership.team.name}."

    _apply(request, remove)
    return redirect("accounts:members")
