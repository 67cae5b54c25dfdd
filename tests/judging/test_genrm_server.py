"""The fake GenRM server, driven through the real openai client over loopback HTTP."""

import asyncio
import http.client
import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from openai import (
    APIConnectionError,
    APITimeoutError,
    AsyncOpenAI,
    AuthenticationError,
    BadRequestError,
    DefaultHttpxClient,
    InternalServerError,
    NotFoundError,
    OpenAI,
    RateLimitError,
)

from tests.genrm_server import (
    FAULTS,
    REASONING_PLACEMENTS,
    VERDICT_FORMATS,
    FakeGenRM,
    expected_verdict,
    fault_marker,
    ranking_for,
    score,
    wrap_response,
)

SERVER_SCRIPT = Path(__file__).resolve().parent.parent / "genrm_server.py"
MODEL = "nvidia/Qwen3-Nemotron-235B-A22B-GenRM"
A = "Paris is the capital of France."
B = "I think it might be Lyon, but I am not sure."


_http_clients = []


@pytest.fixture(scope="module", autouse=True)
def _shared_http_client():
    # Building an HTTP client costs ~0.1 s (TLS context), so every OpenAI client shares one.
    _http_clients.append(DefaultHttpxClient())
    yield
    _http_clients.pop().close()


@pytest.fixture
def server():
    with FakeGenRM() as fake:
        yield fake


def client_for(fake, **kwargs):
    kwargs.setdefault("max_retries", 0)
    kwargs.setdefault("timeout", 10)
    return OpenAI(base_url=fake.base_url, api_key="x", http_client=_http_clients[-1], **kwargs)


def genrm_messages(
    response_1=A, response_2=B, question="What is the capital of France?", principles=None
):
    """History + principle(s) + the two responses; ``principles=("after", [...])`` moves them."""
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": question},
    ]
    where, items = principles if principles else ("before", [])
    tail = [
        {"role": "response_1", "content": response_1},
        {"role": "response_2", "content": response_2},
    ]
    principle = [{"role": "principle", "content": "\n".join(items)}] if items else []
    return messages + (principle + tail if where == "before" else tail + principle)


def judge_messages(response_1=A, response_2=B, question="What is the capital of France?"):
    prompt = (
        f"Conversation:\nuser: {question}\n\n"
        f"{wrap_response(1, response_1)}\n\n{wrap_response(2, response_2)}\n\n"
        'Answer with JSON {"score_1", "score_2", "ranking"}.'
    )
    return [
        {"role": "system", "content": "You judge two responses."},
        {"role": "user", "content": prompt},
    ]


def ask(client, messages, **kwargs):
    return client.chat.completions.create(model=MODEL, messages=messages, **kwargs)


def verdict_part(content):
    return content.rsplit("</think>", 1)[-1]


def call(url, method, path, payload=None, raw=None):
    """(status, JSON body) of one plain HTTP call to the server at ``url``."""
    host, port = url.removeprefix("http://").split("/")[0].split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        body = raw if raw is not None else None if payload is None else json.dumps(payload)
        connection.request(method, path, body=body, headers={"Content-Type": "application/json"})
        reply = connection.getresponse()
        return reply.status, json.loads(reply.read())
    finally:
        connection.close()


# ---- the verdict function


def test_expected_verdict_follows_the_documented_rule():
    pairs = [(f"answer {i}", f"other {i}") for i in range(60)]
    seen = set()
    for r1, r2 in pairs:
        s1, s2, ranking = expected_verdict(r1, r2)
        assert (s1, s2) == (score(r1), score(r2))
        assert 1 <= s1 <= 5 and 1 <= s2 <= 5 and 1 <= ranking <= 6
        if s1 > s2:
            assert ranking == {1: 3, 2: 2}.get(s1 - s2, 1)
        elif s1 < s2:
            assert ranking == {1: 4, 2: 5}.get(s2 - s1, 6)
        else:
            assert ranking in (3, 4)
        seen.add(ranking)
    assert seen == {1, 2, 3, 4, 5, 6}
    assert ranking_for(2, 2, True) == 3 and ranking_for(2, 2, False) == 4
    # Whitespace around a response does not change its score.
    assert expected_verdict(f"\n{A}\n", B) == expected_verdict(A, B)
    # Ties are broken by the hashes, so swapping tied responses flips 3 and 4.
    r1, r2 = next((r1, r2) for r1, r2 in pairs if score(r1) == score(r2))
    assert {expected_verdict(r1, r2)[2], expected_verdict(r2, r1)[2]} == {3, 4}


