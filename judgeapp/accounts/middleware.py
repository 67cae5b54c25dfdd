from judgeapp.accounts.selectors import membership_list_for_user

SESSION_KEY = "team_id"


class CurrentTeamMiddleware:
    """Puts the user's memberships and the one chosen in the team switcher on the request.

    ``request.membership`` is None for anonymous users and users in no team.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        memberships = membership_list_for_user(user=request.user)
        chosen = request.session.get(SESSION_KEY) if memberships else None
        current = next((m for m in memberships if m.team_id == chosen), None)
        if current is None and memberships:
            current = memberships[0]
        request.memberships = memberships
        request.membership = current
        request.team = current.team if current else None
        return self.get_response(request)
