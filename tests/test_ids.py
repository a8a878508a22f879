"""Ids look like OpenAI's and sort by creation second."""

from __future__ import annotations

import re
import time

from responses_gateway.ids import new_id


def test_ids_have_openai_shape_and_lead_with_the_time() -> None:
    before = int(time.time())
    ids = [new_id("resp") for _ in range(100)]
    assert all(re.fullmatch(r"resp_[0-9a-f]{48}", i) for i in ids)
    assert len(set(ids)) == 100
    assert before <= int(ids[0][5:13], 16) <= int(time.time())