# ---- verdict formats and reasoning placement


@pytest.mark.parametrize("fmt", VERDICT_FORMATS)
def test_verdict_formats(fmt):
    s1, s2, ranking = expected_verdict(A, B)
    with FakeGenRM(verdict=fmt) as fake:
        principles = ("before", ["Be correct.", "Be concise."])
        reply = ask(client_for(fake), genrm_messages(principles=principles))
    choice = reply.choices[0]
    assert choice.finish_reason == "stop"
    verdict = verdict_part(choice.message.content).strip()
    if fmt == "json":
        assert json.loads(verdict) == {"score_1": s1, "score_2": s2, "ranking": ranking}
    elif fmt == "json_fenced":
        block = re.search(r"```json\n(.*?)\n```", verdict, re.S).group(1)
        data = json.loads(block)
        assert {"response_1_analysis", "response_2_analysis"} <= set(data)
        assert (data["score_1"], data["score_2"], data["ranking"]) == (s1, s2, ranking)
    elif fmt == "json_nested":
        data = json.loads(verdict)
        assert data["overall"] == {"score_1": s1, "score_2": s2, "ranking": ranking}
        assert [r["principle"] for r in data["rubric_evaluations"]] == [
            "Be correct.",
            "Be concise.",
        ]
    else:
        assert verdict == (
            "[The Begin of Individual Scores]\n"
            f"\\boxed{{{s1}, {s2}}}\n"
            "[The End of Individual Scores]\n"
            "[The Begin of Ranking Score]\n"
            f"\\boxed{{{ranking}}}\n"
            "[The End of Ranking Score]"
        )


@pytest.mark.parametrize("placement", REASONING_PLACEMENTS)
def test_reasoning_placements(placement):
    s1, s2, ranking = expected_verdict(A, B)
    with FakeGenRM(reasoning=placement) as fake:
        message = ask(client_for(fake), genrm_messages()).choices[0].message
    extra = message.model_extra or {}
    if placement == "content":
        assert message.content.startswith("<think>\n")
        reasoning, verdict = message.content[len("<think>\n") :].split("</think>")
    elif placement == "content_no_open_tag":
        assert "<think>" not in message.content
        reasoning, verdict = message.content.split("</think>")
    else:
        assert "think>" not in message.content
        other = "reasoning_content" if placement == "reasoning" else "reasoning"
        assert other not in extra
        # The openai client keeps unknown message fields as extra attributes.
        reasoning, verdict = getattr(message, placement), message.content
        assert extra[placement] == reasoning
    assert f"{s1} out of 5" in reasoning and f"{s2} out of 5" in reasoning
    assert json.loads(verdict) == {"score_1": s1, "score_2": s2, "ranking": ranking}


def test_reply_shape_and_recorded_request(server):
    reply = ask(
        client_for(server),
        genrm_messages(),
        temperature=0.6,
        top_p=0.95,
        max_tokens=16384,
    )
    assert reply.object == "chat.completion"
    assert reply.id and reply.created and reply.model == MODEL
    assert reply.choices[0].index == 0 and reply.choices[0].message.role == "assistant"
    usage = reply.usage
    assert usage.prompt_tokens >= 1 and usage.completion_tokens >= 1
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    (record,) = server.requests
    assert record["model"] == MODEL and record["messages"] == genrm_messages()
    assert (record["temperature"], record["top_p"], record["max_tokens"]) == (0.6, 0.95, 16384)
    assert record["response_format"] is None
    assert record["outcome"] == "ok" and record["protocol"] == "genrm"
    assert record["verdict"] == expected_verdict(A, B)


def test_principles_after_the_responses_and_several_messages(server):
    client = client_for(server)
    server.verdict = "json_nested"
    messages = genrm_messages(principles=("after", ["One.", "Two."]))
    messages.append({"role": "principle", "content": "Three."})
    data = json.loads(verdict_part(ask(client, messages).choices[0].message.content))
    assert [r["principle"] for r in data["rubric_evaluations"]] == ["One.", "Two.", "Three."]
    assert tuple(data["overall"].values()) == expected_verdict(A, B)


