#!/usr/bin/env bash
# memkv vs real Redis, same machine, same run, interleaved.
#
# Builds memkv (release), installs redis-server if missing (apt-get), starts
# both on free loopback ports and runs the same `redis-benchmark` tests
# against each, alternating server order every round, at -P 1 and -P 16.
# Prints the median requests/s per test, pipeline depth and server, the
# memkv/Redis ratio, and the server CPU per request of each (user + system
# time of the server process before and after the run, see cpu_ns, divided
# by the requests) with the "x cheaper" ratio Redis CPU / memkv CPU;
# geometric means per pipeline depth. Absolute numbers drift on shared
# machines; the interleaved ratios are what to compare.
#
# Environment:
#   ROUNDS=3        rounds (median over rounds)
#   TESTS=ping_inline,ping_mbulk,set,get,incr,lpush,lpop,hset,mset,sadd,spop,zadd,zpopmin
#                   (redis-benchmark -t, one run per test; empty: skip)
#   ZCUSTOM=1       also ZRANGE / ZRANK / ZSCORE as custom commands on a
#                   1000-member sorted set (bench:z)
#   BITS=1          also SETBIT, BITFIELD INCRBY, BITCOUNT (64 KB bitmap), PFADD and PFCOUNT
#                   (a dense HyperLogLog) as custom commands
#   STREAMS=1       also XADD (auto id) and XRANGE ... COUNT 10 on a
#                   1000-entry stream as custom commands
#   HASHES=1        also HSET (update) and HGET of one field of 1000 small
#                   hashes (10 fields each, listpack in Redis) as custom
#                   commands
#   EVALSHA=1       also EVALSHA of a small script (GET + INCR of one key),
#                   loaded with SCRIPT LOAD into both servers
#   REQUESTS=200000 requests per test (-n)
#   CLIENTS=50      parallel connections (-c)
#   PIPELINES="1 16"
#   MEMORY=1        also load the same datasets into fresh servers and
#                   compare resident memory (VmRSS): ~1M random string keys,
#                   one set of 1,000,000 members, 100,000 small integer sets,
#                   100,000 hashes of 10 fields, 100,000 lists of 10 elements,
#                   one list of 1,000,000 10-byte elements; RSS right
#                   after the load and after MEM_IDLE (10) seconds idle
#                   (both crons finish incremental rehashing)
#   FANOUT=1        Pub/Sub fan-out: one publisher (redis-benchmark PUBLISH,
#                   -P 16), SUBSCRIBERS subscribers, messages delivered per
#                   second until every subscriber got every message (0: skip)
#   SUBSCRIBERS=50  FANOUT_MESSAGES=100000
#   MEMKV_ARGS=""   extra memkv directives, e.g. "--appendonly yes"
#   MEMKV_BIN=path  use this memkv binary instead of building one
#   EVICT=1         maxmemory: fresh servers with maxmemory EVICT_MAXMEMORY and
#                   allkeys-lru, redis-benchmark SET over 10,000,000 random
#                   keys (-d EVICT_DATA, -P 16), EVICT_REQUESTS requests;
#                   prints requests/s, the memkv/Redis ratio and the highest
#                   used_memory seen (sampled every 20 ms) above maxmemory
#   EVICT_MAXMEMORY=100mb EVICT_REQUESTS=3000000 EVICT_DATA=100
#   BGSAVE=1        BGSAVE of ~1M string keys (-t set -r 1000000 -d 16) in
#                   each server: seconds until done, and the p99 / max
#                   latency of GETs by 10 other clients while BGSAVEs run
#                   back to back (Redis forks; memkv walks a snapshot a
#                   slice per tick), next to the same GETs with none
#   ZIPF=1          hit rate under a skewed workload (issue 16): fresh servers
#                   with maxmemory ZIPF_MAXMEMORY and allkeys-lru, then
#                   allkeys-lfu; scripts/zipf_hitrate.py drives the same
#                   seeded Zipf(ZIPF_S) stream of GET (miss -> SET of
#                   ZIPF_VALUE bytes) over ZIPF_KEYS keys, ZIPF_OPS GETs, and
#                   the hit rate after ZIPF_WARMUP GETs is compared (points)
#   ZIPF_MAXMEMORY=20mb ZIPF_KEYS=1000000 ZIPF_OPS=2000000 ZIPF_WARMUP=500000
#   ZIPF_S=1.0 ZIPF_VALUE=100 ZIPF_SEED=16
#   KEEP=1          keep the raw results directory
#   CLUSTER=1       cluster mode: one node of a 3-node memkv cluster (two
#                   thirds of the keys relayed) vs a single memkv node, same
#                   tests with random keys (-r 100000), reported as ratios
#                   cluster/single (TESTS defaults to set,get there)
#   LATENCY=1       latency under load: redis-benchmark -P 1 --precision 3
#                   per test in LATENCY_TESTS (default ping_mbulk,set,get,
#                   incr,lpush,lpop,hset), CLIENTS connections, REQUESTS
#                   requests; median over rounds of p50 / p99 / p99.9 / max
#                   (ms) for each server and the memkv/Redis ratios of p99
#                   and p99.9 (below 1: memkv's tail is shorter); then a
#                   paced open-loop probe (examples/latency_probe.rs) at
#                   LATENCY_RATE requests/s (default: half the lower GET
#                   peak just measured), LATENCY_CONNS=8 connections,
#                   LATENCY_SECONDS=10: p50 / p99 / p99.9 / max and the
#                   server CPU per request at that load
#   STALL=1         stalls while a table grows (issue 15 target 7): fresh servers,
#                   one at a time, a PING probe (one connection, one PING
#                   every 0.5 ms) while redis-benchmark -P 16 -c 50 runs
#                   STALL_KEYS SETs of random keys (-r 10x that), then
#                   STALL_MEMBERS ZADDs of random members into one sorted
#                   set and HSETs of random fields into one hash; the probe's
#                   max and p99.9 (ms) per server and memkv/Redis ratios
#                   (below 1: memkv stalls less)
#   STALL_KEYS=10000000 STALL_MEMBERS=3000000
#   TLS=1           benchmark over TLS: both servers get a tls-port with an
#                   openssl-made certificate (tls-auth-clients no) and
#                   redis-benchmark runs with --tls (TESTS defaults to
#                   set,get there; Debian's Redis is built with TLS)
set -euo pipefail

