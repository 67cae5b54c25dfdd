from django.db.models import QuerySet
from rest_framework.exceptions import ValidationError


def filter_by_id_param(request, qs: QuerySet, param: str, field: str) -> QuerySet:
    """Narrow ``qs`` by an integer query parameter (``?dataset=3``), if given."""
    raw = request.query_params.get(param)
    if raw in (None, ""):
        return qs
    try:
        return qs.filter(**{field: int(raw)})
    except ValueError:
        raise ValidationError({param: f"must be an integer id, not {raw!r}"}) from None