def test_candidate_text_is_scored_as_received(server):
    # The app strips candidate reasoning; the server scores exactly what it is sent.
    raw = "<think>draft</think>\nParis."
    content = ask(client_for(server), genrm_messages(raw, B)).choices[0].message.content
    assert tuple(json.loads(verdict_part(content)).values()) == expected_verdict(raw, B)


# ---- llm-judge protocol


def test_llm_judge_plain_json_and_response_format(server):
    server.verdict, server.reasoning = "boxed", "content"  # ignored for llm-judge
    schema = {
        "type": "json_schema",
        "json_schema": {"name": "verdict", "schema": {"type": "object"}},
    }
    reply = ask(client_for(server), judge_messages(), response_format=schema)
    content = reply.choices[0].message.content
    s1, s2, ranking = expected_verdict(A, B)
    assert json.loads(content) == {"score_1": s1, "score_2": s2, "ranking": ranking}
    assert server.requests[-1]["response_format"] == schema
    assert server.requests[-1]["protocol"] == "llm-judge"
    # Same texts, same verdict as over the genrm protocol; swapping swaps the scores.
    swapped = json.loads(ask(client_for(server), judge_messages(B, A)).choices[0].message.content)
    assert (swapped["score_1"], swapped["score_2"]) == (s2, s1)


def test_llm_judge_without_response_blocks_is_rejected(server):
    messages = [{"role": "user", "content": "<response_1>\nonly one\n</response_1>"}]
    with pytest.raises(BadRequestError) as caught:
        ask(client_for(server), messages)
    assert "<response_2>" in caught.value.body["message"]
    assert server.served == {"invalid": 1}


# ---- request validation


@pytest.mark.parametrize(
    ("messages", "needle"),
    [
        (genrm_messages()[:-1], "exactly one 'response_2'"),
        ([*genrm_messages(), {"role": "response_1", "content": "x"}], "exactly one 'response_1'"),
        (
            [
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": "a"},
                {"role": "response_1", "content": "x"},
                {"role": "response_2", "content": "y"},
            ],
            "end with a user turn",
        ),
        (genrm_messages()[2:], "history"),
        ([*genrm_messages(), {"role": "user", "content": "more"}], "after the judged responses"),
        (
            [
                {"role": "user", "content": "q"},
                {"role": "response_2", "content": "y"},
                {"role": "response_1", "content": "x"},
            ],
            "must directly follow",
        ),
        ([{"role": "user", "content": "q"}, {"role": "critic", "content": "x"}], "critic"),
    ],
)
def test_bad_genrm_shapes_get_an_openai_style_400(server, messages, needle):
    with pytest.raises(BadRequestError) as caught:
        ask(client_for(server), messages)
    error = caught.value
    assert error.status_code == 400
    assert needle in error.body["message"]
    assert error.body["type"] == "invalid_request_error"
    assert set(error.body) == {"message", "type", "param", "code"}


def test_missing_model_and_bad_json_over_raw_http(server):
    status, body = call(server.url, "POST", "/v1/chat/completions", {"messages": genrm_messages()})
    assert status == 400 and "'model'" in body["error"]["message"]
    status, body = call(server.url, "POST", "/v1/chat/completions", {"model": "m", "messages": []})
    assert status == 400 and "'messages'" in body["error"]["message"]
    status, body = call(server.url, "POST", "/v1/chat/completions", raw=b"{not json")
    assert status == 400 and "not valid JSON" in body["error"]["message"]
    assert server.served == {"invalid": 3}


# ---- faults


@pytest.mark.parametrize(
    ("fault", "error_class", "status"),
    [
        ("500", InternalServerError, 500),
        ("429", RateLimitError, 429),
        ("401", AuthenticationError, 401),
        ("404", NotFoundError, 404),
        ("400", BadRequestError, 400),
        ("reject_roles", BadRequestError, 400),
    ],
)
def test_queued_error_faults(server, fault, error_class, status):
    server.retry_after = "7"
    client = client_for(server)
    server.add_faults(fault)
    with pytest.raises(error_class) as caught:
        ask(client, genrm_messages())
    assert caught.value.status_code == status
    assert caught.value.body["message"]
    if fault == "429":
        assert caught.value.response.headers["retry-after"] == "7"
    if fault == "reject_roles":
        assert "'response_1'" in caught.value.body["message"]
    # One-shot: the next request gets its verdict.
    assert ask(client, genrm_messages()).choices[0].finish_reason == "stop"
    assert server.served == {
        ("reject_roles" if fault == "reject_roles" else f"fault_{fault}"): 1,
        "ok": 1,
    }


