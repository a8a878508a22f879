"""The gateway: OpenAI Responses API over gRPC and HTTP, in front of many providers."""

import os

# grpc's core reads GRPC_EXPERIMENTS once, when grpc is first imported, so this must run
# before any module of ours imports it. Without its EventEngine TCP client and listener
# (grpc's older iomgr path, still shipped), a unary call took about 24 % less server CPU
# and 140–185 µs less at c=1 on our 2-core rig, and the split layout answered 12–23 %
# more requests per second (bench/bench_hop.py, bench/README.md). An operator's own value wins.
GRPC_EXPERIMENTS = "-event_engine_client,-event_engine_listener"
os.environ.setdefault("GRPC_EXPERIMENTS", GRPC_EXPERIMENTS)
