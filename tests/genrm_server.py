"""A fake GenRM inference server speaking the OpenAI chat-completions protocol over real HTTP.

It speaks the GenRM wire protocol (GENRM_PROTOCOL.md): it accepts both the ``genrm`` protocol
(custom ``principle`` / ``response_1`` / ``response_2`` roles) and the ``llm-judge`` protocol (plain
system/user messages with the two responses wrapped in ``<response_1>`` / ``<response_2>`` tags),
and answers with a verdict that is a pure function of the two response texts, so a test can
compute what the server will say with :func:`expected_verdict`. GenRM replies use the configured
``verdict`` format and ``reasoning`` placement; llm-judge replies are always plain JSON content.

Use it in-process::

    with FakeGenRM(service_time=0.1, capacity=4) as server:
        client = OpenAI(base_url=server.base_url, api_key="x")
        ...
        assert server.max_serving <= 4

or as a subprocess (the first stdout line is the base URL; it serves until SIGTERM/SIGINT)::

    python tests/genrm_server.py --port 0 --service-time 0.5 --capacity 64

A subprocess server is steered over HTTP: ``GET /_stats``, ``POST /_reset``, ``POST /_config``
with a JSON object of attributes (see :data:`CONFIG_KEYS`; ``{"faults": [...]}`` queues faults).

Faults
------
One-shot faults are queued with :meth:`FakeGenRM.add_faults` and apply to the next requests in
arrival order. A request can also carry its own fault: when the last user turn (of the genrm
history, or the llm-judge user message outside the response blocks) contains ``[[fault:NAME]]``
the fault applies to every request of that item, and ``[[fault:NAME:N]]`` only to the first N
requests carrying that marker (counted per marker and item text, so both orders of a swapped pair
share the count; when one turn holds several markers, the first one not yet used up applies, so
``[[fault:500:1]][[fault:429:1]]`` gives a 500, then a 429, then a verdict). Fault names are
listed in :data:`FAULTS`. Queued faults come first, then markers, then ``strict_roles``, then
request validation, then ``fail_rate``.

Error faults (status codes, ``reject_roles``, request validation) answer at once; ``garbage``,
``truncated`` and verdicts take ``service_time`` and a capacity slot like a real generation;
``hang`` holds no slot.

``served`` counts replies by outcome: ``ok``, ``custom`` / ``custom_<status>`` / ``custom_error``
(the ``answer`` hook), ``garbage``, ``truncated``, ``hang``, ``reject_roles``, ``fault_<status>``,
``fail_rate``, ``invalid`` (400 for a malformed request), ``stopped`` (cut off by ``stop()``).

Stdlib only and no Django import, so it runs in any interpreter.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import itertools
import json
import random
import re
import signal
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "CONFIG_KEYS",
    "ERROR_FAULTS",
    "FAULTS",
    "GENRM_ROLES",
    "LLM_JUDGE_ROLES",
    "REASONING_PLACEMENTS",
    "RESPONSE_1_CLOSE",
    "RESPONSE_1_OPEN",
    "RESPONSE_2_CLOSE",
    "RESPONSE_2_OPEN",
    "VERDICT_FORMATS",
    "FakeGenRM",
    "expected_verdict",
    "fault_marker",
    "ranking_for",
    "score",
    "wrap_response",
]

# Tags around the two responses in an llm-judge prompt: "<response_1>\n...\n</response_1>".
RESPONSE_1_OPEN = "<response_1>"
RESPONSE_1_CLOSE = "</response_1>"
RESPONSE_2_OPEN = "<response_2>"
RESPONSE_2_CLOSE = "</response_2>"

LLM_JUDGE_ROLES = frozenset({"system", "user", "assistant"})
GENRM_ROLES = LLM_JUDGE_ROLES | {"principle", "response_1", "response_2"}
_GENRM_ONLY_ROLES = GENRM_ROLES - LLM_JUDGE_ROLES

VERDICT_FORMATS = ("json", "json_fenced", "json_nested", "boxed")
REASONING_PLACEMENTS = ("content", "content_no_open_tag", "reasoning", "reasoning_content")

# Fault name -> HTTP status of the error it answers with (None: answers 200 or never answers).
ERROR_FAULTS = {"500": 500, "429": 429, "401": 401, "404": 404, "400": 400, "reject_roles": 400}
FAULTS = frozenset(ERROR_FAULTS) | {"hang", "garbage", "truncated"}

CONFIG_KEYS = frozenset(
    {
        "service_time",
        "capacity",
        "fail_rate",
        "fail_status",
        "verdict",
        "reasoning",
        "strict_roles",
        "retry_after",
        "hang_seconds",
        "seed",
        "model_name",
        "faults",
    }
)

MAX_RECORDED_REQUESTS = 10_000

_MARKER_RE = re.compile(r"\[\[fault:([A-Za-z0-9_]+)(?::(\d+))?\]\]")
_BLOCK_RE = {
    1: re.compile(re.escape(RESPONSE_1_OPEN) + r"(.*?)" + re.escape(RESPONSE_1_CLOSE), re.S),
    2: re.compile(re.escape(RESPONSE_2_OPEN) + r"(.*?)" + re.escape(RESPONSE_2_CLOSE), re.S),
}

_GARBAGE_WORDS = (
    "the answer wanders through several loosely related ideas about weather and gardening "
    "before settling on a remark about tea none of which concerns either reply and no "
    "judgement is offered at any point"
).split()


# --------------------------------------------------------------------------------------------
# The verdict


def _digest(text: str) -> str:
    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()


def score(text: str) -> int:
    """Helpfulness score 1..5 the server gives a response text (whitespace-insensitive)."""
    return 1 + int(_digest(text), 16) % 5


def ranking_for(score_1: int, score_2: int, tie_break_first: bool) -> int:
    """Ranking 1..6 from two scores; ``tie_break_first`` decides equal scores (3 if true, else 4)."""
    diff = score_1 - score_2
    if diff > 0:
        return 1 if diff >= 3 else 2 if diff == 2 else 3
    if diff < 0:
        return 6 if diff <= -3 else 5 if diff == -2 else 4
    return 3 if tie_break_first else 4


def expected_verdict(response_1: str, response_2: str) -> tuple[int, int, int]:
    """``(score_1, score_2, ranking)`` the server answers for these two response texts, as sent.

    The texts are stripped before hashing, so an llm-judge block ``<response_1>\\nA\\n</response_1>``
    and a genrm ``response_1`` message ``A`` get the same verdict.
    """
    s1, s2 = score(response_1), score(response_2)
    return s1, s2, ranking_for(s1, s2, _digest(response_1) < _digest(response_2))


def wrap_response(index: int, text: str) -> str:
    """The llm-judge block for response ``index`` (1 or 2): ``<response_1>\\ntext\\n</response_1>``."""
    if index not in (1, 2):
        raise ValueError("index must be 1 or 2")
    return f"<response_{index}>\n{text}\n</response_{index}>"


def fault_marker(name: str, times: int | None = None) -> str:
    """The ``[[fault:NAME]]`` / ``[[fault:NAME:N]]`` marker to put in an item's last user turn."""
    if name not in FAULTS:
        raise ValueError(f"unknown fault {name!r}")
    return f"[[fault:{name}]]" if times is None else f"[[fault:{name}:{int(times)}]]"


