"""What a judge is sent: messages, verdict schema and sampling defaults. No Django import.

Two protocols (GENRM_PROTOCOL.md):

- ``genrm``: the conversation followed by ``principle``, ``response_1`` and ``response_2`` turns,
  which the server's chat template for the GenRM understands (``build_genrm_messages``).
- ``llm-judge``: any chat model, asked through a ``system`` and a ``user`` message to answer with
  the same JSON verdict (``build_llm_judge_messages``), optionally held to ``VERDICT_JSON_SCHEMA``
  through ``response_format``.

Candidate responses that carry their own reasoning are cut to the text after their last
``</think>`` before they are sent (``strip_reasoning``); the conversation is sent as it is.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "PRINCIPLE_POSITIONS",
    "RESPONSE_FORMAT_MODES",
    "VERDICT_JSON_SCHEMA",
    "SamplingDefaults",
    "build_genrm_messages",
    "build_llm_judge_messages",
    "neutralise_response_tags",
    "response_format",
    "sampling_defaults",
    "strip_reasoning",
]

PRINCIPLE_POSITIONS = ("before", "after")
RESPONSE_FORMAT_MODES = ("json_schema", "json_object", "none")

_THINK_END = "</think>"


def strip_reasoning(text: str) -> str:
    """The text after the last ``</think>``, stripped; ``text`` unchanged when there is none."""
    _, sep, tail = text.rpartition(_THINK_END)
    return tail.strip() if sep else text


def _clean_principles(principles: Sequence[str]) -> list[str]:
    # A blank principle would send an empty line (or an empty message) the model has to interpret.
    return [p.strip() for p in principles if p and p.strip()]


def build_genrm_messages(
    *,
    conversation: list[dict],
    response_1: str,
    response_2: str,
    principles: list[str],
    principle_position: str = "before",
    principles_one_message_each: bool = False,
) -> list[dict]:
    """Messages for the ``genrm`` protocol: the conversation, the principles (none when the list is
    empty or blank) before or after the responses, then ``response_1`` and ``response_2``.

    Several principles go into one ``principle`` message, one per line, unless
    ``principles_one_message_each``. Raises ``ValueError`` for an unknown ``principle_position``.
    """
    if principle_position not in PRINCIPLE_POSITIONS:
        raise ValueError(
            f"principle_position must be 'before' or 'after', not {principle_position!r}"
        )
    history = [{"role": turn["role"], "content": turn["content"]} for turn in conversation]
    cleaned = _clean_principles(principles)
    if not cleaned:
        principle_messages = []
    elif principles_one_message_each:
        principle_messages = [{"role": "principle", "content": p} for p in cleaned]
    else:
        principle_messages = [{"role": "principle", "content": "\n".join(cleaned)}]
    responses = [
        {"role": "response_1", "content": strip_reasoning(response_1)},
        {"role": "response_2", "content": strip_reasoning(response_2)},
    ]
    if principle_position == "before":
        return history + principle_messages + responses
    return history + responses + principle_messages


LLM_JUDGE_SYSTEM_PROMPT = """\
You are an impartial judge of AI assistant responses.

You will see a conversation between a user and an assistant, possibly some principles to judge by, \
and two candidate responses for the assistant's next turn, marked response_1 and response_2. \
Evaluate how helpful each response is as a reply to the last user turn of the conversation, \
following the principles when there are any. Judge the content, not the length or the order in \
which the responses are shown.

Give each response a helpfulness score, an integer from 1 to 5 where higher is better: \
score_1 for response_1, score_2 for response_2.

Then rank the two responses with an integer from 1 to 6:
1 = response_1 is much better than response_2
2 = response_1 is better than response_2
3 = response_1 is slightly better than response_2
4 = response_2 is slightly better than response_1
5 = response_2 is better than response_1
6 = response_2 is much better than response_1
There is no tie: when they seem equal, pick the side you lean towards. When the scores differ, \
the ranking must favour the response with the higher score.