def test_faults_apply_in_order_and_unknown_names_are_refused(server):
    client = client_for(server)
    server.add_faults("500", "429", "garbage")
    assert server.pending_faults == ["500", "429", "garbage"]
    with pytest.raises(InternalServerError):
        ask(client, genrm_messages())
    with pytest.raises(RateLimitError):
        ask(client, genrm_messages())
    assert ask(client, genrm_messages()).choices[0].message.content
    assert server.pending_faults == []
    with pytest.raises(ValueError, match="unknown fault"):
        server.add_faults("418")
    names = {"500", "429", "hang", "garbage", "truncated", "reject_roles", "401", "404", "400"}
    assert names == FAULTS


def test_hang_until_the_client_gives_up():
    fake = FakeGenRM(hang_seconds=30).start()
    try:
        fake.add_faults("hang")
        with pytest.raises(APITimeoutError):
            ask(client_for(fake, timeout=0.3), genrm_messages())
        assert fake.open_now == 1  # still holding the request
        assert ask(client_for(fake), genrm_messages()).choices[0].finish_reason == "stop"
    finally:
        started = time.monotonic()
        fake.stop()  # wakes the hung handler
    assert fake.wait_until(lambda s: s.open_now == 0, timeout=5)
    assert time.monotonic() - started < 5
    assert fake.served == {"ok": 1, "hang": 1}


def test_hang_ends_after_hang_seconds_by_dropping_the_connection(server):
    server.hang_seconds = 0.2
    server.add_faults("hang")
    with pytest.raises(APIConnectionError) as caught:
        ask(client_for(server, timeout=5), genrm_messages())
    assert not isinstance(caught.value, APITimeoutError)
    assert server.wait_until(lambda s: s.served == {"hang": 1})


def test_garbage_has_no_verdict(server):
    server.add_faults("garbage")
    choice = ask(client_for(server), genrm_messages()).choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.content and not re.search(r"[0-9{}\\]", choice.message.content)
    assert "</think>" not in choice.message.content


def test_truncated_stops_mid_reasoning(server):
    server.add_faults("truncated")
    choice = ask(client_for(server), genrm_messages()).choices[0]
    assert choice.finish_reason == "length"
    assert choice.message.content.startswith("<think>\n")
    assert "</think>" not in choice.message.content and "{" not in choice.message.content
    assert server.served == {"truncated": 1}


def test_fail_rate_is_seeded_and_uses_fail_status():
    def outcomes(seed):
        with FakeGenRM(fail_rate=0.5, fail_status=503, seed=seed) as fake:
            client = client_for(fake)
            result = []
            for _ in range(20):
                try:
                    ask(client, genrm_messages())
                    result.append("ok")
                except InternalServerError as exc:
                    assert exc.status_code == 503
                    result.append("fail")
            assert fake.served == {"ok": result.count("ok"), "fail_rate": result.count("fail")}
            return result

    first = outcomes(3)
    assert 0 < first.count("fail") < 20
    assert outcomes(3) == first
    assert outcomes(4) != first


def test_fail_rate_with_429_sends_retry_after():
    fake = FakeGenRM(fail_rate=1.0, fail_status=429, retry_after="2")
    with fake, pytest.raises(RateLimitError) as caught:
        ask(client_for(fake), genrm_messages())
    assert caught.value.response.headers["retry-after"] == "2"


# ---- per-item fault markers


def test_counted_marker_applies_to_the_first_requests_of_that_item(server):
    client = client_for(server)
    question = f"Capital of France? {fault_marker('500', 2)}"
    for _ in range(2):
        with pytest.raises(InternalServerError):
            ask(client, genrm_messages(question=question))
    # The swapped pair of the same item shares the count.
    content = ask(client, genrm_messages(B, A, question=question)).choices[0].message.content
    assert tuple(json.loads(verdict_part(content)).values()) == expected_verdict(B, A)
    # Another item with the same marker has its own count.
    with pytest.raises(InternalServerError):
        ask(client, genrm_messages(question=f"Capital of Spain? {fault_marker('500', 2)}"))
    # Only the last user turn counts.
    messages = genrm_messages()
    messages[0]["content"] += fault_marker("500")
    assert ask(client, messages).choices[0].finish_reason == "stop"


