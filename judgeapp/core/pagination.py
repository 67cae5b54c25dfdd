"""Keyset pagination: pages by id, so page 2,000 of a 100k-item list costs what page 1 does."""

from dataclasses import dataclass

from django.db.models import QuerySet


@dataclass
class KeysetPage:
    items: list
    next_after: int | None
    prev_before: int | None

    @property
    def has_other_pages(self) -> bool:
        return self.next_after is not None or self.prev_before is not None


def _id(raw) -> int | None:
    try:
        return int(raw) if raw not in (None, "") else None
    except (TypeError, ValueError):
        return None


def keyset_page(qs: QuerySet, *, after=None, before=None, size: int = 50) -> KeysetPage:
    """One page of ``qs`` in ascending id order: the ``size`` rows after id ``after``, or the
    ``size`` rows before id ``before`` (for the previous page)."""
    after, before = _id(after), _id(before)
    if before is not None:
        rows = list(qs.filter(pk__lt=before).order_by("-pk")[: size + 1])
        more_before = len(rows) > size
        rows = rows[:size][::-1]
        more_after = True
    else:
        qs_page = qs.filter(pk__gt=after) if after is not None else qs
        rows = list(qs_page.order_by("pk")[: size + 1])
        more_after = len(rows) > size
        rows = rows[:size]
        more_before = after is not None and bool(rows) and qs.filter(pk__lt=rows[0].pk).exists()
    return KeysetPage(
        items=rows,
        next_after=rows[-1].pk if rows and more_after else None,
        prev_before=rows[0].pk if rows and more_before else None,
    )
