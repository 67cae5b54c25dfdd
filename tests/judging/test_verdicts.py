"""Reading a judge's reply (GENRM_PROTOCOL.md sections 2 to 4): every verdict format the protocol
doc lists, the parse statuses, the swap mapping, and that no text makes the parser raise. No
database."""

import json
import sys

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from judgeapp.judging import prompts, verdicts
from judgeapp.judging.verdicts import (
    INCONSISTENT,
    OK,
    OUT_OF_RANGE,
    PARTIAL,
    RANKING_TO_PREFERENCE,
    STATUSES,
    TRUNCATED,
    UNPARSEABLE,
    Verdict,
    canonical,
    parse_verdict,
    preference_from_ranking,
)
from tests.imports import top_level_imports

PROPERTY = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)

BOXED = (
    "[The Begin of Individual Scores]\n"
    "\\boxed{4, 3}\n"
    "[The End of Individual Scores]\n"
    "[The Begin of Ranking Score]\n"
    "\\boxed{2}\n"
    "[The End of Ranking Score]"
)


def values(verdict: Verdict) -> tuple:
    return verdict.score_1, verdict.score_2, verdict.ranking


def parsed(content: str | None, **kw) -> tuple:
    verdict = parse_verdict(content=content, **kw)
    return (*values(verdict), verdict.status)


# -- JSON ----------------------------------------------------------------------------------------


def test_plain_json_verdict():
    verdict = parse_verdict(content='{"score_1": 4, "score_2": 3, "ranking": 2}')
    assert values(verdict) == (4, 3, 2)
    assert verdict.status == OK
    assert verdict.detail == ""
    assert verdict.preference == -2


def test_fenced_json_verdict():
    content = 'Here is my verdict:\n```json\n{"score_1": 4, "score_2": 3, "ranking": 2}\n```\n'
    assert parsed(content) == (4, 3, 2, OK)


def test_json_verdict_with_analysis_keys():
    content = json.dumps(
        {
            "response_1_analysis": "Correct, but {terse}; it says \"3\" where it means 'three'.",
            "response_2_analysis": "Wrong: score_1 would be 9 if... } {",
            "score_1": 5,
            "score_2": 1,
            "ranking": 1,
        },
        indent=2,
    )
    assert parsed(content) == (5, 1, 1, OK)


def test_json_verdict_nested_under_overall_with_rubric_evaluations():
    content = json.dumps(
        {
            "rubric_evaluations": [
                {"principle": "Correctness", "score_1": 1, "score_2": 5, "ranking": 6},
                {"principle": "Brevity", "score_1": 2, "score_2": 4, "ranking": 5},
            ],
            "overall": {"score_1": 2, "score_2": 5, "ranking": 6},
        }
    )
    assert parsed(content) == (2, 5, 6, OK)


def test_overall_wins_over_top_level_values():
    content = '{"score_1": 1, "score_2": 1, "ranking": 3, "overall": {"score_1": 3, "score_2": 2, "ranking": 3}}'
    assert parsed(content) == (3, 2, 3, OK)


def test_braces_and_quotes_inside_json_strings_do_not_count():
    content = (
        'Final: {"note": "a } closes nothing, \\" nor does {this\\\\", '
        '"score_1": 3, "score_2": 4, "ranking": 4}'
    )
    assert parsed(content) == (3, 4, 4, OK)


def test_the_last_qualifying_json_object_wins():
    content = (
        'First thought: {"score_1": 1, "score_2": 5, "ranking": 6}\n'
        'On reflection: {"score_1": 4, "score_2": 2, "ranking": 2}\n'
        'Unrelated: {"confidence": "high"}'
    )
    assert parsed(content) == (4, 2, 2, OK)


def test_a_fenced_block_is_preferred_over_a_later_bare_object():
    content = (
        '```json\n{"score_1": 4, "score_2": 3, "ranking": 3}\n```\n'
        'For reference the format was {"score_1": 1, "score_2": 1, "ranking": 1}.'
    )
    assert parsed(content) == (4, 3, 3, OK)