def test_uncounted_marker_and_sequenced_markers(server):
    client = client_for(server)
    always = f"Q {fault_marker('truncated')}"
    for _ in range(3):
        assert ask(client, genrm_messages(question=always)).choices[0].finish_reason == "length"
    sequence = "Q [[fault:500:1]] [[fault:429:1]]"
    with pytest.raises(InternalServerError):
        ask(client, genrm_messages(question=sequence))
    with pytest.raises(RateLimitError):
        ask(client, genrm_messages(question=sequence))
    assert ask(client, genrm_messages(question=sequence)).choices[0].finish_reason == "stop"
    server.clear_faults()  # forgets marker counts
    with pytest.raises(InternalServerError):
        ask(client, genrm_messages(question=sequence))


def test_marker_in_llm_judge_prompt(server):
    client = client_for(server)
    question = f"Capital? {fault_marker('reject_roles', 1)}"
    with pytest.raises(BadRequestError):
        ask(client, judge_messages(question=question))
    # Swapped responses are the same item: the one use is spent.
    content = ask(client, judge_messages(B, A, question=question)).choices[0].message.content
    assert tuple(json.loads(content).values()) == expected_verdict(B, A)
    # A marker inside a response block is part of the response, not a steer.
    marked = f"{A} {fault_marker('500')}"
    assert ask(client, judge_messages(marked, B)).choices[0].message.content


# ---- strict roles, scripted answers


def test_strict_roles_rejects_genrm_roles_only():
    with FakeGenRM(strict_roles=True) as fake:
        client = client_for(fake)
        with pytest.raises(BadRequestError) as caught:
            ask(client, genrm_messages(principles=("before", ["Be correct."])))
        assert "'principle'" in caught.value.body["message"]
        assert "only system, user, assistant and tool" in caught.value.body["message"]
        assert ask(client, judge_messages()).choices[0].message.content
        assert fake.served == {"reject_roles": 1, "ok": 1}


def test_answer_hook_scripts_replies():
    seen = []

    def answer(messages):
        seen.append(messages)
        if messages[-1]["content"] == "error":
            return {"status": 503, "error": "scripted outage"}
        if messages[-1]["content"] == "default":
            return None
        return {"content": "no verdict here", "reasoning": "thinking", "finish_reason": "length"}

    with FakeGenRM(answer=answer) as fake:
        client = client_for(fake)
        choice = ask(client, genrm_messages()).choices[0]
        assert (choice.message.content, choice.message.reasoning) == ("no verdict here", "thinking")
        assert choice.finish_reason == "length"
        with pytest.raises(InternalServerError, match="scripted outage"):
            ask(client, genrm_messages(response_2="error"))
        content = ask(client, genrm_messages(response_2="default")).choices[0].message.content
        assert json.loads(verdict_part(content))["score_2"] == score("default")
    assert seen[0] == genrm_messages()
    assert fake.served == {"custom": 1, "custom_503": 1, "ok": 1}


# ---- capacity and accounting


def test_capacity_is_never_exceeded_while_all_requests_count_as_open():
    release = threading.Event()

    def answer(messages):
        release.wait(5)

    capacity = 3
    with FakeGenRM(capacity=capacity, answer=answer) as fake:
        client = client_for(fake)
        threads = [
            threading.Thread(target=ask, args=(client, genrm_messages()))
            for _ in range(2 * capacity)
        ]
        for thread in threads:
            thread.start()
        assert fake.wait_until(lambda s: s.open_now == 2 * capacity and s.serving_now == capacity)
        assert fake.stats()["serving_now"] == capacity
        release.set()
        for thread in threads:
            thread.join(5)
        assert fake.wait_until(lambda s: s.open_now == 0)
    assert fake.max_open == 2 * capacity
    assert fake.max_serving == capacity
    assert fake.total == 2 * capacity and fake.served == {"ok": 2 * capacity}


