import pytest

from judgeapp.datasets.selectors import ItemFilters
from judgeapp.judging import verdicts
from judgeapp.judging.models import JudgeRun, JudgingPump, Judgment
from judgeapp.judging.services import run_start
from tests.genrm_server import expected_verdict, fault_marker
from tests.judging.conftest import run_pumps

pytestmark = pytest.mark.django_db(transaction=True)


def test_run_stores_every_verdict_in_canonical_order(team, admin, make_judge, make_dataset, genrm):
    judge = make_judge()
    dataset = make_dataset(6)
    run = run_start(team=team, dataset=dataset, judge=judge, by=admin, both_orders=True)
    run_pumps()
    run.refresh_from_db()
    assert run.status == JudgeRun.Status.DONE
    judgments = list(run.judgments.select_related("comparison"))
    assert len(judgments) == 12
    for j in judgments:
        s1, s2, ranking = expected_verdict(j.comparison.response_1, j.comparison.response_2)
        assert j.status == Judgment.Status.DONE
        assert j.parse_status in (Judgment.ParseStatus.OK, Judgment.ParseStatus.INCONSISTENT)
        # Whatever order the judge saw, the row is in the comparison's order.
        assert (j.score_1, j.score_2, j.ranking) == (s1, s2, ranking)
        assert j.preference == verdicts.preference_from_ranking(ranking)
        assert j.attempts == 1
        assert j.reasoning and j.raw_output and j.latency_ms is not None
        assert j.prompt_tokens and j.completion_tokens
    # The swapped requests really put response_2 first.
    swapped_requests = [
        r for r in genrm.requests if r["messages"][-2]["content"].startswith("Answer B")
    ]
    assert len(swapped_requests) == 6


@pytest.mark.parametrize("verdict", ["json", "json_fenced", "json_nested", "boxed"])
@pytest.mark.parametrize(
    "reasoning", ["content", "content_no_open_tag", "reasoning", "reasoning_content"]
)
def test_every_verdict_format_and_reasoning_placement_parses(
    team, admin, make_judge, make_dataset, genrm, verdict, reasoning
):
    genrm.configure(verdict=verdict, reasoning=reasoning)
    run = run_start(team=team, dataset=make_dataset(2), judge=make_judge(), by=admin)
    run_pumps()
    for j in run.judgments.all():
        assert j.preference is not None, (j.parse_status, j.error, j.raw_output)
        assert "score" in j.reasoning.lower() or j.reasoning


def test_open_requests_never_exceed_max_in_flight_across_pumps(
    team, admin, make_judge, make_dataset, genrm
):
    genrm.configure(service_time=0.05)
    judge = make_judge(max_in_flight=3)
    run = run_start(team=team, dataset=make_dataset(40), judge=judge, by=admin)
    run_pumps(3)
    assert genrm.stats()["max_open"] == 3
    assert run.judgments.filter(status=Judgment.Status.DONE).count() == 40


def test_principles_override_is_sent_and_recorded(team, admin, make_judge, make_dataset, genrm):
    run = run_start(
        team=team,
        dataset=make_dataset(2),
        judge=make_judge(),
        by=admin,
        principles=["Be exact.", "Prefer short answers."],
    )
    run_pumps()
    run.refresh_from_db()
    assert run.principles_override == ["Be exact.", "Prefer short answers."]
    for request in genrm.requests:
        principle = [m for m in request["messages"] if m["role"] == "principle"]
        assert principle == [{"role": "principle", "content": "Be exact.\nPrefer short answers."}]


def test_run_over_filtered_subset_and_samples(team, admin, make_judge, make_dataset):
    dataset = make_dataset(6, texts=lambda i: {"metadata": {"domain": "code" if i < 2 else "math"}})
    run = run_start(
        team=team,
        dataset=dataset,
        judge=make_judge(),
        by=admin,
        filters=ItemFilters(meta=[("domain", "code")]),
        samples=3,
    )
    assert run.judgments.count() == 6
    assert sorted(run.judgments.values_list("sample", flat=True)) == [0, 0, 1, 1, 2, 2]
    assert run.filters == {"meta": ["domain:code"]}


def test_transient_failures_are_retried_until_every_judgment_is_done(
    team, admin, make_judge, make_dataset, genrm, fast_retries
):
    genrm.configure(fail_rate=0.3)
    run = run_start(team=team, dataset=make_dataset(40), judge=make_judge(), by=admin)
    run_pumps()
    run.refresh_from_db()
    assert run.status == JudgeRun.Status.DONE
    assert run.judgments.filter(status=Judgment.Status.DONE).count() == 40
    assert run.judgments.filter(attempts__gt=1).exists()
    assert genrm.stats()["total"] > 40


