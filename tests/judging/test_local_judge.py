"""The local judge model (tests/judging/local_judge.py) answers an llm-judge request, through the
real openai client, with a verdict that parses and is in range."""

import json

import pytest
from openai import OpenAI

from tests.judging.local_judge import MODEL_ALIAS, RESPONSE_FORMAT, local_judge_or_skip

SYSTEM = (
    "You are an impartial judge of AI assistant responses. You are given a conversation between a "
    "user and an assistant, and two candidate final assistant responses, in <response_1> and "
    "<response_2>.\n"
    "Rate the helpfulness of each response on an integer scale from 1 (not helpful) to 5 (very "
    "helpful). Then rank them from 1 to 6: 1 = response 1 is much better than response 2, "
    "2 = better, 3 = slightly better, 4 = response 2 is slightly better than response 1, "
    "5 = better, 6 = much better. There is no tie.\n"
    'Answer with only a JSON object: {"score_1": <1-5>, "score_2": <1-5>, "ranking": <1-6>}.'
)
USER = (
    "<conversation>\nUser: What is the capital of Australia?\n</conversation>\n\n"
    "<response_1>\nThe capital of Australia is Canberra.\n</response_1>\n\n"
    "<response_2>\nThe capital of Australia is Sydney, its largest city.\n</response_2>\n\n"
    "Judge the two responses."
)


@pytest.fixture(scope="module")
def local_judge_url():
    with local_judge_or_skip() as base_url:
        yield base_url


def test_local_judge_answers_a_verdict_in_range(local_judge_url):
    client = OpenAI(base_url=local_judge_url, api_key="unused", max_retries=0, timeout=120)
    completion = client.chat.completions.create(
        model=MODEL_ALIAS,
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}],
        response_format=RESPONSE_FORMAT,
        temperature=0,
        max_tokens=64,
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "stop", choice
    verdict = json.loads(choice.message.content)
    assert set(verdict) == {"score_1", "score_2", "ranking"}, verdict
    assert all(type(value) is int for value in verdict.values()), verdict
    assert 1 <= verdict["score_1"] <= 5, verdict
    assert 1 <= verdict["score_2"] <= 5, verdict
    assert 1 <= verdict["ranking"] <= 6, verdict


@pytest.mark.django_db(transaction=True)
def test_a_run_through_the_app_against_the_local_judge(local_judge_url, team, admin):
    """The whole path (run, pump, prompt, JSON schema, parser, storage) with a real model."""
    from judgeapp.judging.models import JudgeRun, Judgment
    from judgeapp.judging.services import judge_create, run_start
    from tests.factories import ComparisonFactory, DatasetFactory
    from tests.judging.conftest import run_pumps

    judge = judge_create(
        team=team,
        by=admin,
        name="gemma",
        protocol="llm-judge",
        base_url=local_judge_url,
        model=MODEL_ALIAS,
        structured_output="json_object",
        max_in_flight=2,
        timeout_seconds=300,
        max_tokens=64,
    )
    dataset = DatasetFactory(team=team)
    questions = [
        ("What is the capital of Australia?", "Canberra.", "Sydney, its largest city."),
        ("How many legs does a spider have?", "Eight.", "Six, like all insects."),
    ]
    for question, right, wrong in questions:
        ComparisonFactory(
            dataset=dataset,
            conversation=[{"role": "user", "content": question}],
            response_1=right,
            response_2=wrong,
            principles=["Correctness matters most."],
        )
    run = run_start(team=team, dataset=dataset, judge=judge, by=admin, both_orders=True)
    run_pumps()
    run.refresh_from_db()
    assert run.status == JudgeRun.Status.DONE, run.error
    judgments = list(run.judgments.all())
    assert len(judgments) == 4
    for j in judgments:
        assert j.status == Judgment.Status.DONE, j.error
        assert j.parse_status in (Judgment.ParseStatus.OK, Judgment.ParseStatus.INCONSISTENT), (
            j.parse_status,
            j.raw_output,
        )
        assert 1 <= j.score_1 <= 5 and 1 <= j.score_2 <= 5 and 1 <= j.ranking <= 6
        assert j.preference in (-3, -2, -1, 1, 2, 3)
        assert j.finish_reason == "stop" and j.completion_tokens
