def teams(request) -> dict:
    return {
        "memberships": getattr(request, "memberships", []),
        "membership": getattr(request, "membership", None),
        "team": getattr(request, "team", None),
    }