def _reasoning_text(s1: int, s2: int, ranking: int) -> str:
    if ranking <= 3:
        better, degree = "Response 1", ("much better", "better", "slightly better")[ranking - 1]
    else:
        better, degree = "Response 2", ("slightly better", "better", "much better")[ranking - 4]
    return (
        f"Response 1 addresses the request with a helpfulness I would rate {s1} out of 5. "
        f"Response 2 deserves a helpfulness score of {s2} out of 5. "
        f"Weighing both, {better} is {degree}, so the ranking is {ranking}."
    )


def _verdict_text(fmt: str, s1: int, s2: int, ranking: int, principles: list[str]) -> str:
    if fmt == "json":
        return json.dumps({"score_1": s1, "score_2": s2, "ranking": ranking})
    if fmt == "json_fenced":
        body = {
            "response_1_analysis": "Response 1 covers the main points of the request.",
            "score_1": s1,
            "response_2_analysis": "Response 2 takes a different route to the same question.",
            "score_2": s2,
            "ranking": ranking,
        }
        return "Here is my assessment.\n```json\n" + json.dumps(body, indent=2) + "\n```"
    if fmt == "json_nested":
        # Per-rubric scores deliberately differ from the overall ones: only "overall" counts.
        rubrics = [
            {
                "principle": principle,
                "score_1": 1 + (s1 + index) % 5,
                "score_2": 1 + (s2 + 2 * index + 1) % 5,
                "analysis": f"Checked both responses against: {principle}",
            }
            for index, principle in enumerate(principles or ["Overall helpfulness"])
        ]
        overall = {"score_1": s1, "score_2": s2, "ranking": ranking}
        return json.dumps({"rubric_evaluations": rubrics, "overall": overall}, indent=2)
    if fmt == "boxed":
        return (
            "[The Begin of Individual Scores]\n"
            f"\\boxed{{{s1}, {s2}}}\n"
            "[The End of Individual Scores]\n"
            "[The Begin of Ranking Score]\n"
            f"\\boxed{{{ranking}}}\n"
            "[The End of Ranking Score]"
        )
    raise ValueError(f"unknown verdict format {fmt!r}")