def test_rate_limit_waits_for_retry_after(
    team, admin, make_judge, make_dataset, genrm, fast_retries
):
    fast_retries.JUDGING_RETRY_MAX_SECONDS = 5
    genrm.configure(retry_after="0.6")
    genrm.add_faults("429")
    run = run_start(team=team, dataset=make_dataset(1), judge=make_judge(), by=admin)
    run_pumps()
    j = run.judgments.get()
    assert j.status == Judgment.Status.DONE and j.attempts == 2
    first, second = genrm.requests
    assert second["received"] - first["received"] >= 0.6


def test_hung_request_times_out_and_is_retried(
    team, admin, make_judge, make_dataset, genrm, fast_retries
):
    genrm.add_faults("hang")
    run = run_start(
        team=team, dataset=make_dataset(1), judge=make_judge(timeout_seconds=1), by=admin
    )
    run_pumps()
    j = run.judgments.get()
    assert j.status == Judgment.Status.DONE and j.attempts == 2


def test_garbage_and_truncated_replies_are_recorded_with_their_text(
    team, admin, make_judge, make_dataset
):
    markers = {0: fault_marker("garbage"), 1: fault_marker("truncated")}
    dataset = make_dataset(
        3,
        texts=lambda i: {
            "conversation": [{"role": "user", "content": f"Q{i} {markers.get(i, '')}"}]
        },
    )
    run = run_start(team=team, dataset=dataset, judge=make_judge(), by=admin)
    run_pumps()
    by_item = {j.comparison.external_id: j for j in run.judgments.select_related("comparison")}
    garbage, truncated, fine = by_item["item-0"], by_item["item-1"], by_item["item-2"]
    assert garbage.status == Judgment.Status.DONE
    assert garbage.parse_status == Judgment.ParseStatus.UNPARSEABLE
    assert garbage.preference is None and garbage.raw_output
    assert truncated.parse_status == Judgment.ParseStatus.TRUNCATED
    assert truncated.finish_reason == "length" and truncated.score_1 is None
    assert truncated.raw_output.startswith("<think>")
    assert fine.parse_status in ("ok", "inconsistent")
    run.refresh_from_db()
    assert run.status == JudgeRun.Status.DONE


def test_bad_request_fails_only_that_item(team, admin, make_judge, make_dataset):
    dataset = make_dataset(
        2,
        texts=lambda i: {
            "conversation": [
                {"role": "user", "content": f"Q{i} {fault_marker('400') if i == 0 else ''}"}
            ]
        },
    )
    run = run_start(team=team, dataset=dataset, judge=make_judge(), by=admin)
    run_pumps()
    run.refresh_from_db()
    assert run.status == JudgeRun.Status.DONE
    failed = run.judgments.get(status=Judgment.Status.FAILED)
    assert failed.comparison.external_id == "item-0" and "HTTP 400" in failed.error
    assert failed.attempts == 1


def test_server_rejecting_genrm_roles_stops_the_run_with_a_reason(
    team, admin, make_judge, make_dataset, genrm
):
    genrm.configure(strict_roles=True)
    judge = make_judge()
    run = run_start(team=team, dataset=make_dataset(30), judge=judge, by=admin)
    run_pumps()
    run.refresh_from_db()
    assert run.status == JudgeRun.Status.FAILED
    assert "rejects the GenRM roles" in run.error
    # It stopped at once: no more requests than one wave of max_in_flight.
    assert genrm.stats()["total"] <= judge.max_in_flight
    # Fixing the judge and retrying finishes the run.
    from judgeapp.judging.services import run_retry

    judge.protocol = "llm-judge"
    judge.save()
    genrm.configure(strict_roles=False)
    run.config["protocol"] = "llm-judge"
    run.save()
    assert run_retry(run=run) >= 1
    run_pumps()
    run.refresh_from_db()
    assert run.status == JudgeRun.Status.DONE
    assert run.judgments.filter(status=Judgment.Status.DONE).count() == 30


def test_refused_api_key_fails_the_run(team, admin, make_judge, make_dataset, genrm):
    genrm.add_faults("401")
    run = run_start(team=team, dataset=make_dataset(1), judge=make_judge(max_in_flight=1), by=admin)
    run_pumps()
    run.refresh_from_db()
    assert run.status == JudgeRun.Status.FAILED
    assert "refused the API key" in run.error