def test_the_last_fenced_block_that_qualifies_wins():
    content = (
        '```json\n{"score_1": 1, "score_2": 2, "ranking": 5}\n```\n'
        '```json\n{"score_1": 5, "score_2": 4, "ranking": 3}\n```\n'
        '```json\n{"rubric": "not a verdict"}\n```\n'
    )
    assert parsed(content) == (5, 4, 3, OK)


def test_stray_braces_and_quotes_in_prose_around_the_json_are_harmless():
    content = (
        'Response 1 writes set(} and {oops, and 5" screens...\n'
        '{"score_1": 2, "score_2": 5, "ranking": 6}\n'
        "That's all }}."
    )
    assert parsed(content) == (2, 5, 6, OK)


def test_integers_written_as_strings_or_whole_floats_are_accepted():
    assert parsed('{"score_1": "4", "score_2": 3.0, "ranking": " 2 "}') == (4, 3, 2, OK)


@pytest.mark.parametrize(
    ("value", "shown"),
    [("4.5", "4.5"), ("true", "true"), ('"four"', '"four"'), ("[4]", "[4]"), ("NaN", "NaN")],
)
def test_a_value_that_is_not_an_integer_makes_the_verdict_unparseable(value, shown):
    verdict = parse_verdict(content=f'{{"score_1": {value}, "score_2": 3, "ranking": 2}}')
    assert values(verdict) == (None, 3, 2)
    assert verdict.status == UNPARSEABLE
    assert verdict.detail == f"score_1 is not an integer: {shown}"


def test_a_null_value_counts_as_missing():
    verdict = parse_verdict(content='{"score_1": 4, "score_2": null, "ranking": 2}')
    assert (*values(verdict), verdict.status) == (4, None, 2, PARTIAL)
    assert verdict.detail == "no score_2 in the verdict"


# -- boxed ---------------------------------------------------------------------------------------


def test_boxed_verdict_with_ranking_block():
    assert parsed(BOXED) == (4, 3, 2, OK)


def test_boxed_verdict_without_ranking_block_is_partial():
    content = "[The Begin of Individual Scores]\n\\boxed{5}\n[The End of Individual Scores]"
    verdict = parse_verdict(content=content)
    assert (*values(verdict), verdict.status) == (5, None, None, PARTIAL)
    assert verdict.detail == "no score_2 or ranking in the verdict"


def test_boxed_scores_without_ranking_block_keep_both_scores():
    content = "[The Begin of Individual Scores]\n\\boxed{2,5}\n[The End of Individual Scores]"
    assert parsed(content) == (2, 5, None, PARTIAL)


def test_boxed_takes_the_last_box_of_the_last_block():
    content = (
        "[The Begin of Individual Scores]\n\\boxed{1, 1}\n[The End of Individual Scores]\n"
        "Let me redo this.\n"
        "[The Begin of Individual Scores]\nfirst \\boxed{2, 2} then \\boxed{3, 5}\n"
        "[The End of Individual Scores]\n"
        "[The Begin of Ranking Score]\n\\boxed{ 5 }\n[The End of Ranking Score]"
    )
    assert parsed(content) == (3, 5, 5, OK)


def test_boxed_with_three_scores_is_unparseable():
    content = BOXED.replace("\\boxed{4, 3}", "\\boxed{4, 3, 2}")
    verdict = parse_verdict(content=content)
    assert (*values(verdict), verdict.status) == (None, None, 2, UNPARSEABLE)
    assert "found 3" in verdict.detail


def test_a_box_outside_the_markers_is_not_a_verdict():
    assert parsed("So the answer is \\boxed{4, 3}.") == (None, None, None, UNPARSEABLE)


# -- last-resort regexes -------------------------------------------------------------------------


def test_last_resort_key_regexes_take_the_last_occurrence():
    content = (
        "Draft: score_1: 1, score_2: 1.\n"
        'Final answer, not quite JSON: {"score_1": 4, "score_2": 2, ranking = 2\n'
        "best_score_1: 5"
    )
    verdict = parse_verdict(content=content)
    assert (*values(verdict), verdict.status) == (4, 2, 2, OK)


def test_last_resort_regex_reports_a_decimal_as_not_an_integer():
    verdict = parse_verdict(content="score_1: 4.5 score_2: 3 ranking: 2")
    assert (*values(verdict), verdict.status) == (None, 3, 2, UNPARSEABLE)
    assert verdict.detail == 'score_1 is not an integer: "4.5"'


