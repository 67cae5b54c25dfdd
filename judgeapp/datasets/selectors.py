"""Reads for datasets and comparisons, scoped by the user's teams and roles."""

from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import (
    BooleanField,
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.http import QueryDict

from judgeapp.accounts.models import Team, User
from judgeapp.accounts.selectors import DATA_ROLES, team_ids
from judgeapp.campaigns.models import Label
from judgeapp.datasets.models import Comparison, Dataset, ImportJob
from judgeapp.datasets.records import ComparisonIn, JudgmentIn, LabelIn
from judgeapp.datasets.search import MATCH_SQL
from judgeapp.judging.models import Judgment


def dataset_list(
    *, user: User, team: Team | None = None, roles: tuple[str, ...] = DATA_ROLES
) -> QuerySet[Dataset]:
    qs = Dataset.objects.filter(team__in=team_ids(user=user, roles=roles)).select_related("team")
    if team is not None:
        qs = qs.filter(team=team)
    return qs


def comparison_list(*, user: User, dataset: Dataset | None = None) -> QuerySet[Comparison]:
    qs = Comparison.objects.filter(dataset__team__in=team_ids(user=user, roles=DATA_ROLES))
    if dataset is not None:
        qs = qs.filter(dataset=dataset)
    return qs.order_by("id")


def import_job_list(*, user: User, dataset: Dataset | None = None) -> QuerySet[ImportJob]:
    qs = ImportJob.objects.filter(dataset__team__in=team_ids(user=user, roles=DATA_ROLES))
    if dataset is not None:
        qs = qs.filter(dataset=dataset)
    return qs.select_related("dataset")


def dataset_export_records(*, dataset: Dataset, chunk_size: int = 1000) -> Iterator[ComparisonIn]:
    """Every item of ``dataset`` with its labels and finished verdicts, in canonical order, as the
    writers take them. Reads in chunks of ``chunk_size`` items, so memory stays flat."""
    last = 0
    while True:
        rows = list(
            Comparison.objects.filter(dataset=dataset, pk__gt=last)
            .order_by("pk")
            .values_list(
                "pk", "external_id", "conversation", "response_1", "response_2", "principles",
                "metadata",
            )[:chunk_size]
        )  # fmt: skip
        if not rows:
            return
        last = rows[-1][0]
        pks = [row[0] for row in rows]
        labels = _export_labels(pks)
        judgments = _export_judgments(pks)
        for pk, external_id, conversation, response_1, response_2, principles, metadata in rows:
            yield ComparisonIn(
                id=external_id,
                conversation=conversation,
                response_1=response_1,
                response_2=response_2,
                principles=principles,
                metadata=metadata,
                labels=labels.get(pk, []),
                judgments=judgments.get(pk, []),
            )


def _export_labels(pks: list[int]) -> dict[int, list[LabelIn]]:
    out: dict[int, list[LabelIn]] = {}
    names: dict[int, set[str]] = {}
    rows = (
        Label.objects.filter(comparison_id__in=pks)
        .exclude(kind=Label.Kind.ADJUDICATION)
        .order_by("pk")
        .values_list(
            "comparison_id", "annotator_name", "annotator__username", "campaign__name",
            "preference", "score_1", "score_2", "rationale",
        )
    )  # fmt: skip
    for pk, name, username, campaign, preference, score_1, score_2, rationale in rows:
        annotator = name or username or "unknown"
        seen = names.setdefault(pk, set())
        if annotator in seen and campaign:
            # One person labelled the item in two campaigns: keep both, told apart.
            annotator = f"{annotator} ({campaign})"
        seen.add(annotator)
        out.setdefault(pk, []).append(
            LabelIn(annotator, preference, score_1, score_2, rationale or "")
        )
    return out


def _export_judgments(pks: list[int]) -> dict[int, list[JudgmentIn]]:
    out: dict[int, list[JudgmentIn]] = {}
    rows = (
        Judgment.objects.filter(
            comparison_id__in=pks, status=Judgment.Status.DONE, preference__isnull=False
        )
        .order_by("pk")
        .values_list(
            "comparison_id", "run__judge__name", "run__import_key", "run_id", "preference",
            "score_1", "score_2", "ranking", "swapped", "sample", "reasoning",
        )
    )  # fmt: skip
    for pk, judge, import_key, run_id, pref, s1, s2, ranking, swapped, sample, reasoning in rows:
        run = import_key if import_key is not None else f"run-{run_id}"
        out.setdefault(pk, []).append(
            JudgmentIn(judge, pref, s1, s2, ranking, swapped, sample, reasoning, run)
        )
    return out


def _count(queryset: QuerySet, outer: str) -> Coalesce:
    counted = queryset.order_by().values(outer).annotate(n=Count("*")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def dataset_list_with_counts(*, user: User, team: Team | None = None) -> QuerySet[Dataset]:
    """Datasets with the number of items, labels and verdicts of each."""
    return dataset_list(user=user, team=team).annotate(
        item_count=_count(Comparison.objects.filter(dataset=OuterRef("pk")), "dataset"),
        label_count=_count(
            Label.objects.filter(comparison__dataset=OuterRef("pk")), "comparison__dataset"
        ),
        judgment_count=_count(
            Judgment.objects.filter(
                comparison__dataset=OuterRef("pk"), status=Judgment.Status.DONE
            ),
            "comparison__dataset",
        ),
    )


_FLAGS = {"1": True, "yes": True, "true": True, "0": False, "no": False, "false": False}


@dataclass
class ItemFilters:
    """What the items list can be narrowed by; built from a page's or the API's query string."""

    q: str = ""
    meta: list[tuple[str, str]] = field(default_factory=list)
    has_label: bool | None = None
    has_judgment: bool | None = None
    disagreement: bool = False

    @classmethod
    def from_query(cls, params) -> "ItemFilters":
        def flag(name: str) -> bool | None:
            return _FLAGS.get(params.get(name, "").lower())

        meta = []
        for raw in params.getlist("meta"):
            key, sep, value = raw.partition(":")
            if sep and key.strip():
                meta.append((key.strip(), value.strip()))
        return cls(
            q=params.get("q", "").strip()[:500],
            meta=meta,
            has_label=flag("labels"),
            has_judgment=flag("judgments"),
            disagreement=bool(flag("disagreement")),
        )

    def as_query(self) -> dict[str, str | list[str]]:
        """The query-string form (what ``from_query`` reads), for storing with a run."""
        query: dict[str, str | list[str]] = {}
        if self.q:
            query["q"] = self.q
        if self.meta:
            query["meta"] = [f"{key}:{value}" for key, value in self.meta]
        for name, flag in (("labels", self.has_label), ("judgments", self.has_judgment)):
            if flag is not None:
                query[name] = "yes" if flag else "no"
        if self.disagreement:
            query["disagreement"] = "yes"
        return query

    @classmethod
    def from_dict(cls, query: dict) -> "ItemFilters":
        params = QueryDict(mutable=True)
        for key, value in (query or {}).items():
            params.setlist(key, value if isinstance(value, list) else [str(value)])
        return cls.from_query(params)

    @property
    def active(self) -> bool:
        flags = (self.has_label, self.has_judgment)
        return bool(self.q or self.meta or self.disagreement or any(f is not None for f in flags))


def _signed(model, sign: str) -> Exists:
    lookup = {"preference__lt": 0} if sign == "-" else {"preference__gt": 0}
    qs = model.objects.filter(comparison=OuterRef("pk"), **lookup)
    if model is Judgment:
        qs = qs.filter(status=Judgment.Status.DONE)
    return Exists(qs)


def comparison_search(
    *, user: User | None, dataset: Dataset, filters: ItemFilters
) -> QuerySet[Comparison]:
    """Items of ``dataset`` matching ``filters``: full-text search (PostgreSQL, over the items
    indexed so far; a substring scan on SQLite), metadata key:value pairs, labelled or judged
    or not, and disagreement (people split on the winner, or a verdict against a label).

    ``user=None`` is for services whose caller was already authorised for ``dataset``."""
    if user is None:
        qs = Comparison.objects.filter(dataset=dataset).order_by("id")
    else:
        qs = comparison_list(user=user, dataset=dataset)
    postgres = connection.vendor == "postgresql"
    if filters.q:
        if postgres:
            # The text is a bound parameter; the SQL around it is a constant.
            match = RawSQL(MATCH_SQL, [dataset.pk, filters.q], output_field=BooleanField())  # noqa: S611
            qs = qs.filter(match)
        else:
            text = filters.q
            qs = qs.filter(
                Q(response_1__icontains=text)
                | Q(response_2__icontains=text)
                | Q(conversation__icontains=text)
            )
    for key, value in filters.meta:
        # containment uses the GIN index on PostgreSQL; SQLite has no containment on JSON.
        qs = (
            qs.filter(metadata__contains={key: value})
            if postgres
            else qs.filter(**{f"metadata__{key}": value})
        )
    if filters.has_label is not None:
        labelled = Exists(Label.objects.filter(comparison=OuterRef("pk")))
        qs = qs.filter(labelled if filters.has_label else ~labelled)
    if filters.has_judgment is not None:
        judged = Exists(
            Judgment.objects.filter(comparison=OuterRef("pk"), status=Judgment.Status.DONE)
        )
        qs = qs.filter(judged if filters.has_judgment else ~judged)
    if filters.disagreement:
        human_a, human_b = _signed(Label, "-"), _signed(Label, "+")
        model_a, model_b = _signed(Judgment, "-"), _signed(Judgment, "+")
        qs = qs.filter((human_a & human_b) | (human_a & model_b) | (human_b & model_a))
    return qs


def comparison_detail(*, user: User, dataset: Dataset, comparison_id: int) -> Comparison | None:
    return comparison_list(user=user, dataset=dataset).filter(pk=comparison_id).first()


def comparison_labels(*, comparison: Comparison) -> QuerySet[Label]:
    return comparison.labels.select_related("annotator", "campaign").order_by("kind", "pk")


def comparison_judgments(*, comparison: Comparison) -> QuerySet[Judgment]:
    return comparison.judgments.select_related("run__judge").order_by("run_id", "swapped", "sample")
