"""Garbage-collector settings for a serving process.

Measured under load (64 clients in a closed loop, instant upstream, store off):
with CPython's defaults the collector took 9–15 % of the event loop's
time, and each full collection walked every object built at start-up
(modules, protobuf descriptors, SQLAlchemy metadata, tokenizers' Python
side) in a pause of about 90 ms, many times a request's whole p99 budget.
Requests allocate short-lived objects only; what lives long was made
before the first request.
"""

from __future__ import annotations

import gc

# Young-generation threshold: a request allocates a few hundred tracked
# objects, so CPython's 700 meant a collection every two or three requests.
YOUNG_THRESHOLD = 10_000
MIDDLE_THRESHOLD = 20
OLD_THRESHOLD = 100


def settle_after_start() -> None:
    """Freeze what start-up built out of the collector's sight and collect young objects less often.

    Call once the servers are up: frozen objects are never scanned again
    (and never freed, which is right for modules and configuration).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)
