"""Importing the gateway picks grpc's transport before grpc loads; an operator's choice stands."""

import os
import subprocess
import sys

from responses_gateway import GRPC_EXPERIMENTS

_PROBE = "import responses_gateway, os, grpc; print(os.environ['GRPC_EXPERIMENTS'])"


def _experiments_seen(env: dict[str, str]) -> str:
    out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True, timeout=60)
    return out.stdout.strip()


def test_a_serving_process_runs_grpc_without_its_event_engine_transport() -> None:
    env = {k: v for k, v in os.environ.items() if k != "GRPC_EXPERIMENTS"}
    assert _experiments_seen(env) == GRPC_EXPERIMENTS == "-event_engine_client,-event_engine_listener"


def test_an_operator_who_sets_grpc_experiments_keeps_their_value() -> None:
    assert _experiments_seen({**os.environ, "GRPC_EXPERIMENTS": ""}) == ""
    assert _experiments_seen({**os.environ, "GRPC_EXPERIMENTS": "event_engine_client"}) == "event_engine_client"
