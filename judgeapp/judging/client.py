"""Talking to a judge over its OpenAI-compatible API: one request, its outcome, and what failed.

No Django here: callers pass a ``JudgeSpec`` and an ``Item`` and get a ``Completion`` or one of the
errors below. Retries are not done here (the client is built with ``max_retries=0``): a retry is a
state of the judgment in the database, so it survives the process that made the first attempt.
"""

import email.utils
import time
from dataclasses import dataclass, field

import openai
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletion

from judgeapp.judging import prompts

GENRM = "genrm"
LLM_JUDGE = "llm-judge"
# Roles only GenRM chat templates know; a server that names one in an error does not pass them on.
_GENRM_ROLES = ("response_1", "response_2", "principle")


class JudgeError(Exception):
    """A request that gave no completion; ``reason`` is shown to users as it is."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransientError(JudgeError):
    """Worth another try later: timeouts, 429, 5xx, dropped connections."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class PermanentError(JudgeError):
    """This item will fail however often it is sent (the server refused the request itself)."""


class ConfigurationError(PermanentError):
    """The judge is set up wrong (key, URL, model, a server that rejects GenRM roles): every item
    would fail the same way, so the run stops with this reason."""


@dataclass(frozen=True)
class JudgeSpec:
    protocol: str
    base_url: str
    model: str
    api_key: str = ""
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    timeout: float = 600.0
    principle_position: str = "before"
    principles_one_message_each: bool = False
    structured_output: str = "json_schema"

    def sampling(self) -> prompts.SamplingDefaults:
        """The judge's own settings, the protocol doc's defaults for its model family elsewhere."""
        defaults = prompts.sampling_defaults(self.model, self.protocol)
        return prompts.SamplingDefaults(
            temperature=defaults.temperature if self.temperature is None else self.temperature,
            top_p=defaults.top_p if self.top_p is None else self.top_p,
            max_tokens=defaults.max_tokens if self.max_tokens is None else self.max_tokens,
        )


@dataclass(frozen=True)
class Item:
    conversation: list[dict]
    response_1: str
    response_2: str
    principles: list[str] = field(default_factory=list)

    def shown(self, *, swapped: bool) -> "Item":
        """The item as the judge sees it: with swapped, response_2 goes first."""
        if not swapped:
            return self
        return Item(self.conversation, self.response_2, self.response_1, self.principles)


@dataclass(frozen=True)
class Completion:
    content: str
    reasoning: str | None
    finish_reason: str
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_ms: int


def build_messages(spec: JudgeSpec, item: Item) -> list[dict]:
    if spec.protocol == GENRM:
        return prompts.build_genrm_messages(
            conversation=item.conversation,
            response_1=item.response_1,
            response_2=item.response_2,
            principles=item.principles,
            principle_position=spec.principle_position,
            principles_one_message_each=spec.principles_one_message_each,
        )
    if spec.protocol == LLM_JUDGE:
        return prompts.build_llm_judge_messages(
            conversation=item.conversation,
            response_1=item.response_1,
            response_2=item.response_2,
            principles=item.principles,
        )
    raise ConfigurationError(f"Protocol {spec.protocol!r} cannot be sent to a server.")


def request_kwargs(spec: JudgeSpec, messages: list[dict]) -> dict:
    sampling = spec.sampling()
    kwargs = {
        "model": spec.model,
        "messages": messages,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "max_tokens": sampling.max_tokens,
    }
    if spec.protocol == LLM_JUDGE:
        response_format = prompts.response_format(spec.structured_output)
        if response_format is not None:
            kwargs["response_format"] = response_format
    return kwargs


def make_client(spec: JudgeSpec, **options) -> AsyncOpenAI:
    if not spec.base_url:
        raise ConfigurationError("The judge has no base URL.")
    # Servers on a private network often want no key at all; the client insists on one.
    return AsyncOpenAI(
        base_url=spec.base_url,
        api_key=spec.api_key or "none",
        timeout=spec.timeout,
        max_retries=0,
        **options,
    )


