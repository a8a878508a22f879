"""The conservative estimate is never below the exact counts on the corpus."""

from __future__ import annotations

import dataclasses

import pytest

from responses_gateway.context import counter_for
from responses_gateway.context.counting import DEEPSEEK_V4_FRAMING, ESTIMATE_FRAMING, O200K_FRAMING
from responses_gateway.context.estimate import estimate_tokens
from tests.context.corpus import CORPUS


@pytest.mark.parametrize("text", CORPUS)
def test_never_below_exact_counts(text: str) -> None:
    estimate = counter_for("estimate").count_text(text)
    assert estimate >= counter_for("o200k").count_text(text)
    assert estimate >= counter_for("deepseek_v4").count_text(text)


def test_whole_corpus_and_concatenation() -> None:
    text = "\n".join(CORPUS) * 3
    assert estimate_tokens(text) >= counter_for("o200k").count_text(text)
    assert estimate_tokens(text) >= counter_for("deepseek_v4").count_text(text)


def test_not_absurd_on_english() -> None:
    text = "The quick brown fox jumps over the lazy dog. " * 50
    assert estimate_tokens(text) <= 2 * counter_for("o200k").count_text(text)


def test_lone_surrogates_and_empty() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("\ud800") >= 1


def test_framing_is_the_upper_of_both() -> None:
    for field in dataclasses.fields(ESTIMATE_FRAMING):
        value = getattr(ESTIMATE_FRAMING, field.name)
        assert value == max(getattr(O200K_FRAMING, field.name), getattr(DEEPSEEK_V4_FRAMING, field.name))
