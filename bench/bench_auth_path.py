"""Benchmark: the per-request code path of API keys and rate limits, in process, without HTTP.

    python bench/bench_auth_path.py

Times `authenticate` (a cached key) + the admission (rate-limit buckets, the
x-ratelimit-* headers formatted) + settling the usage, for an open gateway
and for a key with limits, in CPU µs per request. bench_auth.py measures the
same end to end; on a noisy VM this isolates the code's own cost.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from responses_gateway.api.v1 import responses_pb2 as pb  # noqa: E402
from responses_gateway.security import Authenticator, key_admin  # noqa: E402
from responses_gateway.security.limits import MemoryRateLimiter  # noqa: E402
from responses_gateway.service.admission import Admission  # noqa: E402
from responses_gateway.service.call import caller_of  # noqa: E402
from responses_gateway.store import Store  # noqa: E402

N = 20_000


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(f"sqlite+aiosqlite:///{tmp}/auth.db")
        try:
            await store.migrate()
            _, key = await key_admin.create_key(store, "bench", rpm=10**8, tpm=10**11)
            usage = pb.Usage(input_tokens=5, output_tokens=6)
            results = {}
            for name, mode in (("open", "open"), ("keyed", "required")):
                auth = Authenticator(store, mode=mode, cache_seconds=3600)  # type: ignore[arg-type]
                admission = Admission(MemoryRateLimiter())
                header = f"Bearer {key}"
                for _ in range(2):  # the first pass warms the key cache and the buckets
                    started = time.process_time()
                    for _ in range(N):
                        ctx = caller_of(await auth.authenticate(header), {})
                        await admission.admit(ctx, 100, create=True)
                        admission.settle(ctx, "m", 100, usage)
                    results[name] = (time.process_time() - started) * 1e6 / N
            for name, micros in results.items():
                print(f"{name:6s} {micros:6.1f} µs CPU per request (authenticate + admit + settle, headers formatted)")
            print(f"keyed − open: {results['keyed'] - results['open']:+.1f} µs per request (budget ≤ 50 µs)")
        finally:
            await store.close()


if __name__ == "__main__":
    import uvloop

    uvloop.run(main())