ROUNDS=${ROUNDS:-3}
TESTS=${TESTS-ping_inline,ping_mbulk,set,get,incr,lpush,lpop,hset,mset,sadd,spop,zadd,zpopmin}
ZCUSTOM=${ZCUSTOM:-1}
EVALSHA=${EVALSHA:-1}
BITS=${BITS:-1}
STREAMS=${STREAMS:-1}
HASHES=${HASHES:-1}
REQUESTS=${REQUESTS:-200000}
CLIENTS=${CLIENTS:-50}
PIPELINES=${PIPELINES:-1 16}
MEMORY=${MEMORY:-0}
MEM_IDLE=${MEM_IDLE:-10}
EVICT=${EVICT:-0}
EVICT_MAXMEMORY=${EVICT_MAXMEMORY:-100mb}
EVICT_REQUESTS=${EVICT_REQUESTS:-3000000}
EVICT_DATA=${EVICT_DATA:-100}
BGSAVE=${BGSAVE:-0}
ZIPF=${ZIPF:-0}
ZIPF_MAXMEMORY=${ZIPF_MAXMEMORY:-20mb}
ZIPF_KEYS=${ZIPF_KEYS:-1000000}
ZIPF_OPS=${ZIPF_OPS:-2000000}
ZIPF_WARMUP=${ZIPF_WARMUP:-500000}
ZIPF_S=${ZIPF_S:-1.0}
ZIPF_VALUE=${ZIPF_VALUE:-100}
ZIPF_SEED=${ZIPF_SEED:-16}
MEMKV_ARGS=${MEMKV_ARGS:-}
FANOUT=${FANOUT:-1}
SUBSCRIBERS=${SUBSCRIBERS:-50}
FANOUT_MESSAGES=${FANOUT_MESSAGES:-100000}
STALL=${STALL:-0}
STALL_KEYS=${STALL_KEYS:-10000000}
STALL_MEMBERS=${STALL_MEMBERS:-3000000}

cd "$(dirname "$0")/.."
ROOT=$PWD

log() { printf '== %s\n' "$*" >&2; }

# --- prerequisites ----------------------------------------------------------
if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null \
    || ! command -v redis-cli >/dev/null; then
    log "installing redis-server and redis-tools (apt-get)"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools >/dev/null
fi
command -v python3 >/dev/null || { echo "python3 is required" >&2; exit 1; }

if [ -n "${MEMKV_BIN:-}" ]; then
    log "using $MEMKV_BIN (not building)"
else
    log "building memkv (release)"
    cargo build --release --quiet
    MEMKV_BIN=$ROOT/target/release/memkv
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/memkv-bench.XXXXXX")
MEMKV_PID=""
REDIS_PID=""

stop_servers() {
    for pid in $MEMKV_PID $REDIS_PID; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in $MEMKV_PID $REDIS_PID; do
        wait "$pid" 2>/dev/null || true
    done
    MEMKV_PID=""
    REDIS_PID=""
}

cleanup() {
    stop_servers
    if [ "${KEEP:-0}" = 1 ]; then
        log "raw results kept in $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_ping() { # port pid name
    local i
    for i in $(seq 1 200); do
        if redis-cli -p "$1" ping 2>/dev/null | grep -q PONG; then
            return 0
        fi
        if ! kill -0 "$2" 2>/dev/null; then
            echo "$3 exited during start-up" >&2
            exit 1
        fi
        sleep 0.05
    done
    echo "$3 did not answer PING on port $1" >&2
    exit 1
}

start_servers() {
    mkdir -p "$WORK/memkv" "$WORK/redis"
    MEMKV_PORT=$(free_port)
    local mt=() rt=()
    if [ "${TLS:-0}" = 1 ]; then
        MEMKV_TLS_PORT=$(free_port)
        REDIS_TLS_PORT=$(free_port)
        mt=(--tls-port "$MEMKV_TLS_PORT" "${TLS_SERVER_ARGS[@]}")
        rt=(--tls-port "$REDIS_TLS_PORT" "${TLS_SERVER_ARGS[@]}")
    fi
    # shellcheck disable=SC2086 # MEMKV_ARGS is a list of words
    "$MEMKV_BIN" --port "$MEMKV_PORT" --bind 127.0.0.1 --dir "$WORK/memkv" \
        --appendonly no --save '' --loglevel warning "${mt[@]}" $MEMKV_ARGS >"$WORK/memkv.log" 2>&1 &
    MEMKV_PID=$!
    wait_ping "$MEMKV_PORT" "$MEMKV_PID" memkv
    REDIS_PORT=$(free_port)
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$WORK/redis" \
        --save '' --appendonly no --daemonize no --loglevel warning "${rt[@]}" \
        >"$WORK/redis.log" 2>&1 &
    REDIS_PID=$!
    wait_ping "$REDIS_PORT" "$REDIS_PID" redis
}