def test_expired_lease_goes_back_to_the_queue_and_the_old_holder_cannot_store(
    team, admin, make_judge, make_dataset, settings
):
    from datetime import timedelta

    from django.utils import timezone

    from judgeapp.judging import client as judge_client
    from judgeapp.judging.pump import Outcome, claim, store
    from judgeapp.judging.services import judging_reconcile

    run = run_start(team=team, dataset=make_dataset(2), judge=make_judge(), by=admin)
    grants = claim(owner="dead-worker")
    claimed = [c for grant in grants.values() for c in grant.claimed]
    assert len(claimed) == 2
    # The pump dies: its heartbeat stops (its request slots go) and its leases run out.
    JudgingPump.objects.filter(pk="dead-worker").update(
        beat_at=timezone.now() - timedelta(minutes=5)
    )
    run.judgments.update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    result = judging_reconcile()
    assert result.requeued == 2
    assert set(run.judgments.values_list("status", "lease_owner")) == {("queued", "")}
    # The dead worker's late answer is ignored; the judgment waits for a live pump.
    late = judge_client.Completion(
        content='{"score_1": 5, "score_2": 1, "ranking": 1}', reasoning=None,
        finish_reason="stop", prompt_tokens=1, completion_tokens=1, latency_ms=1,
    )  # fmt: skip
    store(
        owner="dead-worker",
        outcomes=[
            Outcome(c, completion=late, verdict=verdicts.parse_verdict(content=late.content))
            for c in claimed
        ],
    )
    assert not run.judgments.filter(status=Judgment.Status.DONE).exists()
    run_pumps()
    assert run.judgments.filter(status=Judgment.Status.DONE).count() == 2
    assert all(j.attempts == 2 for j in run.judgments.all())


def test_expired_leases_of_a_cancelled_run_end_cancelled(team, admin, make_judge, make_dataset):
    from datetime import timedelta

    from django.utils import timezone

    from judgeapp.judging.pump import claim
    from judgeapp.judging.services import judging_reconcile, run_cancel

    run = run_start(team=team, dataset=make_dataset(3), judge=make_judge(max_in_flight=2), by=admin)
    claim(owner="dead-worker")
    run_cancel(run=run)
    run.judgments.filter(status=Judgment.Status.RUNNING).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    judging_reconcile()
    assert set(run.judgments.values_list("status", flat=True)) == {Judgment.Status.CANCELLED}


def test_cancel_closes_the_open_requests(team, admin, make_judge, make_dataset, genrm):
    import threading

    from judgeapp.judging.services import run_cancel

    genrm.configure(service_time=30)
    run = run_start(team=team, dataset=make_dataset(5), judge=make_judge(max_in_flight=3), by=admin)
    pump = threading.Thread(target=run_pumps)
    pump.start()
    assert genrm.wait_until(lambda s: s.open_now == 3, timeout=20)
    run_cancel(run=run)
    # The pump dropped the requests (30 s each) instead of waiting for their answers.
    pump.join(timeout=20)
    assert not pump.is_alive()
    assert set(run.judgments.values_list("status", flat=True)) == {Judgment.Status.CANCELLED}


def test_a_pump_hands_over_when_its_time_is_up(team, admin, make_judge, make_dataset, genrm):
    import uuid

    from judgeapp.judging.pump import pump_run

    # Its time (0.5 s, counted from its start) runs out while its first two requests are open
    # (1 s each); the margin lets it claim them first on a loaded machine.
    genrm.configure(service_time=1.0)
    run = run_start(team=team, dataset=make_dataset(6), judge=make_judge(max_in_flight=2), by=admin)
    stats = pump_run(owner=uuid.uuid4().hex, max_seconds=0.5)
    # It finished the requests it had open, handed back the ones it held unsent, and left.
    assert stats.handed_over and stats.stored == 2 and stats.claimed >= 2
    assert run.judgments.filter(status=Judgment.Status.QUEUED).count() == 4
    run_pumps()
    assert run.judgments.filter(status=Judgment.Status.DONE).count() == 6


def test_pumps_ensure_queues_only_the_missing_pumps(
    settings, team, admin, make_judge, make_dataset
):
    from judgeapp.judging.models import JudgingPump
    from judgeapp.judging.services import pumps_ensure

    settings.JUDGING_PUMPS = 2
    JudgingPump.objects.all().delete()
    assert pumps_ensure() == 2
    assert pumps_ensure() == 0  # queued ones count as alive during their start grace
    assert JudgingPump.objects.count() == 2
