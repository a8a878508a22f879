#!/usr/bin/env bash
# Benchmark: instructions per request that tracing adds, counted by callgrind (all threads, exporter's included).
#
#   bash bench/bench_tracing_instructions.sh                 # ~10 minutes: serve runs under callgrind
#   VARIANTS="off ratio1" bash bench/bench_tracing_instructions.sh
#
# Variants of `serve` in front of the instant fake upstream, each answering N1 and N2 sequential non-streaming
# requests (STORE=false by default); per request = (Ir(N2) - Ir(N1)) / (N2 - N1), which cancels start-up and
# shutdown. Instruction counts do not drift with a noisy VM as CPU time does (bench_tracing.py measures CPU).
#   off     no OTEL_* variable: tracing off (metrics and the access line on, as by default)
#   never   OTLP/gRPC to a sink with OTEL_TRACES_SAMPLER=always_off: the SDK present, nothing sampled
#   ratio1  parentbased_traceidratio 0.01 (1 % of requests sampled)
#   on      every request traced, exported over OTLP/gRPC to bench/_otlp_sink.py
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PY:-$ROOT/.venv/bin/python}
N1=${N1:-100}
N2=${N2:-400}
STORE=${STORE:-false}
VARIANTS=${VARIANTS:-off never ratio1 on}
WORK=$(mktemp -d /tmp/rg-bench-trace-instr.XXXXXX)

free_port() { "$PY" -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"; }

sink=$(free_port)
"$PY" "$ROOT/bench/_otlp_sink.py" --port "$sink" >"$WORK/sink.log" 2>&1 &
sinkpid=$!
trap 'kill $sinkpid 2>/dev/null || true' EXIT

instructions() {  # variant requests -> total instructions of the gateway process
  local variant=$1 n=$2 up http grpc gw
  up=$(free_port); http=$(free_port); grpc=$(free_port)
  "$PY" "$ROOT/bench/_upstream.py" --port "$up" --latency-ms 0 --token-delay-ms 0 >"$WORK/up.log" 2>&1 &
  local uppid=$!
  local -a otel=()
  case $variant in
    off) ;;
    never) otel=(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$sink" OTEL_TRACES_SAMPLER=always_off) ;;
    ratio1) otel=(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$sink" OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG=0.01) ;;
    on) otel=(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$sink") ;;
  esac
  # Timers (usage writes, lease renewals) fire only at start and stop, which the slope cancels.
  env "${otel[@]}" OTEL_EXPORTER_OTLP_PROTOCOL=grpc PYTHONHASHSEED=0 \
    RG_DATABASE_URL="sqlite+aiosqlite:///$WORK/$variant-$n.db" RG_HTTP_PORT="$http" RG_GRPC_PORT="$grpc" \
    RG_USAGE_FLUSH_SECONDS=3600 RG_LEASE_SECONDS=3600 OPENAI_BASE_URL="http://127.0.0.1:$up/v1" OPENAI_API_KEY=sk-test-fake \
    RG_PROVIDERS='[{"name": "openai", "type": "openai_responses", "base_url": "http://unused", "base_url_env": "OPENAI_BASE_URL", "api_key_env": "OPENAI_API_KEY"}]' \
    RG_MODELS='[{"id": "gpt-5.4", "provider": "openai", "tokenizer": "o200k"}]' \
    valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.$variant.$n" "$PY" -m responses_gateway.cli serve >"$WORK/$variant-$n.log" 2>&1 &
  gw=$!
  for _ in $(seq 1 900); do curl -s -o /dev/null "http://127.0.0.1:$http/healthz" && break; sleep 1; done
  URL="http://127.0.0.1:$http" N=$n STORE=$STORE "$PY" - <<'PYEOF'
import asyncio, os
import aiohttp

async def main() -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(int(os.environ["N"])):
            body = {"model": "gpt-5.4", "input": "hi", "store": os.environ["STORE"] == "true"}
            async with session.post(f"{os.environ['URL']}/v1/responses", json=body) as resp:
                assert resp.status == 200, await resp.text()
                await resp.read()

asyncio.run(main())
PYEOF
  kill -INT "$gw"; wait "$gw" 2>/dev/null || true
  kill "$uppid"; wait "$uppid" 2>/dev/null || true
  # Every thread's totals (callgrind writes one part per thread with --separate-threads=no: one summary line).
  grep -h '^summary:' "$WORK/cg.$variant.$n"* | awk '{s += $2} END {print s}'
}

declare -A per
for variant in $VARIANTS; do
  a=$(instructions "$variant" "$N1"); b=$(instructions "$variant" "$N2")
  per[$variant]=$(( (b - a) / (N2 - N1) ))
  echo "$variant: $a instructions at $N1 requests, $b at $N2: ${per[$variant]} per request (store $STORE)"
done
if [ -n "${per[off]:-}" ]; then
  for variant in $VARIANTS; do
    "$PY" -c "print(f'$variant / off: {${per[$variant]} / ${per[off]}:.3f}')"
  done
fi
[ -n "${KEEP:-}" ] && echo "callgrind files kept in $WORK" || rm -rf "$WORK"
