"""The fake OpenAI Responses upstream (tests/upstreams/openai_responses.py) for long runs.

Same server, same wire protocol, same options as
``python -m tests.upstreams.openai_responses``; the only difference is that the
list of recorded requests (kept for tests' assertions) is bounded, so a
10-minute soak does not grow the fake by gigabytes. Run from the repo root.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.upstreams.openai_responses import FakeOpenAIResponses  # noqa: E402


async def _serve(args: argparse.Namespace) -> None:
    fake = FakeOpenAIResponses(args.api_key, latency_ms=args.latency_ms, token_delay_ms=args.token_delay_ms)
    fake.requests = collections.deque(maxlen=16)  # type: ignore[assignment]
    await fake.start(args.host, args.port)
    print(f"fake OpenAI Responses upstream at {fake.base_url}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await fake.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-key", default="sk-test-fake")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--token-delay-ms", type=float, default=0.0)
    args = parser.parse_args()
    import uvloop

    try:
        uvloop.run(_serve(args))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