# -- reasoning -----------------------------------------------------------------------------------


def test_reasoning_in_content_with_opening_think_tag():
    verdict = parse_verdict(
        content='<think>\nResponse 1 is right.\n</think>\n{"score_1": 5, "score_2": 2, "ranking": 1}'
    )
    assert values(verdict) == (5, 2, 1)
    assert verdict.reasoning == "Response 1 is right."
    assert verdict.verdict_text == '{"score_1": 5, "score_2": 2, "ranking": 1}'


def test_reasoning_in_content_without_opening_think_tag():
    verdict = parse_verdict(content=f"Response 1 is right.\n</think>\n\n{BOXED}")
    assert values(verdict) == (4, 3, 2)
    assert verdict.reasoning == "Response 1 is right."
    assert verdict.verdict_text == BOXED


def test_only_the_text_after_the_last_think_end_is_the_verdict():
    content = (
        '<think>maybe {"score_1": 1, "score_2": 5, "ranking": 6}</think> no wait </think>'
        "score_1: 3 score_2: 3 ranking: 4"
    )
    verdict = parse_verdict(content=content)
    assert (*values(verdict), verdict.status) == (3, 3, 4, OK)
    assert verdict.reasoning.startswith('maybe {"score_1": 1')


def test_reasoning_from_a_server_field():
    # vLLM puts it in message.reasoning (or reasoning_content); content holds only the verdict.
    verdict = parse_verdict(
        content='{"score_1": 1, "score_2": 2, "ranking": 4}',
        reasoning="  Response 2 is better.  ",
        finish_reason="stop",
    )
    assert (*values(verdict), verdict.status) == (1, 2, 4, OK)
    assert verdict.reasoning == "Response 2 is better."


def test_a_blank_reasoning_field_falls_back_to_the_content():
    verdict = parse_verdict(content="<think>Hmm.</think>" + BOXED, reasoning="")
    assert verdict.reasoning == "Hmm."


def test_content_without_think_tags_has_no_reasoning():
    verdict = parse_verdict(content=BOXED)
    assert verdict.reasoning == ""
    assert verdict.verdict_text == BOXED


# -- truncated -----------------------------------------------------------------------------------


def test_a_reply_cut_off_at_the_token_limit_is_truncated_without_values():
    content = '<think>Response 1 looks {"score_1": 4, "score_2'
    verdict = parse_verdict(content=content, finish_reason="length")
    assert (*values(verdict), verdict.status) == (None, None, None, TRUNCATED)
    assert verdict.reasoning == 'Response 1 looks {"score_1": 4, "score_2'
    assert verdict.verdict_text == ""
    assert verdict.detail


def test_truncated_even_when_a_verdict_made_it_out():
    content = 'thinking</think>{"score_1": 4, "score_2": 3, "ranking": 2}'
    verdict = parse_verdict(content=content, finish_reason="length")
    assert (*values(verdict), verdict.status) == (None, None, None, TRUNCATED)
    assert verdict.reasoning == "thinking"
    assert verdict.verdict_text == '{"score_1": 4, "score_2": 3, "ranking": 2}'


def test_truncated_with_reasoning_in_a_field_keeps_it():
    verdict = parse_verdict(content="", reasoning="half a thought", finish_reason="length")
    assert verdict.status == TRUNCATED
    assert verdict.reasoning == "half a thought"


# -- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected", "detail"),
    [
        (
            '{"score_1": 4, "score_2": 3, "ranking": 7}',
            (4, 3, None),
            "ranking 7 is outside 1..6",
        ),
        ('{"score_1": 0, "score_2": 3, "ranking": 2}', (None, 3, 2), "score_1 0 is outside 1..5"),
        ('{"score_1": 4, "score_2": 6, "ranking": 2}', (4, None, 2), "score_2 6 is outside 1..5"),
        (
            '{"score_1": -1, "score_2": 3, "ranking": 0}',
            (None, 3, None),
            "score_1 -1 is outside 1..5; ranking 0 is outside 1..6",
        ),
    ],
)
def test_values_out_of_range(content, expected, detail):
    verdict = parse_verdict(content=content)
    assert values(verdict) == expected
    assert verdict.status == OUT_OF_RANGE
    assert verdict.detail == detail