def test_service_time_with_capacity_serves_in_waves():
    capacity, service_time = 4, 0.15
    with FakeGenRM(service_time=service_time, capacity=capacity) as fake:
        client = client_for(fake)
        start = threading.Barrier(2 * capacity + 1)
        replies = []

        def call():
            start.wait()
            replies.append(ask(client, genrm_messages()))

        threads = [threading.Thread(target=call) for _ in range(2 * capacity)]
        for thread in threads:
            thread.start()
        started = time.monotonic()
        start.wait()
        for thread in threads:
            thread.join(10)
        elapsed = time.monotonic() - started
    assert len(replies) == 2 * capacity
    assert fake.max_serving == capacity
    assert fake.max_open > capacity
    assert elapsed >= 2 * service_time * 0.95


def test_async_client_many_in_flight():
    async def run(fake):
        client = AsyncOpenAI(base_url=fake.base_url, api_key="x", max_retries=0)
        pairs = [(f"a{i}", f"b{i}") for i in range(40)]
        replies = await asyncio.gather(
            *(
                client.chat.completions.create(model=MODEL, messages=genrm_messages(a, b))
                for a, b in pairs
            )
        )
        await client.close()
        return pairs, replies

    with FakeGenRM(service_time=1.0, capacity=40) as fake:
        pairs, replies = asyncio.run(run(fake))
    for (a, b), reply in zip(pairs, replies, strict=True):
        content = verdict_part(reply.choices[0].message.content)
        assert tuple(json.loads(content).values()) == expected_verdict(a, b)
    assert fake.max_serving == fake.max_open == 40


def test_reset_stats_and_request_log(server):
    client = client_for(server)
    for _ in range(3):
        ask(client, genrm_messages())
    assert (server.total, len(server.requests), server.max_open) == (3, 3, 1)
    server.reset_stats()
    assert (server.total, server.served, server.requests, server.max_open) == (0, {}, [], 0)


# ---- HTTP control endpoints, models


def test_models_and_control_endpoints(server):
    client = client_for(server)
    assert [m.id for m in client.models.list()] == ["fake-genrm"]
    ask(client, genrm_messages())
    status, stats = call(server.url, "GET", "/_stats")
    assert status == 200
    assert {k: stats[k] for k in ("open_now", "max_open", "total", "served")} == {
        "open_now": 0,
        "max_open": 1,
        "total": 1,
        "served": {"ok": 1},
    }
    status, _ = call(
        server.url,
        "POST",
        "/_config",
        {"verdict": "boxed", "reasoning": "reasoning_content", "capacity": 2, "faults": ["500"]},
    )
    assert status == 200
    assert (server.verdict, server.reasoning, server.capacity) == ("boxed", "reasoning_content", 2)
    with pytest.raises(InternalServerError):
        ask(client, genrm_messages())
    message = ask(client, genrm_messages()).choices[0].message
    assert message.content.startswith("[The Begin of Individual Scores]")
    assert message.reasoning_content
    for bad in ({"verdict": "xml"}, {"colour": "red"}, {"fail_rate": 2}):
        status, body = call(server.url, "POST", "/_config", bad)
        assert status == 400 and body["error"]["message"]
    server.add_faults("500")
    status, stats = call(server.url, "POST", "/_reset")
    assert status == 200 and stats["total"] == 0 and stats["pending_faults"] == []
    assert call(server.url, "GET", "/nowhere")[0] == 404


# ---- standalone


def test_standalone_subprocess():
    process = subprocess.Popen(
        [
            sys.executable,
            str(SERVER_SCRIPT),
            "--port",
            "0",
            "--service-time",
            "0.05",
            "--capacity",
            "4",
            "--verdict",
            "boxed",
            "--reasoning",
            "reasoning",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        base_url = process.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1", base_url)
        client = OpenAI(
            base_url=base_url, api_key="x", max_retries=0, timeout=10, http_client=_http_clients[-1]
        )
        message = ask(client, genrm_messages()).choices[0].message
        s1, s2, ranking = expected_verdict(A, B)
        assert f"\\boxed{{{s1}, {s2}}}" in message.content
        assert f"\\boxed{{{ranking}}}" in message.content
        assert message.reasoning
        assert call(base_url, "GET", "/_stats")[1]["served"] == {"ok": 1}
    finally:
        process.terminate()
        returncode = process.wait(timeout=10)
    assert returncode == 0