# TLS=1: a CA and a server certificate for 127.0.0.1, made with openssl.
BENCH_ARGS=()
tls_setup() {
    local d=$WORK/tls
    mkdir -p "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=bench CA" \
        -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
        -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$d/ext.cnf"
    openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
        -CAcreateserial -days 2 -extfile "$d/ext.cnf" -out "$d/server.crt" 2>/dev/null
    TLS_SERVER_ARGS=(--tls-cert-file "$d/server.crt" --tls-key-file "$d/server.key"
        --tls-auth-clients no)
    BENCH_ARGS=(--tls --cacert "$d/ca.crt")
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# CPU time (user + system) of a process, all threads, in ns: the sum of
# /proc/<pid>/task/*/schedstat's first field, the precise on-CPU time that
# /proc/<pid>/stat's utime + stime are scaled to (those count in 10 ms
# ticks: too coarse for a -P 16 run). Falls back to utime + stime (fields
# 14 and 15, counted after the ") " that ends the name) without schedstat.
TCK=$(getconf CLK_TCK)
cpu_ns() {
    if [ -r "/proc/$1/schedstat" ]; then
        cat "/proc/$1"/task/*/schedstat | awk '{t += $1} END {printf "%.0f\n", t}'
    else
        sed 's/.*) //' "/proc/$1/stat" | awk -v tck="$TCK" '{printf "%.0f\n", ($12 + $13) * 1e9 / tck}'
    fi
}

# --- cluster mode -----------------------------------------------------------
if [ "${CLUSTER:-0}" = 1 ]; then
    CTESTS=${TESTS:-set,get}
    [ "$CTESTS" = "ping_inline,ping_mbulk,set,get,incr,mset" ] && CTESTS=set,get
    CLUSTER_PIDS=""
    cluster_cleanup() {
        for pid in $CLUSTER_PIDS; do kill "$pid" 2>/dev/null || true; done
        for pid in $CLUSTER_PIDS; do wait "$pid" 2>/dev/null || true; done
        cleanup
    }
    trap cluster_cleanup EXIT
    ports=()
    for i in 1 2 3; do ports+=("$(free_port)"); done
    for i in 0 1 2; do
        peers=""
        for j in 0 1 2; do [ "$j" != "$i" ] && peers="${peers}127.0.0.1:${ports[$j]},"; done
        mkdir -p "$WORK/node$i"
        # shellcheck disable=SC2086 # MEMKV_ARGS is a list of words
        "$MEMKV_BIN" --port "${ports[$i]}" --bind 127.0.0.1 --dir "$WORK/node$i" \
            --appendonly no --loglevel warning --self "127.0.0.1:${ports[$i]}" \
            --peers "$peers" $MEMKV_ARGS >"$WORK/node$i.log" 2>&1 &
        pid=$!
        CLUSTER_PIDS="$CLUSTER_PIDS $pid"
        wait_ping "${ports[$i]}" "$pid" "cluster node $i"
    done
    mkdir -p "$WORK/single"
    SINGLE_PORT=$(free_port)
    # shellcheck disable=SC2086
    "$MEMKV_BIN" --port "$SINGLE_PORT" --bind 127.0.0.1 --dir "$WORK/single" \
        --appendonly no --loglevel warning $MEMKV_ARGS >"$WORK/single.log" 2>&1 &
    pid=$!
    CLUSTER_PIDS="$CLUSTER_PIDS $pid"
    wait_ping "$SINGLE_PORT" "$pid" "single memkv"
    log "3-node cluster on ${ports[*]} (benchmarking through ${ports[0]}), single node on $SINGLE_PORT"
    RESULTS=$WORK/cluster.csv
    : >"$RESULTS"
    for round in $(seq 1 "$ROUNDS"); do
        if [ $((round % 2)) -eq 1 ]; then order="cluster single"; else order="single cluster"; fi
        for p in $PIPELINES; do
            for server in $order; do
                if [ "$server" = cluster ]; then port=${ports[0]}; else port=$SINGLE_PORT; fi
                log "round $round/$ROUNDS  -P $p  $server"
                redis-benchmark -h 127.0.0.1 -p "$port" -t "$CTESTS" -n "$REQUESTS" -r 100000 \
                    -c "$CLIENTS" -P "$p" -q --csv 2>/dev/null \
                    | awk -F'","' -v r="$round" -v p="$p" -v s="$server" \
                        'NR > 1 { gsub(/"/, "", $1); print r "," p "," s "," $1 "," $2 }' \
                        >>"$RESULTS" \
                    || log "redis-benchmark failed against $server (-P $p)"
            done
        done
    done
    python3 - "$RESULTS" <<'EOF'
import statistics, sys
rows, order = {}, []
for line in open(sys.argv[1]):
    _r, p, server, test, rps = line.rstrip("\n").split(",")
    key = (test, int(p))
    if key not in rows:
        rows[key] = {"cluster": [], "single": []}
        order.append(key)
    rows[key][server].append(float(rps))
print()
print(f"{'test':<10} {'P':>3} {'cluster_rps':>12} {'single_rps':>12} {'ratio':>7}")
for test, p in sorted(order, key=lambda k: (k[1], order.index(k))):
    r = rows[(test, p)]
    if not r["cluster"] or not r["single"]:
        print(f"{test:<10} {p:>3} {'missing':>12}")
        continue
    c, s = statistics.median(r["cluster"]), statistics.median(r["single"])
    print(f"{test:<10} {p:>3} {c:>12.0f} {s:>12.0f} {c / s:>7.3f}")
EOF
    exit 0
fi

if [ "${TLS:-0}" = 1 ]; then
    tls_setup
    [ "$TESTS" = "ping_inline,ping_mbulk,set,get,incr,lpush,lpop,hset,mset,sadd,spop,zadd,zpopmin" ] && TESTS=set,get
    ZCUSTOM=0
    HASHES=0
    EVALSHA=0
    FANOUT=0
fi
start_servers
# Where redis-benchmark goes: the TLS ports with TLS=1.
MEMKV_BPORT=${MEMKV_TLS_PORT:-$MEMKV_PORT}
REDIS_BPORT=${REDIS_TLS_PORT:-$REDIS_PORT}
log "memkv on port $MEMKV_PORT (pid $MEMKV_PID)"
log "$(redis-server --version) on port $REDIS_PORT (pid $REDIS_PID)"

# --- throughput -------------------------------------------------------------
RESULTS=$WORK/results.csv
: >"$RESULTS"
# Sorted-set custom commands: the same 1000-member set in both servers,
# named as redis-benchmark expands member:__rand_int__ (-r 1000), so every
# lookup hits.
ZCMDS=()
if [ "$ZCUSTOM" = 1 ]; then
    for port in $MEMKV_PORT $REDIS_PORT; do
        python3 -c 'print("ZADD bench:z " + " ".join(f"{i} member:{i:012d}" for i in range(1000)))' \
            | redis-cli -p "$port" >/dev/null
    done
    ZCMDS=("ZRANGE bench:z 0 9 WITHSCORES" "ZRANK bench:z member:__rand_int__" \
        "ZSCORE bench:z member:__rand_int__")
fi
if [ "$BITS" = 1 ]; then
    # The same 64 KB bitmap and dense HLL (100,000 elements) in both.
    for port in $MEMKV_PORT $REDIS_PORT; do
        redis-cli -p "$port" SETBIT bench:bits 524287 1 >/dev/null
        python3 -c 'print("\n".join("PFADD bench:hll " + " ".join(f"e{i}" for i in range(j, j + 1000)) for j in range(0, 100000, 1000)))' \
            | redis-cli -p "$port" >/dev/null
    done
    # redis-benchmark pads __rand_int__ with zeros, which no bit offset
    # accepts: SETBIT sets one fixed bit (after the first call, Redis's
    # unchanged-bit path), BITFIELD INCRBY writes every time.
    ZCMDS+=("SETBIT bench:bits 1000 1" "BITFIELD bench:bits INCRBY u8 #100 1" "BITCOUNT bench:bits" \
        "PFADD bench:hll e__rand_int__" "PFCOUNT bench:hll")
fi
if [ "$STREAMS" = 1 ]; then
    # The same 1000-entry stream in both (explicit ids, so identical).
    for port in $MEMKV_PORT $REDIS_PORT; do
        python3 -c 'print("\n".join(f"XADD bench:s {i}-1 field value{i}" for i in range(1, 1001)))' \
            | redis-cli -p "$port" >/dev/null
    done
    ZCMDS+=("XADD bench:x * field value" "XRANGE bench:s - + COUNT 10")
fi
if [ "$HASHES" = 1 ]; then
    # 1000 hashes of 10 fields, named as redis-benchmark expands
    # bench:h:__rand_int__ (-r 1000).
    for port in $MEMKV_PORT $REDIS_PORT; do
        python3 -c 'print("\n".join(f"HSET bench:h:{i:012d} " + " ".join(f"f{j} value{j}" for j in range(10)) for i in range(1000)))' \
            | redis-cli -p "$port" >/dev/null
    done
    ZCMDS+=("HSET bench:h:__rand_int__ f5 changed" "HGET bench:h:__rand_int__ f5")
fi
if [ "$EVALSHA" = 1 ]; then
    script="redis.call('get', KEYS[1]) return redis.call('incr', KEYS[1])"
    for port in $MEMKV_PORT $REDIS_PORT; do
        sha=$(redis-cli -p "$port" SCRIPT LOAD "$script")
    done
    ZCMDS+=("EVALSHA $sha 1 bench:eval")
fi
if [ -n "$TESTS" ]; then
    log "redis-benchmark -t $TESTS -n $REQUESTS -c $CLIENTS, pipelines: $PIPELINES, rounds: $ROUNDS"
    # One redis-benchmark run per test, so the server's CPU time before and
    # after it is that test's: appends "round,P,server,test,rps,cpu_us"
    # (cpu_us empty when one run printed several tests, e.g. lrange).
    bench_one() { # round P server pid label(empty: the CSV's) redis-benchmark args...
        local r=$1 p=$2 server=$3 pid=$4 label=$5 c0 c1 out
        shift 5
        c0=$(cpu_ns "$pid")
        if ! out=$(redis-benchmark -q --csv "$@" 2>/dev/null); then
            log "redis-benchmark $* failed against $server"
            return 0
        fi
        c1=$(cpu_ns "$pid")
        awk -F'","' -v r="$r" -v p="$p" -v s="$server" -v t="$label" -v c0="$c0" -v c1="$c1" \
            -v n="$REQUESTS" '
            NR > 1 { gsub(/"/, "", $1); k++; row[k] = r "," p "," s "," (t != "" ? t : $1) "," $2 }
            END {
                cpu = k == 1 && c1 > c0 ? sprintf("%.4f", (c1 - c0) / 1e3 / n) : ""
                for (i = 1; i <= k; i++) print row[i] "," cpu
            }' <<<"$out" >>"$RESULTS"
    }
    for round in $(seq 1 "$ROUNDS"); do
        # Alternate which server goes first so drift hits both equally.
        if [ $((round % 2)) -eq 1 ]; then order="memkv redis"; else order="redis memkv"; fi
        for p in $PIPELINES; do
            for server in $order; do
                if [ "$server" = memkv ]; then
                    port=$MEMKV_BPORT pid=$MEMKV_PID
                else
                    port=$REDIS_BPORT pid=$REDIS_PID
                fi
                log "round $round/$ROUNDS  -P $p  $server"
                for t in ${TESTS//,/ }; do
                    bench_one "$round" "$p" "$server" "$pid" "" "${BENCH_ARGS[@]}" -h 127.0.0.1 \
                        -p "$port" -t "$t" -n "$REQUESTS" -c "$CLIENTS" -P "$p"
                done
                for zc in "${ZCMDS[@]}"; do
                    # Split into words without globbing: XADD's `*` id must
                    # reach redis-benchmark as is.
                    read -ra words <<<"$zc"
                    bench_one "$round" "$p" "$server" "$pid" "${zc%% *}" "${BENCH_ARGS[@]}" \
                        -h 127.0.0.1 -p "$port" -r 1000 -n "$REQUESTS" -c "$CLIENTS" -P "$p" \
                        "${words[@]}"
                done
            done
        done
    done

    python3 - "$RESULTS" <<'EOF'
import math, statistics, sys
rows = {}
order = []
for line in open(sys.argv[1]):
    _round, p, server, test, rps, cpu = line.rstrip("\n").split(",")
    key = (test, int(p))
    if key not in rows:
        rows[key] = {"memkv": [], "redis": [], "memkv_cpu": [], "redis_cpu": []}
        order.append(key)
    rows[key][server].append(float(rps))
    if cpu:
        rows[key][server + "_cpu"].append(float(cpu))

def gmean(xs):
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")

def med(xs):
    return statistics.median(xs) if xs else float("nan")

print()
print("rps: median requests/s; ratio: memkv/Redis rps. _us: server CPU (user + system)")
print("microseconds per request; cheaper: Redis CPU / memkv CPU (above 1: memkv spends less).")
print(f"{'test':<16} {'P':>3} {'memkv_rps':>11} {'redis_rps':>11} {'ratio':>7}"
      f" {'memkv_us':>9} {'redis_us':>9} {'cheaper':>8}")
by_p = {}
for test, p in sorted(order, key=lambda k: (k[1], order.index(k))):
    r = rows[(test, p)]
    if not r["memkv"] or not r["redis"]:
        print(f"{test:<16} {p:>3} {'missing':>11}")
        continue
    m, d = med(r["memkv"]), med(r["redis"])
    mc, dc = med(r["memkv_cpu"]), med(r["redis_cpu"])
    ratio = m / d if d else float("nan")
    cheaper = dc / mc if mc > 0 and dc > 0 else float("nan")
    g = by_p.setdefault(p, ([], []))
    if d and m:
        g[0].append(ratio)
    if cheaper == cheaper:
        g[1].append(cheaper)
    cpu = (f" {mc:>9.3f} {dc:>9.3f} {cheaper:>8.3f}" if cheaper == cheaper
           else f" {'-':>9} {'-':>9} {'-':>8}")
    print(f"{test:<16} {p:>3} {m:>11.0f} {d:>11.0f} {ratio:>7.3f}{cpu}")
for p, (ratios, cheapers) in sorted(by_p.items()):
    print(f"{'geomean':<16} {p:>3} {'':>11} {'':>11} {gmean(ratios):>7.3f}"
          f" {'':>9} {'':>9} {gmean(cheapers):>8.3f}")
EOF
fi

# --- latency under load ------------------------------------------------------
# redis-benchmark -P 1 --precision 3 prints its latency percentiles at
# halving steps (50, 75, ..., 99.902, ...): p99 / p99.9 are the first steps
# at or above 99 / 99.9 percent. Appends "test,server,p50,p99,p999,max".
if [ "${LATENCY:-0}" = 1 ]; then
    LATENCY_TESTS=${LATENCY_TESTS:-ping_mbulk,set,get,incr,lpush,lpop,hset}
    log "latency: redis-benchmark -P 1 --precision 3 -t $LATENCY_TESTS -c $CLIENTS, rounds: $ROUNDS"
    LAT=$WORK/latency.csv
    : >"$LAT"
    for round in $(seq 1 "$ROUNDS"); do
        if [ $((round % 2)) -eq 1 ]; then order="memkv redis"; else order="redis memkv"; fi
        for server in $order; do
            if [ "$server" = memkv ]; then port=$MEMKV_BPORT; else port=$REDIS_BPORT; fi
            log "latency round $round/$ROUNDS  $server"
            for t in ${LATENCY_TESTS//,/ }; do
                redis-benchmark "${BENCH_ARGS[@]}" -h 127.0.0.1 -p "$port" -t "$t" -n "$REQUESTS" \
                    -c "$CLIENTS" -P 1 --precision 3 2>/dev/null | tr '\r' '\n' \
                    | awk -v s="$server" '
                        /^====== / { name = $2 }
                        /throughput summary:/ { rps = $3 }
                        /^Latency by percentile/ { on = 1; next }
                        /^Cumulative distribution/ { on = 0 }
                        on && /% <= / {
                            pct = $1 + 0; v = $3
                            if (pct >= 50 && p50 == "") p50 = v
                            if (pct >= 99 && p99 == "") p99 = v
                            if (pct >= 99.9 && p999 == "") p999 = v
                            mx = v
                        }
                        END { if (name != "" && p999 != "") print name "," s "," p50 "," p99 "," p999 "," mx "," rps }' \
                        >>"$LAT" \
                    || log "redis-benchmark -t $t failed against $server (latency)"
            done
        done
    done
    python3 - "$LAT" <<'EOF'
import statistics, sys
rows, order = {}, []
for line in open(sys.argv[1]):
    test, server, *vals = line.strip().split(",")
    if test not in rows:
        rows[test] = {"memkv": [], "redis": []}
        order.append(test)
    rows[test][server].append([float(v) for v in vals[:4]])
def med(samples, i):
    return statistics.median(s[i] for s in samples)
print()
print("latency at -P 1 under load (ms, median over rounds); ratios memkv/Redis (below 1: memkv lower)")
print(f"{'test':<12} {'server':<6} {'p50':>8} {'p99':>8} {'p99.9':>8} {'max':>8}   {'p99':>6} {'p99.9':>6}")
for test in order:
    r = rows[test]
    if not r["memkv"] or not r["redis"]:
        print(f"{test:<12} missing")
        continue
    m = [med(r["memkv"], i) for i in range(4)]
    d = [med(r["redis"], i) for i in range(4)]
    q = lambda a, b: a / b if b else float("nan")
    print(f"{test:<12} {'memkv':<6} {m[0]:>8.3f} {m[1]:>8.3f} {m[2]:>8.3f} {m[3]:>8.3f}"
          f"   {q(m[1], d[1]):>6.2f} {q(m[2], d[2]):>6.2f}")
    print(f"{'':<12} {'redis':<6} {d[0]:>8.3f} {d[1]:>8.3f} {d[2]:>8.3f} {d[3]:>8.3f}")
EOF
    # Paced: examples/latency_probe.rs sends LATENCY_RATE requests/s (default
    # half the lower -P 1 peak measured above, GET's if run) open loop over
    # LATENCY_CONNS connections for LATENCY_SECONDS; the server's CPU per
    # request at that fixed load comes with it.
    log "building examples/latency_probe (release)"
    if cargo build --release --quiet --example latency_probe; then
        PROBE=$ROOT/target/release/examples/latency_probe
        rate=${LATENCY_RATE:-$(python3 - "$LAT" <<'EOF'
import statistics, sys
rps = {}
for line in open(sys.argv[1]):
    test, server, *vals = line.strip().split(",")
    if len(vals) > 4 and vals[4]:
        rps.setdefault(test, {}).setdefault(server, []).append(float(vals[4]))
pick = rps.get("GET") or next(iter(rps.values()), {})
peaks = [statistics.median(v) for v in pick.values()]
print(int(min(peaks) / 2) if peaks else 20000)
EOF
)}
        secs=${LATENCY_SECONDS:-10}
        conns=${LATENCY_CONNS:-8}
        log "paced probe: $rate requests/s, $conns connections, $secs s, rounds: $ROUNDS"
        PACED=$WORK/paced.csv
        : >"$PACED"
        for round in $(seq 1 "$ROUNDS"); do
            if [ $((round % 2)) -eq 1 ]; then order="memkv redis"; else order="redis memkv"; fi
            for server in $order; do
                if [ "$server" = memkv ]; then
                    port=$MEMKV_PORT pid=$MEMKV_PID
                else
                    port=$REDIS_PORT pid=$REDIS_PID
                fi
                c0=$(cpu_ns "$pid")
                if out=$("$PROBE" "$port" "$rate" "$secs" "$conns"); then
                    c1=$(cpu_ns "$pid")
                    echo "$server $out $c0 $c1" >>"$PACED"
                else
                    log "latency probe failed against $server"
                fi
            done
        done
        python3 - "$PACED" "$rate" <<'EOF'
import statistics, sys
rows = {"memkv": [], "redis": []}
for line in open(sys.argv[1]):
    server, sent, _n, p50, p99, p999, mx, c0, c1 = line.split()
    rows[server].append([float(p50), float(p99), float(p999), float(mx),
                         (int(c1) - int(c0)) / 1e3 / int(sent)])
print()
print(f"paced GET at {sys.argv[2]} requests/s (open loop; ms, median over rounds),")
print("server CPU us/req at that load; ratios memkv/Redis")
print(f"{'server':<8} {'p50':>8} {'p99':>8} {'p99.9':>8} {'max':>8} {'cpu_us':>8}")
med = {s: [statistics.median(r[i] for r in v) for i in range(5)] for s, v in rows.items() if v}
for s, m in med.items():
    print(f"{s:<8} {m[0]:>8.3f} {m[1]:>8.3f} {m[2]:>8.3f} {m[3]:>8.3f} {m[4]:>8.3f}")
if len(med) == 2:
    m, d = med["memkv"], med["redis"]
    q = lambda a, b: a / b if b else float("nan")
    print(f"{'ratio':<8} {q(m[0], d[0]):>8.2f} {q(m[1], d[1]):>8.2f} {q(m[2], d[2]):>8.2f}"
          f" {q(m[3], d[3]):>8.2f} {q(m[4], d[4]):>8.2f}   (CPU: {q(d[4], m[4]):.2f}x cheaper)")
EOF
    else
        log "cannot build examples/latency_probe: no paced figure"
    fi
fi

# --- Pub/Sub fan-out ---------------------------------------------------------
# One run: SUBSCRIBERS raw sockets subscribe to one channel, redis-benchmark
# publishes FANOUT_MESSAGES fixed-size messages; prints deliveries per second
# (messages x subscribers / time until the last subscriber has them all).
fanout_run() { # port
    python3 - "$1" "$SUBSCRIBERS" "$FANOUT_MESSAGES" <<'EOF'
import selectors, socket, subprocess, sys, time
port, nsub, nmsg = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
payload = b"x" * 32
msg = b"*3\r\n$7\r\nmessage\r\n$6\r\nfanout\r\n$%d\r\n%s\r\n" % (len(payload), payload)
sel = selectors.DefaultSelector()
want = {}
for _ in range(nsub):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$6\r\nfanout\r\n")
    ack = b"*3\r\n$9\r\nsubscribe\r\n$6\r\nfanout\r\n:1\r\n"
    got = b""
    while len(got) < len(ack):
        got += s.recv(len(ack) - len(got))
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
    want[s] = nmsg * len(msg)
start = time.monotonic()
pub = subprocess.Popen(["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-n", str(nmsg),
                        "-c", "1", "-P", "16", "-q", "PUBLISH", "fanout", payload.decode()],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
left = len(want)
deadline = start + 300
while left and time.monotonic() < deadline:
    for key, _ in sel.select(timeout=1):
        s = key.fileobj
        try:
            data = s.recv(1 << 18)
        except BlockingIOError:
            continue
        if not data:
            sel.unregister(s)
            left -= 1
            continue
        want[s] -= len(data)
        if want[s] <= 0:
            sel.unregister(s)
            left -= 1
elapsed = time.monotonic() - start
pub.wait()
print(f"{nmsg * nsub / elapsed:.0f}" if not left else "0")
EOF
}

if [ "$FANOUT" = 1 ]; then
    log "fan-out: 1 publisher, $SUBSCRIBERS subscribers, $FANOUT_MESSAGES messages, rounds: $ROUNDS"
    FAN=$WORK/fanout.csv
    : >"$FAN"
    for round in $(seq 1 "$ROUNDS"); do
        if [ $((round % 2)) -eq 1 ]; then order="memkv redis"; else order="redis memkv"; fi
        for server in $order; do
            if [ "$server" = memkv ]; then port=$MEMKV_PORT; else port=$REDIS_PORT; fi
            log "fan-out round $round/$ROUNDS  $server"
            echo "$server,$(fanout_run "$port")" >>"$FAN"
        done
    done
    python3 - "$FAN" <<'EOF'
import statistics, sys
r = {"memkv": [], "redis": []}
for line in open(sys.argv[1]):
    s, v = line.strip().split(",")
    r[s].append(float(v))
m, d = statistics.median(r["memkv"]), statistics.median(r["redis"])
print()
print(f"{'fan-out':<16} {'memkv_deliv/s':>14} {'redis_deliv/s':>14} {'ratio':>7}")
print(f"{'publish':<16} {m:>14.0f} {d:>14.0f} {m / d if d else float('nan'):>7.3f}")
EOF
fi

# --- memory -----------------------------------------------------------------
# Writes one dataset as RESP commands on stdout (for redis-cli --pipe).
gen_dataset() {
    python3 - "$1" <<'EOF'
import sys
out = sys.stdout.buffer
def cmd(*parts):
    b = [b"*%d\r\n" % len(parts)]
    for p in parts:
        p = p if isinstance(p, bytes) else str(p).encode()
        b.append(b"$%d\r\n%s\r\n" % (len(p), p))
    out.write(b"".join(b))
if sys.argv[1] == "bigset":
    # One set of 1,000,000 members, 100 per SADD.
    for i in range(0, 1_000_000, 100):
        cmd("SADD", "bigset", *[f"member:{j}" for j in range(i, i + 100)])
elif sys.argv[1] == "intsets":
    # 100,000 sets of 10 small integers (intset encoded).
    for i in range(100_000):
        cmd("SADD", f"iset:{i}", *[str((i + 7 * j) % 1000) for j in range(10)])
elif sys.argv[1] == "bigzset":
    # One sorted set of 1,000,000 members, 1000 per ZADD (skiplist).
    for b in range(1000):
        args = []
        for i in range(b * 1000, (b + 1) * 1000):
            args += [str(i * 7 % 1000003), f"member:{i}"]
        cmd("ZADD", "bigz", *args)
elif sys.argv[1] == "smallzsets":
    # 100,000 sorted sets of 10 members (listpack).
    for k in range(100_000):
        args = []
        for i in range(10):
            args += [str(i * 1.5), f"m{i}"]
        cmd("ZADD", f"zs:{k}", *args)
elif sys.argv[1] == "smallhashes":
    # 100,000 hashes of 10 fields (listpack).
    for k in range(100_000):
        args = []
        for i in range(10):
            args += [f"field:{i}", f"value:{k % 1000}:{i}"]
        cmd("HSET", f"h:{k}", *args)
elif sys.argv[1] == "biglist":
    # One list of 1,000,000 10-byte elements.
    for i in range(0, 1_000_000, 100):
        cmd("RPUSH", "biglist", *[f"e:{j:08}" for j in range(i, i + 100)])
elif sys.argv[1] == "smalllists":
    # 100,000 lists of 10 elements.
    for k in range(100_000):
        cmd("RPUSH", f"l:{k}", *[f"element:{k % 1000}:{i}" for i in range(10)])
EOF
}

mem_case() { # name, loader (a function taking a port)
    local name=$1 load=$2
    stop_servers
    start_servers
    local m0 r0 m1 r1 mk rk
    m0=$(rss_kb "$MEMKV_PID")
    r0=$(rss_kb "$REDIS_PID")
    for server in memkv redis; do
        if [ "$server" = memkv ]; then port=$MEMKV_PORT; else port=$REDIS_PORT; fi
        log "memory: loading $name into $server"
        "$load" "$port"
    done
    m1=$(rss_kb "$MEMKV_PID")
    r1=$(rss_kb "$REDIS_PID")
    # Both servers' crons finish incremental rehashing while idle (memkv
    # also idle collections': ~7 s at hz 10 for a 1M-member index); a
    # table that doubled shortly before the load ended holds its old
    # index until then.
    sleep "$MEM_IDLE"
    local m2 r2
    m2=$(rss_kb "$MEMKV_PID")
    r2=$(rss_kb "$REDIS_PID")
    mk=$(redis-cli -p "$MEMKV_PORT" dbsize 2>/dev/null || echo "?")
    rk=$(redis-cli -p "$REDIS_PORT" dbsize 2>/dev/null || echo "?")
    echo
    echo "memory: $name"
    printf '%-8s %10s %14s %14s %14s\n' server keys rss_empty_kb rss_loaded_kb "after_${MEM_IDLE}s_idle"
    printf '%-8s %10s %14s %14s %14s\n' memkv "$mk" "$m0" "$m1" "$m2"
    printf '%-8s %10s %14s %14s %14s\n' redis "$rk" "$r0" "$r1" "$r2"
    python3 -c "import sys; m0,r0,m,r,mi,ri=map(int,sys.argv[1:]); print(f'rss ratio memkv/redis: {m/r:.3f} (growth only: {(m-m0)/max(r-r0,1):.3f}); after idle: {mi/ri:.3f} (growth only: {(mi-m0)/max(ri-r0,1):.3f})')" "$m0" "$r0" "$m1" "$r1" "$m2" "$r2"
}

load_strings() {
    redis-benchmark -h 127.0.0.1 -p "$1" -t set -r 1000000 -n 2000000 -d 16 \
        -P 16 -c "$CLIENTS" -q >/dev/null 2>&1
}
load_bigset() { gen_dataset bigset | redis-cli -p "$1" --pipe >/dev/null; }
load_intsets() { gen_dataset intsets | redis-cli -p "$1" --pipe >/dev/null; }
load_bigzset() { gen_dataset bigzset | redis-cli -p "$1" --pipe >/dev/null; }
load_smallzsets() { gen_dataset smallzsets | redis-cli -p "$1" --pipe >/dev/null; }
load_smallhashes() { gen_dataset smallhashes | redis-cli -p "$1" --pipe >/dev/null; }
load_smalllists() { gen_dataset smalllists | redis-cli -p "$1" --pipe >/dev/null; }
load_biglist() { gen_dataset biglist | redis-cli -p "$1" --pipe >/dev/null; }
load_stream() {
    redis-benchmark -h 127.0.0.1 -p "$1" -n 1000000 -P 16 -c "$CLIENTS" -q \
        XADD bench:mem '*' f v >/dev/null 2>&1
}

if [ "$MEMORY" = 1 ]; then
    # Fresh servers per dataset, so earlier runs do not skew the baseline.
    mem_case "~1M random string keys (-t set -r 1000000 -d 16)" load_strings
    mem_case "one set of 1,000,000 members" load_bigset
    mem_case "100,000 sets of 10 small integers" load_intsets
    mem_case "one sorted set of 1,000,000 members" load_bigzset
    mem_case "100,000 sorted sets of 10 members" load_smallzsets
    mem_case "100,000 hashes of 10 fields" load_smallhashes
    mem_case "100,000 lists of 10 elements" load_smalllists
    mem_case "one list of 1,000,000 short elements (RPUSH of 10-byte values)" load_biglist
    mem_case "one stream of 1,000,000 small entries (XADD * f v)" load_stream
fi

# --- maxmemory eviction -------------------------------------------------------
# Samples used_memory while redis-benchmark writes; prints "rps max_used".
evict_run() { # port
    python3 - "$1" "$EVICT_REQUESTS" "$EVICT_DATA" "$CLIENTS" <<'EOF'
import socket, subprocess, sys, threading, time
port, n, d, c = sys.argv[1:5]
def used(s):
    s.sendall(b"*2\r\n$4\r\nINFO\r\n$6\r\nmemory\r\n")
    buf = b""
    while b"lazyfreed_objects" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    for line in buf.split(b"\r\n"):
        if line.startswith(b"used_memory:"):
            return int(line.split(b":")[1])
    return 0
peak = [0]
done = threading.Event()
def poll():
    s = socket.create_connection(("127.0.0.1", int(port)))
    while not done.is_set():
        peak[0] = max(peak[0], used(s))
        time.sleep(0.02)
t = threading.Thread(target=poll)
t.start()
out = subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", port, "-t", "set",
                      "-r", "10000000", "-n", n, "-d", d, "-P", "16", "-c", c, "--csv"],
                     capture_output=True, text=True).stdout
done.set()
t.join()
rps = [l for l in out.splitlines() if l.startswith('"SET"')][0].split(",")[1].strip('"')
print(rps, peak[0])
EOF
}

if [ "$EVICT" = 1 ]; then
    log "eviction: maxmemory $EVICT_MAXMEMORY allkeys-lru, SET -r 10000000 -d $EVICT_DATA, rounds: $ROUNDS"
    echo
    printf '%-6s %-8s %12s %14s %12s %12s\n' round server rps max_used over_max evicted
    for round in $(seq 1 "$ROUNDS"); do
        stop_servers
        start_servers
        for port in "$MEMKV_PORT" "$REDIS_PORT"; do
            redis-cli -p "$port" config set maxmemory "$EVICT_MAXMEMORY" >/dev/null
            redis-cli -p "$port" config set maxmemory-policy allkeys-lru >/dev/null
        done
        max=$(redis-cli -p "$MEMKV_PORT" config get maxmemory | tail -1)
        # Alternate which server goes first.
        order="memkv redis"
        [ $((round % 2)) = 0 ] && order="redis memkv"
        for server in $order; do
            if [ "$server" = memkv ]; then port=$MEMKV_PORT; else port=$REDIS_PORT; fi
            read -r rps peak < <(evict_run "$port")
            ev=$(redis-cli -p "$port" info stats | tr -d '\r' | awk -F: '$1=="evicted_keys"{print $2}')
            printf '%-6s %-8s %12s %14s %12s %12s\n' "$round" "$server" "$rps" "$peak" "$((peak - max))" "$ev"
            echo "$server $rps" >>"$WORK/evict.txt"
        done
    done
    python3 - "$WORK/evict.txt" <<'EOF'
import statistics, sys
r = {"memkv": [], "redis": []}
for line in open(sys.argv[1]):
    k, v = line.split()
    r[k].append(float(v))
m, d = statistics.median(r["memkv"]), statistics.median(r["redis"])
print(f"SET under eviction, median rps: memkv {m:.0f}  redis {d:.0f}  ratio {m/d:.3f}")
EOF
fi

# --- BGSAVE -----------------------------------------------------------------

# p99 and max GET latency (ms) of 10 clients on port $1, while BGSAVEs run
# back to back (when $2 is a file to write the first BGSAVE's time to).
get_latency_during() { # port, [secs file]
    local port=$1 secs=${2:-} csv
    rm -f "$WORK/bgsave.stop"
    if [ -n "$secs" ]; then bgsave_loop "$port" "$secs" & fi
    csv=$(redis-benchmark -h 127.0.0.1 -p "$port" -t get -r 1000000 -n 300000 \
        -c 10 -P 1 --csv 2>/dev/null | tail -1)
    touch "$WORK/bgsave.stop"
    wait
    # "test","rps","avg","min","p50","p95","p99","max"
    echo "$csv" | awk -F'","' '{gsub(/"/,"",$8); print $7" "$8}'
}

bgsave_until_done() { # port: seconds from BGSAVE until rdb_bgsave_in_progress:0
    python3 - "$1" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
def q(cmd):
    s = socket.create_connection(("127.0.0.1", port)); s.sendall(cmd); d = b""
    while b"\r\n" not in d:
        d += s.recv(1 << 16)
    if d.startswith(b"$"):
        need = d.index(b"\r\n") + 2 + int(d[1:d.index(b"\r\n")]) + 2
        while len(d) < need:
            d += s.recv(1 << 16)
    s.close(); return d
t0 = time.time()
q(b"BGSAVE\r\n")
while b"rdb_bgsave_in_progress:1" in q(b"INFO persistence\r\n"):
    time.sleep(0.01)
print(f"{time.time() - t0:.2f}")
PY
}

bgsave_loop() { # port, secs file: BGSAVE again and again until told to stop
    bgsave_until_done "$1" >"$2"
    while [ ! -e "$WORK/bgsave.stop" ]; do bgsave_until_done "$1" >/dev/null; done
}

if [ "$BGSAVE" = 1 ]; then
    stop_servers
    start_servers
    for server in memkv redis; do
        if [ "$server" = memkv ]; then port=$MEMKV_PORT; else port=$REDIS_PORT; fi
        log "bgsave: loading ~1M keys into $server"
        load_strings "$port"
    done
    echo
    echo "BGSAVE of ~1M keys: time to complete, GET p99/max (ms) of 10 clients"
    printf '%-8s %8s %14s %14s %14s\n' server keys bgsave_secs p99_idle/max p99_bgsave/max
    for server in memkv redis; do
        if [ "$server" = memkv ]; then port=$MEMKV_PORT; else port=$REDIS_PORT; fi
        keys=$(redis-cli -p "$port" dbsize)
        idle=$(get_latency_during "$port")
        during=$(get_latency_during "$port" "$WORK/bgsave_$server.secs")
        printf '%-8s %8s %14s %14s %14s\n' "$server" "$keys" "$(cat "$WORK/bgsave_$server.secs")" \
            "${idle// //}" "${during// //}"
    done
fi

# --- Zipf hit rate ----------------------------------------------------------

if [ "$ZIPF" = 1 ]; then
    log "zipf hit rate: maxmemory $ZIPF_MAXMEMORY, $ZIPF_KEYS keys, $ZIPF_OPS GETs, s=$ZIPF_S"
    echo
    echo "Hit rate after $ZIPF_WARMUP warm-up GETs (overall in brackets), Zipf s=$ZIPF_S over $ZIPF_KEYS keys"
    printf '%-12s %18s %18s %8s
' policy memkv redis points
    for policy in allkeys-lru allkeys-lfu; do
        stop_servers
        start_servers
        for port in "$MEMKV_PORT" "$REDIS_PORT"; do
            redis-cli -p "$port" config set maxmemory "$ZIPF_MAXMEMORY" >/dev/null
            redis-cli -p "$port" config set maxmemory-policy "$policy" >/dev/null
        done
        res=()
        for port in "$MEMKV_PORT" "$REDIS_PORT"; do
            res+=("$(python3 "$ROOT/scripts/zipf_hitrate.py" "$port" --keys "$ZIPF_KEYS" \
                --ops "$ZIPF_OPS" --warmup "$ZIPF_WARMUP" --s "$ZIPF_S" \
                --value "$ZIPF_VALUE" --seed "$ZIPF_SEED")")
        done
        read -r _ _ mw mo <<<"${res[0]}"
        read -r _ _ rw ro <<<"${res[1]}"
        pts=$(python3 -c "print(f'{($mw - $rw) * 100:+.2f}')")
        printf '%-12s %10s (%5s) %10s (%5s) %8s\n' "$policy" "$mw" "$mo" "$rw" "$ro" "$pts"
    done
fi

# --- stalls while tables grow -----------------------------------------------

# Runs redis-benchmark (-t set or a custom command: the load) against port
# $1 while one connection PINGs every 0.5 ms; prints "max_ms p99.9_ms
# pings" of the probe.
stall_run() { # port, requests, random range, load...
    python3 - "$@" <<'EOF'
import socket, subprocess, sys, time
port, n, r = sys.argv[1:4]
load = subprocess.Popen(["redis-benchmark", "-h", "127.0.0.1", "-p", port, "-n", n,
                         "-r", r, "-P", "16", "-c", "50", "-q"] + sys.argv[4:],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
s = socket.create_connection(("127.0.0.1", int(port)))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
lat = []
while load.poll() is None:
    t = time.perf_counter()
    s.sendall(b"PING\r\n")
    buf = b""
    while not buf.endswith(b"\r\n"):
        buf += s.recv(64)
    lat.append(time.perf_counter() - t)
    time.sleep(0.0005)
lat.sort()
n = len(lat)
print(f"{lat[-1] * 1e3:.1f} {lat[int(n * 0.999)] * 1e3:.2f} {n}")
EOF
}

if [ "$STALL" = 1 ]; then
    log "stalls: PING probe during $STALL_KEYS SETs, $STALL_MEMBERS ZADDs and HSETs"
    echo
    echo "PING probe (ms) while a table grows: max and p99.9 per server, memkv/Redis"
    printf '%-20s %10s %10s %10s %10s %7s %7s\n' load memkv_max redis_max memkv_p999 \
        redis_p999 max_x p999_x
    for load in keys zadd hset; do
        case $load in
            keys) args=(-t set) n=$STALL_KEYS ;;
            zadd) args=(zadd bench:stallz __rand_int__ m:__rand_int__) n=$STALL_MEMBERS ;;
            hset) args=(hset bench:stallh f:__rand_int__ v) n=$STALL_MEMBERS ;;
        esac
        res=()
        for server in memkv redis; do
            # Fresh servers for each run: only one holds data at a time.
            stop_servers
            start_servers
            if [ "$server" = memkv ]; then port=$MEMKV_PORT; else port=$REDIS_PORT; fi
            res+=("$(stall_run "$port" "$n" "$((n * 10))" "${args[@]}")")
        done
        stop_servers
        read -r mmax mp999 _ <<<"${res[0]}"
        read -r rmax rp999 _ <<<"${res[1]}"
        python3 - "$load $n" "$mmax" "$rmax" "$mp999" "$rp999" <<'EOF'
import sys
name, mm, rm, mp, rp = sys.argv[1], *map(float, sys.argv[2:])
print(f"{name:<20} {mm:10.1f} {rm:10.1f} {mp:10.2f} {rp:10.2f} {mm / rm:7.2f} {mp / rp:7.2f}")
EOF
    done
fi
