"""Writes for judging: judges, principle sets, runs, the playground, and the reconciler."""

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlparse

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from judgeapp.accounts.models import Team, User
from judgeapp.core.errors import ApplicationError
from judgeapp.core.secrets import encrypt
from judgeapp.core.statistics import analyze_if_stale
from judgeapp.datasets.models import Comparison, Dataset
from judgeapp.datasets.search import search_index_dataset
from judgeapp.datasets.selectors import ItemFilters, comparison_search
from judgeapp.judging import pump
from judgeapp.judging.client import GENRM, LLM_JUDGE
from judgeapp.judging.models import Judge, JudgeRun, JudgingPump, Judgment, PrincipleSet

log = logging.getLogger(__name__)

MAX_SAMPLES = 16
MAX_IN_FLIGHT = 4096
PLAYGROUND_PRIORITY = 10
# The playground and "test connection" show the first error rather than retry for minutes.
PLAYGROUND_MAX_ATTEMPTS = 2

# Judges ----------------------------------------------------------------------------------------

JUDGE_FIELDS = (
    "name", "protocol", "base_url", "model", "api_key_env", "temperature", "top_p", "max_tokens",
    "max_in_flight", "timeout_seconds", "principle_position", "principles_one_message_each",
    "structured_output",
)  # fmt: skip