def test_some_fields_missing_is_partial_and_keeps_the_rest():
    verdict = parse_verdict(content='{"score_1": 4, "ranking": 3}')
    assert (*values(verdict), verdict.status) == (4, None, 3, PARTIAL)
    assert verdict.detail == "no score_2 in the verdict"


@pytest.mark.parametrize(
    "content",
    [None, "", "   ", "The responses are both fine.", '{"score_1": null}', "{", "}{", "\x00"],
)
def test_no_verdict_is_unparseable(content):
    verdict = parse_verdict(content=content)
    assert (*values(verdict), verdict.status) == (None, None, None, UNPARSEABLE)
    assert verdict.detail


def test_no_verdict_found_says_so():
    assert parse_verdict(content="I cannot decide.").detail == "no verdict found"


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        (
            '{"score_1": 4, "score_2": 3, "ranking": 5}',
            "score_1 4 > score_2 3 but ranking 5 prefers response 2",
        ),
        (
            '{"score_1": 2, "score_2": 3, "ranking": 3}',
            "score_1 2 < score_2 3 but ranking 3 prefers response 1",
        ),
    ],
)
def test_a_ranking_that_contradicts_the_scores_is_kept_and_flagged(content, detail):
    verdict = parse_verdict(content=content)
    assert verdict.status == INCONSISTENT
    assert verdict.detail == detail
    assert values(verdict) == tuple(json.loads(content).values())
    # The ranking decides the preference.
    assert verdict.preference == RANKING_TO_PREFERENCE[verdict.ranking]


@pytest.mark.parametrize("ranking", [1, 2, 3, 4, 5, 6])
def test_equal_scores_agree_with_any_ranking(ranking):
    assert parsed(f'{{"score_1": 3, "score_2": 3, "ranking": {ranking}}}')[-1] == OK


@pytest.mark.parametrize(
    ("content", "status"),
    [
        # not an integer > out of range > missing
        ('{"score_1": 4.5, "score_2": 9, "ranking": 2}', UNPARSEABLE),
        ('{"score_1": "x", "ranking": 2}', UNPARSEABLE),
        ('{"score_1": 9, "ranking": 2}', OUT_OF_RANGE),
        ('{"score_2": 9}', OUT_OF_RANGE),
    ],
)
def test_status_precedence(content, status):
    assert parse_verdict(content=content).status == status


def test_precedence_detail_lists_every_problem_worst_first():
    verdict = parse_verdict(content='{"score_1": 9, "score_2": "bad"}')
    assert verdict.status == UNPARSEABLE
    assert verdict.detail == (
        'score_2 is not an integer: "bad"; score_1 9 is outside 1..5; no ranking in the verdict'
    )


def test_every_status_is_one_of_the_constants():
    assert set(STATUSES) == {
        "ok",
        "partial",
        "out_of_range",
        "unparseable",
        "truncated",
        "inconsistent",
    }


# -- robustness ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        "{" * 100_000,
        "}" * 100_000,
        '{"score_1": ' * 20_000,
        '{"score_1":' * 5_000 + "1" + "}" * 5_000,
        '{"score_1": ' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"a": "' + "\\" * 10_001,
        "\x00{\x00}\x00" * 1000,
        "```json\n" * 1000,
        "[The Begin of Individual Scores]\\boxed{" * 1000,
        '{"score_1": 1' + "0" * 10_000 + "}",
        "score_1: " + "9" * 10_000,
        "\ud800 lone surrogate {",
    ],
)
def test_hostile_content_never_raises(content):
    verdict = parse_verdict(content=content)
    assert verdict.status in STATUSES


def test_nested_verdict_within_the_depth_guard_is_found():
    content = '{"a": {"b": {"c": {"score_1": 5, "score_2": 4, "ranking": 3}}}}'
    assert parsed(content) == (5, 4, 3, OK)


def test_non_string_inputs_do_not_raise():
    verdict = parse_verdict(content=None, reasoning=None, finish_reason=None)
    assert verdict.status == UNPARSEABLE


