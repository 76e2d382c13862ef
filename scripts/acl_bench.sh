#!/usr/bin/env bash
# Cost of the ACL check on the dispatch path: redis-benchmark GET/SET
# against one memkv, as the default user (allowed everything: the check is
# skipped) and as a user with 20 rules (commands, categories, key and
# channel patterns, a selector) that allow the benchmark's commands and
# keys, rounds interleaved. Prints the median requests/s of each and the
# ratio restricted/default (goal: >= 0.97, i.e. < 3% cost).
#
# Environment: ROUNDS=5 REQUESTS=1000000 CLIENTS=50 PIPELINE=16
#              MEMKV_BIN=path (default: build release)
set -euo pipefail

ROUNDS=${ROUNDS:-5}
REQUESTS=${REQUESTS:-1000000}
CLIENTS=${CLIENTS:-50}
PIPELINE=${PIPELINE:-16}

cd "$(dirname "$0")/.."
if [ -z "${MEMKV_BIN:-}" ]; then
    cargo build --release --quiet
    MEMKV_BIN=$PWD/target/release/memkv
fi

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
DIR=$(mktemp -d "${TMPDIR:-/tmp}/memkv-aclbench.XXXXXX")
"$MEMKV_BIN" --port "$PORT" --bind 127.0.0.1 --dir "$DIR" --save '' --appendonly no \
    --loglevel warning &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DIR"' EXIT
for _ in $(seq 100); do
    redis-cli -p "$PORT" ping >/dev/null 2>&1 && break
    sleep 0.05
done

# 20 rules; the permitted ones come last so the check walks the others.
redis-cli -p "$PORT" ACL SETUSER bench on '>benchpw' \
    -@all +@hash +@list +@set +ping +info +client +config\|get +select +del \
    '+get' '+set' \
    '~user:*' '~session:*' '%R~cache:*' '%W~log:*' '~key:*' \
    '&news' '&sport' \
    '(~other:* +hget)' >/dev/null

run() { # $1 = extra redis-benchmark args; prints "get set" rps
    redis-benchmark -p "$PORT" -n "$REQUESTS" -c "$CLIENTS" -P "$PIPELINE" \
        -r 100000 -t get,set --csv $1 2>/dev/null \
        | awk -F'","' '/^"(GET|SET)"/ { gsub(/"/, "", $2); printf "%s ", $2 }'
    echo
}

RES=$(mktemp)
for r in $(seq "$ROUNDS"); do
    if [ $((r % 2)) -eq 1 ]; then
        echo "default $(run '')" >>"$RES"
        echo "bench $(run '--user bench -a benchpw')" >>"$RES"
    else
        echo "bench $(run '--user bench -a benchpw')" >>"$RES"
        echo "default $(run '')" >>"$RES"
    fi
done
python3 - "$RES" "$PIPELINE" <<'EOF'
import sys, statistics
rows = {}
for line in open(sys.argv[1]):
    who, *vals = line.split()
    rows.setdefault(who, []).append([float(v) for v in vals])
for i, test in enumerate(["GET", "SET"]):
    d = statistics.median(r[i] for r in rows["default"])
    b = statistics.median(r[i] for r in rows["bench"])
    print(f"{test} -P {sys.argv[2]}: default {d:,.0f} rps, 20-rule user {b:,.0f} rps, ratio {b/d:.3f}")
EOF
rm -f "$RES"