async def complete(client: AsyncOpenAI, spec: JudgeSpec, item: Item) -> Completion:
    """Send one comparison; raise TransientError, PermanentError or ConfigurationError."""
    kwargs = request_kwargs(spec, build_messages(spec, item))
    started = time.monotonic()
    try:
        # What chat.completions.create sends, without its parameter transformation: the
        # messages are plain dicts already, and that step costs about a third of the client's
        # CPU per request (measured with bench/judge_bench.py).
        reply = await client.post("/chat/completions", body=kwargs, cast_to=ChatCompletion)
    except openai.APIStatusError as exc:
        raise classify_status(exc.status_code, _error_message(exc), exc.response.headers) from exc
    except openai.APITimeoutError as exc:
        raise TransientError(f"No answer within {spec.timeout:g} s (timeout).") from exc
    except openai.APIConnectionError as exc:
        raise TransientError(f"Could not reach {spec.base_url}: {_cause(exc)}.") from exc
    except openai.APIResponseValidationError as exc:
        raise PermanentError(f"The server's reply is not a chat completion: {exc}") from exc
    latency_ms = int((time.monotonic() - started) * 1000)
    return completion_from_reply(reply, latency_ms=latency_ms)


def completion_from_reply(reply, *, latency_ms: int) -> Completion:
    choices = getattr(reply, "choices", None) or []
    if not choices:
        raise TransientError("The server answered without a choice.")
    choice = choices[0]
    message = choice.message
    # vLLM >= 0.11 says `reasoning`, older versions `reasoning_content`; both arrive as extras.
    reasoning = getattr(message, "reasoning", None) or getattr(message, "reasoning_content", None)
    usage = getattr(reply, "usage", None)
    return Completion(
        content=message.content or "",
        reasoning=reasoning if isinstance(reasoning, str) else None,
        finish_reason=choice.finish_reason or "",
        prompt_tokens=getattr(usage, "prompt_tokens", None),
        completion_tokens=getattr(usage, "completion_tokens", None),
        latency_ms=latency_ms,
    )


def classify_status(status: int, message: str, headers) -> JudgeError:
    """Sort an HTTP error into retry later, fail this item, or stop the run."""
    text = f"HTTP {status}: {message}" if message else f"HTTP {status}"
    lowered = message.lower()
    # Servers that validate roles (llama.cpp's) answer 4xx or 5xx; retrying cannot help.
    if "role" in lowered and any(role in lowered for role in _GENRM_ROLES):
        return ConfigurationError(
            f"{text} - this server rejects the GenRM roles; serve the model with vLLM, NIM or "
            "TensorRT-LLM, or use the llm-judge protocol."
        )
    # Checked before the 5xx rule: llama-cpp-python answers 500 to a response_format it lacks.
    if "response_format" in lowered or "json_schema" in lowered:
        return ConfigurationError(
            f"{text} - the server does not take this structured output mode; change the judge's "
            "structured output setting."
        )
    if status == 429:
        return TransientError(f"{text} (rate limited)", retry_after=retry_after_seconds(headers))
    if status in (408, 409) or status >= 500:
        return TransientError(text, retry_after=retry_after_seconds(headers))
    if status in (401, 403):
        return ConfigurationError(f"{text} - the server refused the API key.")
    if status == 404:
        return ConfigurationError(f"{text} - check the judge's base URL and model name.")
    return PermanentError(text)


def retry_after_seconds(headers) -> float | None:
    """Retry-After in seconds (or an HTTP date), or OpenAI's retry-after-ms; None when absent."""
    if headers is None:
        return None
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(float(raw_ms) / 1000, 0.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(float(raw), 0.0)
    except ValueError:
        when = email.utils.parsedate_to_datetime(raw) if raw else None
        return max(when.timestamp() - time.time(), 0.0) if when else None


def _error_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])[:500]
        if isinstance(inner, str):
            return inner[:500]
    try:
        return exc.response.text[:500]
    except Exception:
        return ""


def _cause(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    return f"{type(cause).__name__}: {cause}" if cause else str(exc)