@pytest.mark.parametrize(
    "content",
    [
        "<think>" + 'Response 1 says {x} and "y"; score_1 maybe 3. ' * 20_000 + "</think>"
        '{"score_1": 4, "score_2": 3, "ranking": 2}',
        'Thinking without tags, {braces} and "quotes". ' * 22_000
        + '```json\n{"score_1": 4, "score_2": 3, "ranking": 2}\n```',
        '{"score_1": 9}' * 72_000,
        "{}" * 500_000 + '"ranking": 3',
        '"' * 1_000_000,
        "x" * 1_000_000,
    ],
    ids=["reasoning", "untagged", "many-objects", "brace-pairs", "quotes", "letters"],
)
@pytest.mark.timeout(60)
def test_a_megabyte_of_hostile_text_parses_without_blowing_up(content):
    # A quadratic scan of 1 MB would run for hours; the timeout turns that into a failure.
    # (Linear parsing takes milliseconds; speed itself is not asserted here.)
    assert len(content) >= 900_000
    verdict = parse_verdict(content=content)
    assert verdict.status in STATUSES
    assert verdict.status != OK or verdict.ranking is not None


# -- preference and swap mapping -----------------------------------------------------------------


def test_ranking_to_preference_table():
    assert RANKING_TO_PREFERENCE == {1: -3, 2: -2, 3: -1, 4: 1, 5: 2, 6: 3}
    for ranking, preference in RANKING_TO_PREFERENCE.items():
        assert preference_from_ranking(ranking) == preference


@pytest.mark.parametrize("ranking", [0, 7, -1, True, None, 3.5])
def test_preference_from_ranking_rejects_anything_but_1_to_6(ranking):
    with pytest.raises(ValueError, match="ranking"):
        preference_from_ranking(ranking)


def test_canonical_without_swap_adds_the_preference():
    assert canonical(score_1=4, score_2=3, ranking=2, swapped=False) == (4, 3, 2, -2)


def test_canonical_maps_a_swapped_verdict_back():
    # The judge saw the comparison's response_2 first and preferred it slightly (ranking 3).
    assert canonical(score_1=4, score_2=3, ranking=3, swapped=True) == (3, 4, 4, 1)


def test_canonical_keeps_missing_values_missing():
    assert canonical(score_1=None, score_2=3, ranking=None, swapped=True) == (3, None, None, None)
    assert canonical(score_1=None, score_2=None, ranking=1, swapped=True) == (None, None, 6, 3)


@given(
    score_1=st.integers(1, 5) | st.none(),
    score_2=st.integers(1, 5) | st.none(),
    ranking=st.integers(1, 6) | st.none(),
)
def test_canonical_of_the_swapped_verdict_is_the_original(score_1, score_2, ranking):
    as_seen_swapped = (score_2, score_1, None if ranking is None else 7 - ranking)
    back = canonical(
        score_1=as_seen_swapped[0],
        score_2=as_seen_swapped[1],
        ranking=as_seen_swapped[2],
        swapped=True,
    )
    assert back == canonical(score_1=score_1, score_2=score_2, ranking=ranking, swapped=False)
    if ranking is not None:
        # Swapping flips the preference, as position consistency assumes.
        assert preference_from_ranking(as_seen_swapped[2]) == -back[3]


# -- properties ----------------------------------------------------------------------------------

# st.text never yields lone surrogates; NUL and every other code point can appear.
any_text = st.text(st.characters(codec="utf-8"))
verdict_values = st.tuples(st.integers(1, 5), st.integers(1, 5), st.integers(1, 6))
prose = any_text.filter(lambda s: "think>" not in s)


@PROPERTY
@given(
    content=any_text | st.none(),
    reasoning=any_text | st.none(),
    finish_reason=st.sampled_from([None, "stop", "length", "tool_calls"]),
)
def test_parse_verdict_never_raises(content, reasoning, finish_reason):
    verdict = parse_verdict(content=content, reasoning=reasoning, finish_reason=finish_reason)
    assert verdict.status in STATUSES
    assert (verdict.status == OK) == (verdict.detail == "")
    for value, (low, high) in zip(values(verdict), [(1, 5), (1, 5), (1, 6)], strict=True):
        assert value is None or low <= value <= high