def _place(placement: str, reasoning: str, verdict: str) -> dict[str, Any]:
    """The message fields for ``reasoning`` + ``verdict`` under a reasoning placement."""
    if placement == "content":
        return {"content": f"<think>\n{reasoning}\n</think>\n{verdict}"}
    if placement == "content_no_open_tag":
        return {"content": f"{reasoning}\n</think>\n{verdict}"}
    if placement == "reasoning":
        return {"content": verdict, "reasoning": reasoning}
    if placement == "reasoning_content":
        return {"content": verdict, "reasoning_content": reasoning}
    raise ValueError(f"unknown reasoning placement {placement!r}")


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


# --------------------------------------------------------------------------------------------
# Request parsing


class _RequestError(Exception):
    def __init__(self, message: str, param: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param


def _text_of(content: Any, index: int) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts
        parts = []
        for part in content:
            if not (isinstance(part, dict) and part.get("type") == "text"):
                raise _RequestError(f"messages[{index}].content: only text parts are supported")
            parts.append(str(part.get("text", "")))
        return "".join(parts)
    if content is None:
        return ""
    raise _RequestError(f"messages[{index}].content must be a string", f"messages[{index}]")


class _Parsed:
    """What a valid judgement request holds."""

    def __init__(self, protocol: str, response_1: str, response_2: str, principles: list[str]):
        self.protocol = protocol
        self.response_1 = response_1
        self.response_2 = response_2
        self.principles = principles


def _basic_messages(body: Any) -> list[tuple[str, str]]:
    if not isinstance(body, dict):
        raise _RequestError("The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _RequestError("'model' is required and must be a non-empty string.", "model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _RequestError("'messages' is required and must be a non-empty list.", "messages")
    out = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise _RequestError(f"messages[{index}] must be an object.", f"messages[{index}]")
        role = message.get("role")
        if not isinstance(role, str):
            raise _RequestError(f"messages[{index}].role is required.", f"messages[{index}].role")
        out.append((role, _text_of(message.get("content"), index)))
    return out


def _strip_blocks(text: str) -> str:
    for pattern in _BLOCK_RE.values():
        text = pattern.sub("", text)
    return text


def _item_text(messages: list[tuple[str, str]]) -> str:
    """The text fault markers are looked for in: the last user turn, without response blocks."""
    roles = [role for role, _ in messages]
    if any(role in _GENRM_ONLY_ROLES for role in roles):
        first = next(i for i, role in enumerate(roles) if role in _GENRM_ONLY_ROLES)
        candidates = messages[:first]
    else:
        candidates = messages
    for role, text in reversed(candidates):
        if role == "user":
            return _strip_blocks(text)
    return ""


def _parse_genrm(messages: list[tuple[str, str]]) -> _Parsed:
    roles = [role for role, _ in messages]
    for role_name in ("response_1", "response_2"):
        count = roles.count(role_name)
        if count != 1:
            raise _RequestError(
                f"A genrm request needs exactly one '{role_name}' message; got {count}.",
                "messages",
            )
    first = next(i for i, role in enumerate(roles) if role in _GENRM_ONLY_ROLES)
    history, tail = messages[:first], messages[first:]
    for offset, (role, _) in enumerate(tail):
        if role not in _GENRM_ONLY_ROLES:
            raise _RequestError(
                f"messages[{first + offset}] has role '{role}' after the judged responses; "
                "the history (system/user/assistant) must come before them.",
                "messages",
            )
    if not history:
        raise _RequestError("A genrm request needs a conversation history before the responses.")
    if history[-1][0] != "user":
        raise _RequestError(
            f"The history must end with a user turn, not '{history[-1][0]}'.", "messages"
        )
    tail_roles = [role for role, _ in tail]
    i1 = tail_roles.index("response_1")
    if i1 + 1 >= len(tail_roles) or tail_roles[i1 + 1] != "response_2":
        raise _RequestError(
            "'response_2' must directly follow 'response_1' (principles go before or after both).",
            "messages",
        )
    principles = [
        line.strip()
        for role, text in tail
        if role == "principle"
        for line in text.splitlines()
        if line.strip()
    ]
    return _Parsed("genrm", tail[i1][1], tail[i1 + 1][1], principles)


def _parse_llm_judge(messages: list[tuple[str, str]]) -> _Parsed:
    users = [text for role, text in messages if role == "user"]
    if not users:
        raise _RequestError("An llm-judge request needs a user message.", "messages")
    text = users[-1]
    found = {}
    for index, pattern in _BLOCK_RE.items():
        match = pattern.search(text)
        if match is None:
            raise _RequestError(
                f"The last user message holds no {RESPONSE_1_OPEN if index == 1 else RESPONSE_2_OPEN}"
                f"...{RESPONSE_1_CLOSE if index == 1 else RESPONSE_2_CLOSE} block.",
                "messages",
            )
        found[index] = match.group(1)
    return _Parsed("llm-judge", found[1], found[2], [])


def _parse(messages: list[tuple[str, str]]) -> _Parsed:
    for index, (role, _) in enumerate(messages):
        if role not in GENRM_ROLES:
            raise _RequestError(
                f"messages[{index}] has unknown role '{role}'.", f"messages[{index}].role"
            )
    if any(role in _GENRM_ONLY_ROLES for role, _ in messages):
        return _parse_genrm(messages)
    return _parse_llm_judge(messages)


# --------------------------------------------------------------------------------------------
# The server


class _Slot:
    __slots__ = ("event", "granted")

    def __init__(self):
        self.event = threading.Event()
        self.granted = False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024
    fake: FakeGenRM

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], OSError):  # the client went away
            return
        super().handle_error(request, client_address)