def _judge_check(judge: Judge) -> None:
    judge.name = (judge.name or "").strip()
    if not judge.name:
        raise ApplicationError("A judge needs a name.")
    if len(judge.name) > 100:
        raise ApplicationError("A judge name has at most 100 characters.")
    if judge.protocol not in (GENRM, LLM_JUDGE):
        raise ApplicationError(
            f"protocol: expected {GENRM!r} or {LLM_JUDGE!r}, got {judge.protocol!r}."
        )
    judge.base_url = (judge.base_url or "").strip().rstrip("/")
    parsed = urlparse(judge.base_url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ApplicationError(
            "base_url: expected the server's OpenAI-compatible address, such as "
            "http://127.0.0.1:8000/v1."
        )
    judge.model = (judge.model or "").strip()
    if not judge.model:
        raise ApplicationError("model: the model name the server serves is required.")
    judge.api_key_env = (judge.api_key_env or "").strip()
    if judge.api_key_env and not judge.api_key_env.replace("_", "").isalnum():
        raise ApplicationError("api_key_env: expected an environment variable name like GENRM_KEY.")
    checks = [
        ("temperature", judge.temperature, 0, 2),
        ("top_p", judge.top_p, 0, 1),
        ("max_tokens", judge.max_tokens, 1, 1_000_000),
        ("max_in_flight", judge.max_in_flight, 1, MAX_IN_FLIGHT),
        ("timeout_seconds", judge.timeout_seconds, 1, 24 * 3600),
    ]
    for field, value, low, high in checks:
        if value is not None and not (low <= value <= high):
            raise ApplicationError(f"{field}: expected a value from {low} to {high}, got {value}.")
    if judge.top_p is not None and judge.top_p == 0:
        raise ApplicationError("top_p: expected a value above 0.")
    if judge.principle_position not in Judge.PrinciplePosition.values:
        raise ApplicationError("principle_position: expected 'before' or 'after'.")
    if judge.structured_output not in Judge.StructuredOutput.values:
        raise ApplicationError(
            f"structured_output: expected one of {', '.join(Judge.StructuredOutput.values)}."
        )
    clash = Judge.objects.filter(team_id=judge.team_id, name=judge.name).exclude(pk=judge.pk)
    if clash.exists():
        raise ApplicationError(f"The team already has a judge named {judge.name!r}.")


def judge_create(*, team: Team, by: User | None, api_key: str = "", **fields) -> Judge:
    unknown = set(fields) - set(JUDGE_FIELDS)
    if unknown:
        raise ApplicationError(f"Unknown judge settings: {', '.join(sorted(unknown))}.")
    judge = Judge(team=team, created_by=by, **fields)
    _judge_check(judge)
    if api_key:
        judge.api_key_encrypted = encrypt(api_key)
    judge.save()
    return judge


def judge_update(
    *,
    judge: Judge,
    by: User | None,
    api_key: str | None = None,
    clear_api_key: bool = False,
    **fields,
) -> Judge:
    """Change settings; ``api_key`` None keeps the stored key (it is never shown, so a form left
    blank must not erase it), ``clear_api_key`` removes it."""
    if judge.protocol == Judge.Protocol.IMPORTED:
        raise ApplicationError("Judges of imported verdicts have no connection to change.")
    unknown = set(fields) - set(JUDGE_FIELDS)
    if unknown:
        raise ApplicationError(f"Unknown judge settings: {', '.join(sorted(unknown))}.")
    for name, value in fields.items():
        setattr(judge, name, value)
    _judge_check(judge)
    if clear_api_key:
        judge.api_key_encrypted = ""
    elif api_key:
        judge.api_key_encrypted = encrypt(api_key)
    judge.save()
    return judge


def judge_delete(*, judge: Judge) -> None:
    if judge.runs.exists():
        raise ApplicationError(
            f"{judge.name} has runs; delete them with their datasets, or keep the judge."
        )
    judge.delete()


# Principle sets --------------------------------------------------------------------------------


def principles_from_text(text: str) -> list[str]:
    """One principle per non-empty line."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def principle_set_save(
    *, team: Team, name: str, principles: list[str], by: User | None
) -> PrincipleSet:
    """Save a principle set; changing one adds a version, so runs keep the text they sent."""
    name = (name or "").strip()
    if not name:
        raise ApplicationError("A principle set needs a name.")
    if len(name) > 100:
        raise ApplicationError("A principle set name has at most 100 characters.")
    if not isinstance(principles, list) or not all(isinstance(p, str) for p in principles):
        raise ApplicationError("principles: expected a list of strings.")
    principles = [p.strip() for p in principles if p.strip()]
    if not principles:
        raise ApplicationError("A principle set needs at least one principle.")
    with transaction.atomic():
        # Lock the team row so two saves of the same name do not race for a version number.
        Team.objects.select_for_update().filter(pk=team.pk).first()
        latest = PrincipleSet.objects.filter(team=team, name=name).order_by("-version").first()
        if latest is not None and latest.principles == principles:
            return latest
        return PrincipleSet.objects.create(
            team=team,
            name=name,
            principles=principles,
            version=(latest.version + 1) if latest else 1,
            created_by=by,
        )


# Runs ------------------------------------------------------------------------------------------


def _run_config(judge: Judge, *, max_attempts: int | None = None) -> dict:
    spec = pump.judge_spec(judge)
    sampling = spec.sampling()
    config = {
        "protocol": judge.protocol,
        "model": judge.model,
        "base_url": judge.base_url,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "max_tokens": sampling.max_tokens,
        "principle_position": judge.principle_position,
        "principles_one_message_each": judge.principles_one_message_each,
        "structured_output": judge.structured_output,
    }
    if max_attempts is not None:
        config["max_attempts"] = max_attempts
    return config


_INSERT_COLUMNS = (
    "run_id, comparison_id, swapped, sample, status, reasoning, raw_output, parse_status, "
    "finish_reason, attempts, error, lease_owner, created_at"
)


def _judgments_create(*, run: JudgeRun, comparisons) -> int:
    """One queued judgment per (comparison, order, sample), in one INSERT ... SELECT per pair."""
    sql, params = comparisons.values("id").query.sql_with_params()
    now = timezone.now()
    total = 0
    orders = (False, True) if run.both_orders else (False,)
    insert = (
        f"INSERT INTO {Judgment._meta.db_table} ({_INSERT_COLUMNS}) "  # noqa: S608 - constants and the ORM's SQL
        f"SELECT %s, sub.id, %s, %s, %s, '', '', '', '', 0, '', '', %s FROM ({sql}) sub"
    )
    with connection.cursor() as cursor:
        for swapped in orders:
            for sample in range(run.samples):
                cursor.execute(  # the SQL is built from constants and the ORM's own query
                    insert, [run.pk, swapped, sample, Judgment.Status.QUEUED, now, *params]
                )
                total += cursor.rowcount
    return total


def run_start(
    *,
    team: Team,
    dataset: Dataset,
    judge: Judge,
    by: User | None,
    filters: ItemFilters | None = None,
    principle_set: PrincipleSet | None = None,
    principles: list[str] | None = None,
    both_orders: bool = False,
    samples: int = 1,
) -> JudgeRun:
    """Queue a judge over a dataset (or the items matching ``filters``) and start the pumps.

    Principles: ``principles`` (typed text) or ``principle_set`` replace each item's own; neither
    keeps the items' principles."""
    if dataset.team_id != team.pk or judge.team_id != team.pk:
        raise ApplicationError("The dataset and the judge must belong to the team.")
    if judge.protocol == Judge.Protocol.IMPORTED:
        raise ApplicationError(f"{judge.name} holds imported verdicts; it cannot be run.")
    if not isinstance(samples, int) or not 1 <= samples <= MAX_SAMPLES:
        raise ApplicationError(f"samples: expected 1 to {MAX_SAMPLES}.")
    if principle_set is not None and principle_set.team_id != team.pk:
        raise ApplicationError("The principle set must belong to the team.")
    override = None
    if principles is not None:
        override = [p.strip() for p in principles if isinstance(p, str) and p.strip()]
    elif principle_set is not None:
        override = list(principle_set.principles)
    filters = filters or ItemFilters()
    with transaction.atomic():
        run = JudgeRun.objects.create(
            team=team,
            judge=judge,
            dataset=dataset,
            filters=filters.as_query(),
            principle_set=principle_set if principles is None else None,
            principles_override=override,
            both_orders=both_orders,
            samples=samples,
            config=_run_config(judge),
            created_by=by,
        )
        count = _judgments_create(
            run=run, comparisons=comparison_search(user=None, dataset=dataset, filters=filters)
        )
        if count == 0:
            raise ApplicationError(
                "No items to judge: the dataset is empty or no item matches the filters."
            )
        transaction.on_commit(pumps_ensure)
    analyze_if_stale({Judgment._meta.db_table: count})
    return run


def run_cancel(*, run: JudgeRun, by: User | None = None) -> JudgeRun:
    """Stop a run: queued judgments are cancelled at once, open requests by their pump."""
    now = timezone.now()
    with transaction.atomic():
        changed = JudgeRun.objects.filter(pk=run.pk, status__in=JudgeRun.ACTIVE).update(
            status=JudgeRun.Status.CANCELLED, finished_at=now
        )
        if not changed:
            raise ApplicationError("Only a queued or running run can be cancelled.")
        Judgment.objects.filter(run=run, status=Judgment.Status.QUEUED).update(
            status=Judgment.Status.CANCELLED, finished_at=now
        )
    run.refresh_from_db()
    return run


def run_retry(*, run: JudgeRun, by: User | None = None, unparsed: bool = False) -> int:
    """Queue again the failed (and cancelled) judgments, and with ``unparsed`` the ones whose
    reply held no usable verdict. Returns how many were queued."""
    retry = Q(status__in=(Judgment.Status.FAILED, Judgment.Status.CANCELLED))
    if unparsed:
        retry |= Q(status=Judgment.Status.DONE, preference__isnull=True)
    with transaction.atomic():
        run = JudgeRun.objects.select_for_update().get(pk=run.pk)
        if (
            run.status in JudgeRun.ACTIVE
            and not Judgment.objects.filter(run=run).filter(retry).exists()
        ):
            return 0
        count = (
            Judgment.objects.filter(run=run)
            .filter(retry)
            .update(
                status=Judgment.Status.QUEUED,
                attempts=0,
                error="",
                not_before=None,
                finished_at=None,
                score_1=None,
                score_2=None,
                ranking=None,
                preference=None,
                parse_status="",
            )
        )
        if count == 0:
            raise ApplicationError("Nothing to retry: no judgment of this run failed.")
        JudgeRun.objects.filter(pk=run.pk).update(
            status=JudgeRun.Status.RUNNING, error="", finished_at=None
        )
        transaction.on_commit(pumps_ensure)
    return count


# Pumps and the reconciler ----------------------------------------------------------------------


def pumps_ensure() -> int:
    """Queue pump tasks until JUDGING_PUMPS are alive (or queued). Returns how many were queued."""
    from judgeapp.judging.tasks import judging_pump_task

    now = timezone.now()
    alive = JudgingPump.objects.filter(
        Q(beat_at__gte=now - timedelta(seconds=pump.pump_stale_seconds()))
        | Q(
            started_at__isnull=True,
            enqueued_at__gte=now - timedelta(seconds=pump.PUMP_START_GRACE_SECONDS),
        )
    ).count()
    queued = 0
    for _ in range(settings.JUDGING_PUMPS - alive):
        owner = uuid.uuid4().hex
        JudgingPump.objects.create(owner=owner, enqueued_at=now, beat_at=now)
        try:
            judging_pump_task.apply_async(args=[owner])
        except Exception:
            # The broker is down: forget the pump, so the reconciler's next round sends one
            # rather than wait out the start grace of a pump that was never queued. The run
            # itself is already saved; the user's request must not fail for this.
            JudgingPump.objects.filter(pk=owner).delete()
            log.warning("could not queue a judging pump; the reconciler will retry", exc_info=True)
            break
        queued += 1
    return queued


@dataclass
class Reconciled:
    requeued: int = 0
    stopped: int = 0
    runs_done: int = 0
    pumps_queued: int = 0


def judging_reconcile() -> Reconciled:
    """Periodic repair: judgments whose lease ran out (their process died) go back to the queue,
    or end with their stopped run; finished runs are closed; pumps are restarted where work waits
    and none lives. Safe to run at any time, any number of times."""
    now = timezone.now()
    result = Reconciled()
    expired = Judgment.objects.filter(status=Judgment.Status.RUNNING, lease_expires_at__lt=now)
    result.requeued = expired.filter(run__status__in=JudgeRun.ACTIVE).update(
        status=Judgment.Status.QUEUED, lease_owner="", lease_expires_at=None
    )
    result.stopped = expired.filter(run__status=JudgeRun.Status.CANCELLED).update(
        status=Judgment.Status.CANCELLED, lease_owner="", lease_expires_at=None, finished_at=now
    )
    result.stopped += expired.exclude(run__status=JudgeRun.Status.CANCELLED).update(
        status=Judgment.Status.QUEUED, lease_owner="", lease_expires_at=None
    )
    JudgingPump.objects.filter(
        Q(started_at__isnull=False, beat_at__lt=now - timedelta(seconds=pump.pump_stale_seconds()))
        | Q(
            started_at__isnull=True,
            enqueued_at__lt=now - timedelta(seconds=pump.PUMP_START_GRACE_SECONDS),
        )
    ).delete()
    active = set(JudgeRun.objects.filter(status__in=JudgeRun.ACTIVE).values_list("id", flat=True))
    result.runs_done = pump.runs_finish(run_ids=active)
    if pump.work_waiting():
        result.pumps_queued = pumps_ensure()
    if result.requeued or result.stopped or result.pumps_queued:
        log.info("judging reconciled: %s", result)
    return result


# Playground ------------------------------------------------------------------------------------

PLAYGROUND_NAME = "Playground"
CONNECTION_TEST_ITEM = {
    "conversation": [{"role": "user", "content": "What is 2 + 2?"}],
    "response_1": "2 + 2 = 4.",
    "response_2": "2 + 2 = 5.",
}


def _playground_dataset(team: Team, by: User | None) -> Dataset:
    dataset = Dataset.objects.filter(team=team, is_playground=True).first()
    if dataset is not None:
        return dataset
    name = PLAYGROUND_NAME
    if Dataset.objects.filter(team=team, name=name).exists():
        name = f"{PLAYGROUND_NAME} ({team.pk})"
    return Dataset.objects.create(
        team=team,
        name=name,
        is_playground=True,
        created_by=by,
        description="Items judged in the playground and by judges' connection tests.",
    )


def _check_conversation(conversation) -> list[dict]:
    if not isinstance(conversation, list) or not conversation:
        raise ApplicationError("conversation: expected at least one turn.")
    turns = []
    for number, turn in enumerate(conversation, 1):
        if not isinstance(turn, dict):
            raise ApplicationError(f"conversation turn {number}: expected role and content.")
        role, content = turn.get("role"), turn.get("content")
        if role not in ("system", "user", "assistant"):
            raise ApplicationError(
                f"conversation turn {number}: role must be system, user or assistant, got {role!r}."
            )
        if not isinstance(content, str) or not content.strip():
            raise ApplicationError(f"conversation turn {number}: the {role} turn is empty.")
        turns.append({"role": role, "content": content})
    if turns[-1]["role"] != "user":
        raise ApplicationError("conversation: the last turn must be from the user.")
    return turns


def playground_judge(
    *,
    team: Team,
    judge: Judge,
    by: User | None,
    conversation: list[dict],
    response_1: str,
    response_2: str,
    principles: list[str] | None = None,
    swapped: bool = False,
) -> Judgment:
    """Judge one typed-in comparison now, ahead of the judge's runs. The item is kept in the
    team's playground dataset; its verdict arrives like any other judgment."""
    if judge.team_id != team.pk:
        raise ApplicationError("The judge must belong to the team.")
    if judge.protocol == Judge.Protocol.IMPORTED:
        raise ApplicationError(f"{judge.name} holds imported verdicts; it cannot be asked.")
    conversation = _check_conversation(conversation)
    for field, text in (("response_1", response_1), ("response_2", response_2)):
        if not isinstance(text, str) or not text.strip():
            raise ApplicationError(f"{field}: the response is empty.")
    principles = [p.strip() for p in (principles or []) if isinstance(p, str) and p.strip()]
    with transaction.atomic():
        dataset = _playground_dataset(team, by)
        comparison = Comparison.objects.create(
            dataset=dataset,
            external_id=f"playground-{uuid.uuid4().hex[:12]}",
            conversation=conversation,
            response_1=response_1,
            response_2=response_2,
            principles=principles,
        )
        run = JudgeRun.objects.create(
            team=team,
            judge=judge,
            dataset=dataset,
            filters={"id": comparison.external_id},
            principles_override=None,
            both_orders=swapped,
            priority=PLAYGROUND_PRIORITY,
            config=_run_config(judge, max_attempts=PLAYGROUND_MAX_ATTEMPTS),
            created_by=by,
        )
        judgment = Judgment.objects.create(run=run, comparison=comparison, swapped=swapped)
        transaction.on_commit(pumps_ensure)
    return judgment


def judge_test_connection(*, judge: Judge, by: User | None) -> Judgment:
    """Send the judge one tiny comparison through the normal path; the verdict (or the reason
    it failed) shows on the judge's page."""
    return playground_judge(team=judge.team, judge=judge, by=by, **CONNECTION_TEST_ITEM)


def playground_save(
    *, judgment: Judgment, dataset: Dataset, by: User | None, external_id: str = ""
) -> Comparison:
    """Copy a playground item into one of the team's datasets."""
    source = judgment.comparison
    if dataset.team_id != judgment.run.team_id:
        raise ApplicationError("The dataset must belong to the team.")
    if dataset.is_playground:
        raise ApplicationError("Choose a dataset other than the playground.")
    external_id = (external_id or "").strip() or source.external_id
    if Comparison.objects.filter(dataset=dataset, external_id=external_id).exists():
        raise ApplicationError(f"{dataset.name} already has an item with id {external_id!r}.")
    comparison = Comparison.objects.create(
        dataset=dataset,
        external_id=external_id,
        conversation=source.conversation,
        response_1=source.response_1,
        response_2=source.response_2,
        principles=source.principles,
        metadata={"source": "playground"},
    )
    if "source" not in dataset.metadata_keys:
        dataset.metadata_keys = sorted([*dataset.metadata_keys, "source"])
        dataset.save(update_fields=["metadata_keys"])
    search_index_dataset(dataset_id=dataset.pk)
    return comparison