@PROPERTY
@given(
    parts=st.lists(
        st.sampled_from(
            [
                "{",
                "}",
                '"',
                "\\",
                "\n",
                ":",
                ",",
                " ",
                "4",
                "score_1",
                "score_2",
                "ranking",
                '"score_1": 3',
                "```json\n",
                "```",
                "</think>",
                "<think>",
                "overall",
                "[The Begin of Individual Scores]",
                "[The End of Individual Scores]",
                "[The Begin of Ranking Score]",
                "[The End of Ranking Score]",
                "\\boxed{",
                "\x00",
            ]
        )
    )
)
def test_parse_verdict_never_raises_on_verdict_shaped_fragments(parts):
    assert parse_verdict(content="".join(parts)).status in STATUSES


def expected_status(score_1: int, score_2: int, ranking: int) -> str:
    if (score_1 > score_2 and ranking >= 4) or (score_1 < score_2 and ranking <= 3):
        return INCONSISTENT
    return OK


@st.composite
def json_renderings(draw, values: tuple[int, int, int]) -> str:
    score_1, score_2, ranking = values
    fields = {"score_1": score_1, "score_2": score_2, "ranking": ranking}
    as_str = draw(st.sets(st.sampled_from(list(fields))))
    fields = {k: str(v) if k in as_str else v for k, v in fields.items()}
    keys = draw(st.permutations(list(fields)))
    obj = {k: fields[k] for k in keys}
    if draw(st.booleans()):
        obj = {"response_1_analysis": draw(prose), **obj, "response_2_analysis": draw(prose)}
    if draw(st.booleans()):
        obj = {
            "rubric_evaluations": [{"score_1": 1, "score_2": 1, "ranking": 1}],
            "overall": obj,
        }
    text = json.dumps(
        obj,
        indent=draw(st.sampled_from([None, 2])),
        ensure_ascii=draw(st.booleans()),
    )
    if draw(st.booleans()):
        text = f"```json\n{text}\n```"
    return text


def boxed_rendering(values: tuple[int, int, int], space: str) -> str:
    score_1, score_2, ranking = values
    return (
        f"[The Begin of Individual Scores]{space}\\boxed{{{score_1},{space}{score_2}}}{space}"
        f"[The End of Individual Scores]\n"
        f"[The Begin of Ranking Score]{space}\\boxed{{{space}{ranking}}}{space}"
        f"[The End of Ranking Score]"
    )


@PROPERTY
@given(data=st.data(), expected=verdict_values, reasoning=prose)
def test_a_json_verdict_parses_back_to_its_values(data, expected, reasoning):
    rendered = data.draw(json_renderings(expected))
    verdict = parse_verdict(content=f"<think>{reasoning}</think>{rendered}")
    assert values(verdict) == expected
    assert verdict.status == expected_status(*expected)
    assert verdict.reasoning == reasoning.strip()


@PROPERTY
@given(
    expected=verdict_values,
    space=st.sampled_from(["", " ", "\n", "  \n "]),
    reasoning=prose,
    in_field=st.booleans(),
)
def test_a_boxed_verdict_parses_back_to_its_values(expected, space, reasoning, in_field):
    rendered = boxed_rendering(expected, space)
    if in_field:
        verdict = parse_verdict(content=rendered, reasoning=reasoning)
    else:
        verdict = parse_verdict(content=f"{reasoning}\n</think>\n{rendered}")
    assert values(verdict) == expected
    assert verdict.status == expected_status(*expected)


@PROPERTY
@given(expected=verdict_values, prefix=prose)
def test_a_json_verdict_after_arbitrary_prose_parses_back(expected, prefix):
    # Prose before the verdict (no think tags, as from a server that drops them) may hold any
    # braces and quotes; the last key regexes catch what brace matching cannot.
    assume("[The End of" not in prefix and "```" not in prefix)
    score_1, score_2, ranking = expected
    rendered = json.dumps({"score_1": score_1, "score_2": score_2, "ranking": ranking})
    verdict = parse_verdict(content=f"{prefix}\n{rendered}")
    assert values(verdict) == expected


@pytest.mark.parametrize("module", [verdicts, prompts])
def test_modules_import_the_standard_library_only(module):
    assert top_level_imports(module) <= set(sys.stdlib_module_names)
