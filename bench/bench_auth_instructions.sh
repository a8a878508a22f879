#!/usr/bin/env bash
# Benchmark: instructions per request that API-key auth and rate limits add, counted by callgrind.
#
#   bash bench/bench_auth_instructions.sh            # ~6 minutes (the gateway runs under valgrind)
#
# Instruction counts do not drift with a noisy VM as CPU time does. `serve` runs under
# `valgrind --tool=callgrind` in front of the instant fake upstream, once with `auth.mode open`
# and once `required` with a key whose limits nothing reaches; each mode answers N1 and N2
# sequential non-streaming requests (store off). Per request = (Ir(N2) - Ir(N1)) / (N2 - N1),
# which cancels start-up and shutdown; the difference between the modes is what keys and limits cost.
#
# To µs: callgrind counts user-space instructions only. The last line gives two conversions: at the rate
# this kind of Python code runs here (INSTR_PER_NS, from bench_auth_path.py's path timed and counted:
# 59,580 instructions in 5.23 µs, 11.4 per ns, on 2026-12-03), and an upper bound at the open mode's
# whole CPU per request (OPEN_CPU_US, which includes the kernel's socket work that callgrind does not count).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PY:-$ROOT/.venv/bin/python}
N1=${N1:-100}
N2=${N2:-500}
OPEN_CPU_US=${OPEN_CPU_US:-995}   # open mode's gateway CPU µs per request (bench_auth.py, same machine)
INSTR_PER_NS=${INSTR_PER_NS:-11.4}  # user-space Python instructions per ns here (see above)
WORK=$(mktemp -d /tmp/rg-bench-instr.XXXXXX)

free_port() { "$PY" -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"; }

instructions() {  # mode requests -> total instructions of the gateway process
  local mode=$1 n=$2 up http grpc key gw
  up=$(free_port); http=$(free_port); grpc=$(free_port)
  "$PY" "$ROOT/bench/_upstream.py" --port "$up" --latency-ms 0 --token-delay-ms 0 >"$WORK/up.log" 2>&1 &
  local uppid=$!
  export RG_DATABASE_URL="sqlite+aiosqlite:///$WORK/$mode-$n.db" RG_AUTH__MODE=$mode RG_HTTP_PORT=$http RG_GRPC_PORT=$grpc
  export OPENAI_BASE_URL="http://127.0.0.1:$up/v1" OPENAI_API_KEY=sk-test-fake PYTHONHASHSEED=0
  # Timers (usage writes, lease renewals, the key cache) run per second of wall time, and valgrind stretches a
  # request to ~70 ms: left on, they add work per request that varies with the machine's load. Here they fire
  # only at start and stop, which the slope cancels.
  export RG_USAGE_FLUSH_SECONDS=3600 RG_LEASE_SECONDS=3600 RG_AUTH__CACHE_SECONDS=300
  export RG_PROVIDERS='[{"name": "openai", "type": "openai_responses", "base_url": "http://unused", "base_url_env": "OPENAI_BASE_URL", "api_key_env": "OPENAI_API_KEY"}]'
  export RG_MODELS='[{"id": "gpt-5.4", "provider": "openai", "tokenizer": "o200k"}]'
  key=$("$PY" -m responses_gateway.cli keys create --tenant bench --rpm 100000000 --tpm 100000000000 --json 2>/dev/null \
    | "$PY" -c "import json, sys; print(json.load(sys.stdin)['key'])")
  valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.$mode.$n" "$PY" -m responses_gateway.cli serve >"$WORK/$mode-$n.log" 2>&1 &
  gw=$!
  for _ in $(seq 1 900); do curl -s -o /dev/null "http://127.0.0.1:$http/healthz" && break; sleep 1; done
  KEY=$key URL="http://127.0.0.1:$http" N=$n "$PY" - <<'PYEOF'
import asyncio, os
import aiohttp

async def main() -> None:
    headers = {"Authorization": f"Bearer {os.environ['KEY']}"}
    async with aiohttp.ClientSession() as session:
        for _ in range(int(os.environ["N"])):
            body = {"model": "gpt-5.4", "input": "hi", "store": False}
            async with session.post(f"{os.environ['URL']}/v1/responses", json=body, headers=headers) as resp:
                assert resp.status == 200, await resp.text()
                await resp.read()

asyncio.run(main())
PYEOF
  kill -INT "$gw"; wait "$gw" 2>/dev/null || true
  kill "$uppid"; wait "$uppid" 2>/dev/null || true
  grep -h '^summary:' "$WORK/cg.$mode.$n" | awk '{print $2}'
}

declare -A per
for mode in open required; do
  a=$(instructions "$mode" "$N1"); b=$(instructions "$mode" "$N2")
  per[$mode]=$(( (b - a) / (N2 - N1) ))
  echo "$mode: $a instructions at $N1 requests, $b at $N2: ${per[$mode]} per request"
done
delta=$(( per[required] - per[open] ))
"$PY" -c "
d, o, cpu, rate = $delta, ${per[open]}, $OPEN_CPU_US, $INSTR_PER_NS
print(f'keys + limits add {d} instructions per request ({100 * d / o:+.1f} %): {d / rate / 1000:.1f} µs at {rate} instructions per ns, '
      f'at most {d / o * cpu:.0f} µs at open mode\'s {cpu} µs of CPU per request (budget: 50 µs)')
"
[ -n "${KEEP:-}" ] && echo "callgrind files kept in $WORK" || rm -rf "$WORK"