class FakeGenRM:
    """A fake GenRM server; see the module docstring. All public methods are thread safe."""

    def __init__(
        self,
        service_time: float = 0.0,
        capacity: int | None = None,
        verdict: str = "json",
        reasoning: str = "content",
        seed: int = 0,
        *,
        fail_rate: float = 0.0,
        fail_status: int = 500,
        strict_roles: bool = False,
        retry_after: str = "1",
        hang_seconds: float = 30.0,
        answer: Callable[[list[dict[str, Any]]], dict[str, Any] | None] | None = None,
        model_name: str = "fake-genrm",
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._waiters: deque[_Slot] = deque()
        self._faults: deque[str] = deque()
        self._marker_uses: dict[tuple[str, str], int] = {}
        self._connections: set[socket.socket] = set()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._ids = itertools.count(1)
        self._capacity: int | None = None
        self.host = host
        self.port = port
        self.answer = answer
        self.service_time = service_time
        self.verdict = verdict
        self.reasoning = reasoning
        self.fail_rate = fail_rate
        self.fail_status = fail_status
        self.strict_roles = strict_roles
        self.retry_after = retry_after
        self.hang_seconds = hang_seconds
        self.model_name = model_name
        self.seed = seed
        self.rng = random.Random(seed)
        self.capacity = capacity
        self.serving_now = 0
        self.reset_stats()
        self.configure(verdict=verdict, reasoning=reasoning, fail_rate=fail_rate)

    # ---- lifecycle

    def start(self) -> FakeGenRM:
        if self._httpd is not None:
            raise RuntimeError("already started")
        self._stopping.clear()
        httpd = _Server((self.host, self.port), _Handler)
        httpd.fake = self
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.name = f"FakeGenRM:{self.port}"
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd = self._httpd
        if httpd is None:
            return
        self._stopping.set()
        with self._lock:
            while self._waiters:
                self._waiters.popleft().event.set()
            connections = list(self._connections)
            self._changed.notify_all()
        httpd.shutdown()
        httpd.server_close()
        for conn in connections:  # wake handler threads idling on keep-alive connections
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join()
        self._httpd = None
        self._thread = None

    def __enter__(self) -> FakeGenRM:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    # ---- configuration

    @property
    def capacity(self) -> int | None:
        return self._capacity

    @capacity.setter
    def capacity(self, value: int | None) -> None:
        if value is not None and (not isinstance(value, int) or value < 1):
            raise ValueError("capacity must be a positive integer or None")
        with self._lock:
            self._capacity = value
            self._grant_slots()

    def configure(self, **settings: Any) -> None:
        """Set attributes by name (the keys of :data:`CONFIG_KEYS`), validating them."""
        unknown = set(settings) - CONFIG_KEYS
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        if "verdict" in settings and settings["verdict"] not in VERDICT_FORMATS:
            raise ValueError(f"verdict must be one of {', '.join(VERDICT_FORMATS)}")
        if "reasoning" in settings and settings["reasoning"] not in REASONING_PLACEMENTS:
            raise ValueError(f"reasoning must be one of {', '.join(REASONING_PLACEMENTS)}")
        if "fail_rate" in settings and not 0.0 <= float(settings["fail_rate"]) <= 1.0:
            raise ValueError("fail_rate must be between 0 and 1")
        for key in ("service_time", "hang_seconds"):
            if key in settings and float(settings[key]) < 0:
                raise ValueError(f"{key} must not be negative")
        faults = settings.pop("faults", None)
        if faults is not None:
            self.add_faults(*faults)
        for key, value in settings.items():
            if key == "seed":
                with self._lock:
                    self.seed = value
                    self.rng = random.Random(value)
            elif key == "retry_after":
                self.retry_after = str(value)
            elif key in ("service_time", "fail_rate", "hang_seconds"):
                setattr(self, key, float(value))
            elif key == "strict_roles":
                self.strict_roles = bool(value)
            else:
                setattr(self, key, value)

    def add_faults(self, *names: str) -> None:
        """Queue one-shot faults, applied to the next requests in arrival order."""
        for name in names:
            if name not in FAULTS:
                raise ValueError(f"unknown fault {name!r}; known: {', '.join(sorted(FAULTS))}")
        with self._lock:
            self._faults.extend(names)

    def clear_faults(self) -> None:
        """Drop queued faults and forget how often each ``[[fault:NAME:N]]`` marker was used."""
        with self._lock:
            self._faults.clear()
            self._marker_uses.clear()

    @property
    def pending_faults(self) -> list[str]:
        with self._lock:
            return list(self._faults)

    # ---- statistics

    def reset_stats(self) -> None:
        """Zero the counters and forget recorded requests (requests still open stay counted)."""
        with self._lock:
            self.total = 0
            self.served: dict[str, int] = {}
            self.max_open = self.open_now = getattr(self, "open_now", 0)
            self.max_serving = self.serving_now
            self.connections_total = 0  # TCP connections accepted (shows keep-alive at work)
            self.requests: list[dict[str, Any]] = []
            self._changed.notify_all()

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "open_now": self.open_now,
                "max_open": self.max_open,
                "serving_now": self.serving_now,
                "max_serving": self.max_serving,
                "total": self.total,
                "served": dict(self.served),
                "pending_faults": list(self._faults),
                "connections_total": self.connections_total,
            }

    def wait_until(self, predicate: Callable[[FakeGenRM], bool], timeout: float = 5.0) -> bool:
        """Block until ``predicate(self)`` holds (checked on every counter change) or timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self), timeout)

    # ---- internals used by the handler

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
                self.connections_total += 1
            else:
                self._connections.discard(conn)

    def _opened(self, record: dict[str, Any]) -> None:
        with self._lock:
            self.total += 1
            self.open_now += 1
            self.max_open = max(self.max_open, self.open_now)
            self.requests.append(record)
            if len(self.requests) > MAX_RECORDED_REQUESTS:
                del self.requests[: len(self.requests) - MAX_RECORDED_REQUESTS]
            self._changed.notify_all()

    def _closed(self, record: dict[str, Any]) -> None:
        with self._lock:
            self.open_now -= 1
            outcome = record.get("outcome") or "dropped"
            self.served[outcome] = self.served.get(outcome, 0) + 1
            self._changed.notify_all()

    def _grant_slots(self) -> None:
        # Called with the lock held: hand free slots to the oldest waiters first.
        while self._waiters and (self._capacity is None or self.serving_now < self._capacity):
            slot = self._waiters.popleft()
            slot.granted = True
            self._take_slot()
            slot.event.set()

    def _take_slot(self) -> None:
        self.serving_now += 1
        self.max_serving = max(self.max_serving, self.serving_now)
        self._changed.notify_all()

    def _acquire(self) -> bool:
        with self._lock:
            if self._stopping.is_set():
                return False
            if not self._waiters and (self._capacity is None or self.serving_now < self._capacity):
                self._take_slot()
                return True
            slot = _Slot()
            self._waiters.append(slot)
        slot.event.wait()
        return slot.granted

    def _release(self) -> None:
        with self._lock:
            self.serving_now -= 1
            self._changed.notify_all()
            self._grant_slots()

    def _choose_fault(self, messages: list[tuple[str, str]]) -> tuple[str | None, str]:
        """(fault name or None, where it came from); consumes queued faults and marker uses."""
        with self._lock:
            if self._faults:
                return self._faults.popleft(), "queue"
            item = _item_text(messages) if messages else ""
            for match in _MARKER_RE.finditer(item):
                name, times = match.group(1), match.group(2)
                if name not in FAULTS:
                    continue
                if times is None:
                    return name, "marker"
                key = (match.group(0), item)
                used = self._marker_uses.get(key, 0)
                if used < int(times):
                    self._marker_uses[key] = used + 1
                    return name, "marker"
            return None, ""

    def _random_failure(self) -> bool:
        if self.fail_rate <= 0:
            return False
        with self._lock:
            return self.rng.random() < self.fail_rate

    def _garbage(self) -> str:
        with self._lock:
            words = self.rng.sample(_GARBAGE_WORDS, 18)
        return " ".join(words).capitalize() + "."

    def _generate(self, produce: Callable[[], Any]) -> Any:
        """Run ``produce`` in a capacity slot after ``service_time``; None if the server stops."""
        if not self._acquire():
            return None
        try:
            if self.service_time > 0:
                self._stopping.wait(self.service_time)
            if self._stopping.is_set():
                return None
            return produce()
        finally:
            self._release()


def _error_body(message: str, status: int, param: str | None = None) -> dict[str, Any]:
    kind = {
        401: "authentication_error",
        404: "not_found_error",
        429: "rate_limit_error",
    }.get(status, "server_error" if status >= 500 else "invalid_request_error")
    code = {401: "invalid_api_key", 404: "model_not_found", 429: "rate_limit_exceeded"}.get(status)
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


_FAULT_MESSAGES = {
    500: "The server had an error while processing your request (injected fault).",
    429: "Rate limit reached: too many requests in flight (injected fault).",
    401: "Incorrect API key provided (injected fault).",
    404: "The model does not exist or you do not have access to it (injected fault).",
    400: "Bad request (injected fault).",
}


def _reject_roles_message(roles: Iterable[str]) -> str:
    role = next((r for r in roles if r in _GENRM_ONLY_ROLES), "response_1")
    return f"Invalid role '{role}': only system, user, assistant and tool are accepted"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeGenRM/1.0"
    sys_version = ""
    disable_nagle_algorithm = True
    wbufsize = 1 << 16  # headers and body leave in one write, flushed in _send
    server: _Server
    _record: dict[str, Any] | None = None  # the chat request being answered

    def setup(self):
        super().setup()
        self.server.fake._track(self.connection, True)

    def finish(self):
        self.server.fake._track(self.connection, False)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format, *args):
        pass

    # ---- plumbing

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        # Close the books before the bytes leave, so a client never sees its reply while the
        # request still counts as open.
        self._close_record()
        self.wfile.flush()

    def _close_record(self) -> None:
        record, self._record = self._record, None
        if record is not None:
            self.server.fake._closed(record)

    def _read_json(self) -> tuple[Any, str | None]:
        length = self.headers.get("Content-Length")
        if length is None:
            self.close_connection = True
            return None, "A Content-Length header is required."
        try:
            size = int(length)
        except ValueError:
            self.close_connection = True
            return None, "The Content-Length header is not a number."
        raw = self.rfile.read(size) if size > 0 else b""
        if not raw:
            return None, None
        try:
            return json.loads(raw), None
        except ValueError as exc:
            return None, f"The request body is not valid JSON: {exc}"

    # ---- routes

    def do_GET(self):
        fake = self.server.fake
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/v1/models":
            model = {"id": fake.model_name, "object": "model", "created": 0, "owned_by": "fake"}
            self._send(200, {"object": "list", "data": [model]})
        elif path == "/_stats":
            self._send(200, fake.stats())
        elif path in ("/health", "/v1/health"):
            self._send(200, {"status": "ok"})
        else:
            self._send(404, _error_body(f"No route GET {path}", 404))

    def do_POST(self):
        fake = self.server.fake
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/v1/chat/completions":
            self._chat()
            return
        body, problem = self._read_json()
        if problem:
            self._send(400, _error_body(problem, 400))
        elif path == "/_reset":
            fake.reset_stats()
            fake.clear_faults()
            self._send(200, fake.stats())
        elif path == "/_config":
            if not isinstance(body, dict):
                self._send(400, _error_body("/_config takes a JSON object.", 400))
                return
            try:
                fake.configure(**body)
            except (TypeError, ValueError) as exc:
                self._send(400, _error_body(str(exc), 400))
                return
            self._send(200, {"ok": True, **fake.stats()})
        else:
            self._send(404, _error_body(f"No route POST {path}", 404))

    def _chat(self):
        fake = self.server.fake
        body, problem = self._read_json()
        record: dict[str, Any] = {"outcome": None, "received": time.time()}
        if isinstance(body, dict):
            for key in ("model", "messages", "temperature", "top_p", "response_format"):
                record[key] = body.get(key)
            record["max_tokens"] = body.get("max_tokens", body.get("max_completion_tokens"))
        fake._opened(record)
        self._record = record
        try:
            self._chat_reply(fake, body, problem, record)
        finally:
            self._close_record()

    def _chat_reply(self, fake: FakeGenRM, body: Any, problem: str | None, record: dict) -> None:
        if problem:
            record["outcome"] = "invalid"
            self._send(400, _error_body(problem, 400))
            return
        try:
            messages = _basic_messages(body)
        except _RequestError as exc:
            messages, basic_error = [], exc
        else:
            basic_error = None

        fault, source = fake._choose_fault(messages)
        record["fault"] = fault
        record["fault_source"] = source
        roles = [role for role, _ in messages]
        if fault is None and fake.strict_roles and any(r in _GENRM_ONLY_ROLES for r in roles):
            fault = "reject_roles"
            record["fault_source"] = "strict_roles"

        if fault in ERROR_FAULTS:
            status = ERROR_FAULTS[fault]
            if fault == "reject_roles":
                record["outcome"] = "reject_roles"
                message = _reject_roles_message(roles)
                self._send(400, _error_body(message, 400, "messages"))
            else:
                record["outcome"] = f"fault_{fault}"
                self._send_status_error(fake, status, _FAULT_MESSAGES[status])
            return
        if fault == "hang":
            record["outcome"] = "hang"
            fake._stopping.wait(fake.hang_seconds)
            self.close_connection = True  # never answer this one
            return

        if basic_error is not None:
            record["outcome"] = "invalid"
            self._send(400, _error_body(basic_error.message, 400, basic_error.param))
            return
        try:
            parsed = _parse(messages)
        except _RequestError as exc:
            record["outcome"] = "invalid"
            self._send(400, _error_body(exc.message, 400, exc.param))
            return
        record["protocol"] = parsed.protocol

        if fault is None and fake._random_failure():
            record["outcome"] = "fail_rate"
            status = int(fake.fail_status)
            self._send_status_error(fake, status, _FAULT_MESSAGES.get(status, "Injected failure."))
            return

        s1, s2, ranking = expected_verdict(parsed.response_1, parsed.response_2)
        record["verdict"] = (s1, s2, ranking)

        def produce() -> tuple[str, dict[str, Any], str]:
            # (outcome, message fields or scripted error, finish_reason)
            if fault == "garbage":
                return "garbage", {"content": fake._garbage()}, "stop"
            if fault == "truncated":
                reasoning = _reasoning_text(s1, s2, ranking)
                return (
                    "truncated",
                    {"content": "<think>\n" + reasoning[: len(reasoning) // 2]},
                    "length",
                )
            scripted = fake.answer(body["messages"]) if fake.answer is not None else None
            if scripted is not None:
                status = int(scripted.get("status", 200))
                if status != 200:
                    return f"custom_{status}", scripted, ""
                fields = {
                    key: scripted[key]
                    for key in ("content", "reasoning", "reasoning_content")
                    if key in scripted
                }
                fields.setdefault("content", None)
                return "custom", fields, scripted.get("finish_reason", "stop")
            if parsed.protocol == "llm-judge":
                return "ok", {"content": _verdict_text("json", s1, s2, ranking, [])}, "stop"
            verdict = _verdict_text(fake.verdict, s1, s2, ranking, parsed.principles)
            return "ok", _place(fake.reasoning, _reasoning_text(s1, s2, ranking), verdict), "stop"

        try:
            produced = fake._generate(produce)
        except Exception as exc:  # a failing answer hook is the script's error, shown as a 500
            record["outcome"] = "custom_error"
            self._send_status_error(fake, 500, f"answer hook failed: {exc!r}")
            return
        if produced is None:
            record["outcome"] = "stopped"
            self.close_connection = True
            return
        record["outcome"], message, finish_reason = produced
        if record["outcome"].startswith("custom_"):
            status = int(message["status"])
            self._send_status_error(fake, status, str(message.get("error", "Scripted error.")))
            return

        completion_text = "".join(
            message.get(key) or "" for key in ("content", "reasoning", "reasoning_content")
        )
        prompt_tokens = _tokens("".join(text for _, text in messages))
        completion_tokens = _tokens(completion_text)
        reply = {
            "id": f"chatcmpl-fake-{next(fake._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", **message},
                    "finish_reason": finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
        self._send(200, reply)

    def _send_status_error(self, fake: FakeGenRM, status: int, message: str) -> None:
        headers = {"retry-after": str(fake.retry_after)} if status == 429 else None
        self._send(status, _error_body(message, status), headers)


# --------------------------------------------------------------------------------------------
# Standalone


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fake GenRM server (OpenAI chat completions).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--service-time", type=float, default=0.0)
    parser.add_argument("--capacity", type=int, default=None, help="default: unlimited")
    parser.add_argument("--fail-rate", type=float, default=0.0)
    parser.add_argument("--fail-status", type=int, default=500)
    parser.add_argument("--verdict", choices=VERDICT_FORMATS, default="json")
    parser.add_argument("--reasoning", choices=REASONING_PLACEMENTS, default="content")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--strict-roles", action="store_true")
    parser.add_argument("--retry-after", default="1")
    parser.add_argument("--hang-seconds", type=float, default=30.0)
    parser.add_argument("--model-name", default="fake-genrm")
    args = parser.parse_args(argv)

    server = FakeGenRM(
        service_time=args.service_time,
        capacity=args.capacity,
        verdict=args.verdict,
        reasoning=args.reasoning,
        seed=args.seed,
        fail_rate=args.fail_rate,
        fail_status=args.fail_status,
        strict_roles=args.strict_roles,
        retry_after=args.retry_after,
        hang_seconds=args.hang_seconds,
        model_name=args.model_name,
        host=args.host,
        port=args.port,
    )
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    server.start()
    print(server.base_url, flush=True)
    try:
        while not done.wait(1.0):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