Answer only with a JSON object and nothing else, in this form:
{"score_1": <integer 1-5>, "score_2": <integer 1-5>, "ranking": <integer 1-6>}"""

# Case-insensitive: a model would read <RESPONSE_1> as a boundary as readily as <response_1>.
_RESPONSE_TAG = re.compile(r"<(/?)(response_[12])>", re.IGNORECASE)


def neutralise_response_tags(text: str) -> str:
    """``text`` with every ``<response_1>``, ``</response_1>``, ``<response_2>`` and
    ``</response_2>`` (any case) written as ``&lt;response_1&gt;``..., so that the tags around
    the responses in a judge prompt are the only ones there. The change is one-way: text that
    already held ``&lt;response_1&gt;`` is not told apart from an escaped tag."""
    return _RESPONSE_TAG.sub(r"&lt;\1\2&gt;", text)


def _as_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    # OpenAI-style content parts: keep their text, drop what a text prompt cannot carry.
    if isinstance(content, list):
        return "\n".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return "" if content is None else str(content)


def build_llm_judge_messages(
    *,
    conversation: list[dict],
    response_1: str,
    response_2: str,
    principles: list[str],
) -> list[dict]:
    """Messages for the ``llm-judge`` protocol: a ``system`` message with the judging instructions
    and one ``user`` message holding the conversation (each turn labelled by its role), the
    principles (if any) and the two responses, wrapped exactly as
    ``<response_1>\\n{text}\\n</response_1>`` and ``<response_2>\\n{text}\\n</response_2>``.

    Each of the four tags occurs exactly once in the user message: the same tags anywhere in the
    conversation, the principles or the responses are neutralised (``neutralise_response_tags``).
    """
    parts = ["The conversation:"]
    for turn in conversation:
        role = neutralise_response_tags(_as_text(turn.get("role")))
        parts.append(f"[{role}]\n{neutralise_response_tags(_as_text(turn.get('content')))}")
    cleaned = _clean_principles(principles)
    if cleaned:
        parts.append(
            "Principles to judge by:\n"
            + "\n".join(f"- {neutralise_response_tags(p)}" for p in cleaned)
        )
    parts.append("The two candidate responses to the last user turn:")
    parts.append(
        f"<response_1>\n{neutralise_response_tags(strip_reasoning(response_1))}\n</response_1>"
    )
    parts.append(
        f"<response_2>\n{neutralise_response_tags(strip_reasoning(response_2))}\n</response_2>"
    )
    return [
        {"role": "system", "content": LLM_JUDGE_SYSTEM_PROMPT},
        {"role": "user", "content": "\n\n".join(parts)},
    ]


# enum as well as the bounds: grammar-constrained servers (llama.cpp) enforce enums, not bounds.
_SCORE = {"type": "integer", "minimum": 1, "maximum": 5, "enum": [1, 2, 3, 4, 5]}

VERDICT_JSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "score_1": dict(_SCORE),
        "score_2": dict(_SCORE),
        "ranking": {"type": "integer", "minimum": 1, "maximum": 6, "enum": [1, 2, 3, 4, 5, 6]},
    },
    "required": ["score_1", "score_2", "ranking"],
    "additionalProperties": False,
}


def response_format(mode: str) -> dict | None:
    """The ``response_format`` request field that holds a reply to ``VERDICT_JSON_SCHEMA``.

    ``json_schema``: OpenAI style (also vLLM); ``json_object``: llama.cpp / llama-cpp-python
    style; ``none``: no field (``None``). Raises ``ValueError`` for another mode. The schema is a
    fresh copy each time, so a caller that edits the request cannot change the module's schema.
    """
    schema = copy.deepcopy(VERDICT_JSON_SCHEMA)
    if mode == "json_schema":
        return {
            "type": "json_schema",
            "json_schema": {"name": "verdict", "strict": True, "schema": schema},
        }
    if mode == "json_object":
        return {"type": "json_object", "schema": schema}
    if mode == "none":
        return None
    raise ValueError(f"response format mode must be one of {RESPONSE_FORMAT_MODES}, not {mode!r}")


@dataclass(frozen=True, slots=True)
class SamplingDefaults:
    temperature: float
    top_p: float
    max_tokens: int


# GENRM_PROTOCOL.md section 1. Matched on the lowercased model name, first match wins.
_FAMILY_DEFAULTS = (
    ("nemotron-3-ultra", SamplingDefaults(temperature=1.0, top_p=0.95, max_tokens=24576)),
    ("qwen3-nemotron", SamplingDefaults(temperature=0.6, top_p=0.95, max_tokens=16384)),
    ("llama-3.3-nemotron-super", SamplingDefaults(temperature=0.0, top_p=1.0, max_tokens=32768)),
)
_GENRM_DEFAULTS = SamplingDefaults(temperature=0.6, top_p=0.95, max_tokens=16384)
# A plain chat model answers with a short JSON object; greedy decoding keeps verdicts repeatable.
_LLM_JUDGE_DEFAULTS = SamplingDefaults(temperature=0.0, top_p=1.0, max_tokens=1024)


def sampling_defaults(model: str, protocol: str) -> SamplingDefaults:
    """Sampling defaults for ``model`` (a judge setting overrides them).

    A known GenRM family (matched case-insensitively anywhere in the name, ``_`` read as ``-``)
    gets its own defaults whatever the protocol, since a reasoning model needs its token budget
    even when asked through a plain prompt. Otherwise ``llm-judge`` gets the plain chat model
    defaults and any other protocol the GenRM ones.
    """
    name = model.lower().replace("_", "-")
    for family, defaults in _FAMILY_DEFAULTS:
        if family in name:
            return defaults
    return _LLM_JUDGE_DEFAULTS if protocol == "llm-judge" else _GENRM_DEFAULTS
