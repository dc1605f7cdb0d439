#!/usr/bin/env bash
# The HTTP benchmark: replyd (release build, shipped rules, default config, logs on) driven by
# wrk with signed WeChat messages, beside a ceiling on the same machine: a bare hyper server
# that answers every request with a fixed reply (examples/ceiling.rs). Only the ratio of one
# run means anything: the machine is shared and noisy.
#
#   benches/http.sh                  # 10 s per run, 64 connections, 2 wrk threads
#   DURATION=30s CONNS=128 benches/http.sh
#   PERF=1 benches/http.sh           # also: where replyd's time goes in the plaintext hit run
#   CPU_ROUNDS=5 benches/http.sh     # also: 5 more ceiling/replyd pairs for the CPU per request
#
# Needs wrk (Debian: apt-get install wrk). Every request is a distinct message (its own MsgId),
# so none is answered from the retry cache.
#
# Server CPU per request: the CPU seconds of the server process (user + system, from
# /proc/PID/stat) over a run, divided by the requests it answered, for the ceiling and for
# replyd's plaintext hits in the same script.
#
# The forwarded run puts a second replyd in front of the ceiling as its upstream (every message
# falls through to it), and reports the latency replyd adds to the upstream alone.
#
# The shared run is a third replyd with redis_url, on a redis-server this script starts (Debian:
# apt-get install redis-server; skipped without it), on the servers' core: what sharing the
# retry cache costs a plaintext hit, per message.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
POOL=${POOL:-30000} # per run; each wrk thread replays its own share
TOKEN=bench-token
KEY=abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG
APP=wxbenchappid0001
REPLYD_PORT=18089
CEILING_PORT=18090
FORWARD_PORT=18091
SHARED_PORT=18092
REDIS_PORT=18093

if ! command -v wrk >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get install -y -qq wrk >/dev/null
    else
        echo "wrk is needed: apt-get install wrk" >&2
        exit 2
    fi
fi

cargo build --release --quiet --bin replyd --example ceiling --example bench_requests
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT

cat > "$tmp/replyd.toml" <<CONF
token = "$TOKEN"
rules = "$PWD/rules"
listen = "127.0.0.1:$REPLYD_PORT"
app_id = "$APP"
encoding_aes_key = "$KEY"
# Well under what each wrk thread replays before it repeats a message (POOL / THREADS), so a
# replayed message is always gone from the cache: every request is a first delivery.
dedup_capacity = 1000
CONF

# replyd in front of the ceiling: every message no rule answers is forwarded to it.
cat > "$tmp/forward.toml" <<CONF
token = "$TOKEN"
rules = "$PWD/rules"
listen = "127.0.0.1:$FORWARD_PORT"
dedup_capacity = 1000
[[upstream]]
name = "ceiling"
url = "http://127.0.0.1:$CEILING_PORT/wechat"
[fall_through]
messages = "upstream:ceiling"
CONF

# The same with redis_url. Its pool is larger than one run sends: a message repeated within the
# retry window would be a retry answered from Redis, not a first delivery.
cat > "$tmp/shared.toml" <<CONF
token = "$TOKEN"
rules = "$PWD/rules"
listen = "127.0.0.1:$SHARED_PORT"
dedup_capacity = 1000
redis_url = "redis://127.0.0.1:$REDIS_PORT/0"
CONF

gen=target/release/examples/bench_requests
$gen "$TOKEN" "$POOL" "流量" > "$tmp/hit.txt"
$gen "$TOKEN" "$POOL" "你们几点关门？" > "$tmp/miss.txt"
$gen "$TOKEN" "$POOL" "流量" "$KEY" "$APP" > "$tmp/safe.txt"
if command -v redis-server >/dev/null; then
    $gen "$TOKEN" "${SHARED_POOL:-400000}" "流量" > "$tmp/shared.txt"
fi

# On a machine of two or more cores the servers get core 0 and wrk the others, so that the
# load generator does not steal the server's CPU at random and the runs compare fairly.
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
    SERVER_CPUS=${SERVER_CPUS:-0}
    WRK_CPUS=${WRK_CPUS:-1-$(($(nproc) - 1))}
    pin_server=(taskset -c "$SERVER_CPUS")
    pin_wrk=(taskset -c "$WRK_CPUS")
else
    pin_server=()
    pin_wrk=()
fi

RUST_LOG=${RUST_LOG:-info} "${pin_server[@]}" target/release/replyd serve --config "$tmp/replyd.toml" 2> "$tmp/replyd.log" &
REPLYD_PID=$!
pids+=($!)
"${pin_server[@]}" target/release/examples/ceiling "127.0.0.1:$CEILING_PORT" 2> /dev/null &
CEILING_PID=$!
pids+=($!)
RUST_LOG=${RUST_LOG:-info} "${pin_server[@]}" target/release/replyd serve --config "$tmp/forward.toml" 2> "$tmp/forward.log" &
pids+=($!)
ports=($REPLYD_PORT $CEILING_PORT $FORWARD_PORT)
if [ -f "$tmp/shared.txt" ]; then
    "${pin_server[@]}" redis-server --port $REDIS_PORT --bind 127.0.0.1 --save "" --appendonly no > /dev/null &
    pids+=($!)
    RUST_LOG=${RUST_LOG:-info} "${pin_server[@]}" target/release/replyd serve --config "$tmp/shared.toml" 2> "$tmp/shared.log" &
    pids+=($!)
    ports+=($SHARED_PORT)
fi
for port in "${ports[@]}"; do
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.1
    done
done

# CPU time a process has used (user + system), in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICKS=$(getconf CLK_TCK)

# One wrk run: prints "requests/s p50 p99 non-2xx requests".
run() {
    local port=$1 pool=$2 out
    out=$("${pin_wrk[@]}" wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s benches/http/replay.lua \
        "http://127.0.0.1:$port" -- "$pool" "$THREADS")
    local rps p50 p99 bad total
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    bad=$(awk '/Non-2xx/ {print $5}' <<<"$out")
    total=$(awk '/requests in/ {print $1}' <<<"$out")
    echo "$rps $p50 $p99 ${bad:-0} $total"
}

# A run and the server CPU it cost: prints the run's line, then the microseconds of the
# server process's CPU (from /proc) per request answered.
cpu_run() {
    local pid=$1 before after line
    before=$(cpu_ticks "$pid")
    line=$(run "$2" "$3")
    after=$(cpu_ticks "$pid")
    read -r _ _ _ _ total <<<"$line"
    echo "$line $(awk -v d=$((after - before)) -v t="$TICKS" -v n="$total" 'BEGIN {printf "%.2f", d / t * 1e6 / n}')"
}

echo "HTTP benchmark: $DURATION per run, $CONNS connections, $THREADS wrk threads, $(nproc) cores (servers on ${SERVER_CPUS:-any}, wrk on ${WRK_CPUS:-any})"
printf '%-28s %12s %10s %10s %8s %9s\n' run "requests/s" p50 p99 non-2xx "of ceiling"
ceiling1=$(cpu_run "$CEILING_PID" $CEILING_PORT "$tmp/hit.txt")
if [ -n "${PERF:-}" ]; then
    # Linux's perf (Debian: linux-perf), sampling replyd's threads while the run lasts.
    perf record -q -F 2000 -g -p "$REPLYD_PID" -o "${PERF_OUT:=$tmp/perf.data}" -- sleep "${DURATION%s}" 2>/dev/null &
    PERF_PID=$!
fi
hit=$(cpu_run "$REPLYD_PID" $REPLYD_PORT "$tmp/hit.txt")
if [ -n "${PERF:-}" ]; then
    wait "$PERF_PID" || true
    echo "where replyd's time goes in the plaintext hit run (perf, self time, by shared object and function):"
    perf report -i "$PERF_OUT" --no-children --sort dso,sym --percent-limit 1.5 --stdio 2>/dev/null \
        | grep -E '^ +[0-9]' | head -40
    echo "by shared object:"
    perf report -i "$PERF_OUT" --no-children --sort dso --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -8
fi
miss=$(run $REPLYD_PORT "$tmp/miss.txt")
safe=$(run $REPLYD_PORT "$tmp/safe.txt")
forward=$(run $FORWARD_PORT "$tmp/miss.txt")
shared=""
if [ -f "$tmp/shared.txt" ]; then
    shared=$(run $SHARED_PORT "$tmp/shared.txt")
fi
ceiling2=$(cpu_run "$CEILING_PID" $CEILING_PORT "$tmp/hit.txt")
ceiling=$(awk -v a="${ceiling1%% *}" -v b="${ceiling2%% *}" 'BEGIN {print (a + b) / 2}')
row() {
    read -r rps p50 p99 bad _ <<<"$2"
    printf '%-28s %12s %10s %10s %8s %8.0f%%\n' "$1" "$rps" "$p50" "$p99" "$bad" \
        "$(awk -v r="$rps" -v c="$ceiling" 'BEGIN {print 100 * r / c}')"
}
row "ceiling (bare hyper)" "$ceiling1"
row "replyd plaintext hit" "$hit"
row "replyd plaintext miss" "$miss"
row "replyd safe-mode hit" "$safe"
row "replyd forwarding to it" "$forward"
if [ -n "$shared" ]; then row "replyd hit, redis_url" "$shared"; fi
row "ceiling again" "$ceiling2"
echo "ratio against the mean ceiling ($ceiling requests/s); goals: plaintext hit >= 70%, safe mode >= 50%"
# The ceiling's CPU per request moves by a third from run to run on a shared machine: the
# mean of its two runs, one before and one after replyd's.
read -r _ _ _ _ _ c1_us <<<"$ceiling1"
read -r _ _ _ _ _ c2_us <<<"$ceiling2"
read -r _ _ _ _ _ hit_us <<<"$hit"
ceiling_us=$(awk -v a="$c1_us" -v b="$c2_us" 'BEGIN {printf "%.2f", (a + b) / 2}')
ratio() { awk -v h="$1" -v c="$2" 'BEGIN {printf "%.2f", h / c}'; }
echo "server CPU per request: ceiling ${ceiling_us} us (${c1_us}, ${c2_us}), replyd plaintext hit ${hit_us} us ($(ratio "$hit_us" "$ceiling_us")x the ceiling; goal <= 2x)"
# CPU_ROUNDS=N: N more pairs, ceiling then replyd's plaintext hit, each ratio and their median.
if [ "${CPU_ROUNDS:-0}" -gt 0 ]; then
    ratios=()
    for _ in $(seq "$CPU_ROUNDS"); do
        read -r _ _ _ _ _ c_us <<<"$(cpu_run "$CEILING_PID" $CEILING_PORT "$tmp/hit.txt")"
        read -r _ _ _ _ _ h_us <<<"$(cpu_run "$REPLYD_PID" $REPLYD_PORT "$tmp/hit.txt")"
        ratios+=("$(ratio "$h_us" "$c_us")")
        echo "  pair: ceiling ${c_us} us, replyd ${h_us} us, ${ratios[-1]}x"
    done
    echo "  median of $CPU_ROUNDS pairs: $(printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2)}')x"
fi
# wrk writes latencies as 812.00us, 1.20ms or 1.01s.
micros() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); print v} else if (v ~ /ms$/) {sub(/ms$/,"",v); print v*1000} else {sub(/s$/,"",v); print v*1000000}}' <<<"$1"; }
read -r _ c50 c99 _ <<<"$ceiling1"
read -r _ f50 f99 _ <<<"$forward"
echo "forwarding adds to the upstream alone: p50 $(awk -v f="$(micros "$f50")" -v c="$(micros "$c50")" 'BEGIN {printf "%.0f", f - c}') us, p99 $(awk -v f="$(micros "$f99")" -v c="$(micros "$c99")" 'BEGIN {printf "%.0f", f - c}') us (both share the server core)"
echo "forwarded: $(grep -c 'upstream_outcome=ok' "$tmp/forward.log" || true) relayed, $(grep -c 'upstream failed' "$tmp/forward.log" || true) failed"
if [ -n "$shared" ]; then
    read -r hrps h50 _ _ <<<"$hit"
    read -r srps s50 _ _ <<<"$shared"
    echo "redis_url costs a plaintext hit: $(awk -v h="$hrps" -v s="$srps" 'BEGIN {printf "%.1f", 1e6 / s - 1e6 / h}') us of the server core per message (replyd and Redis share it), p50 +$(awk -v a="$(micros "$s50")" -v b="$(micros "$h50")" 'BEGIN {printf "%.0f", a - b}') us at saturation"
    echo "shared: $(grep -c 'retry=true' "$tmp/shared.log" || true) retries (0 expected), Redis errors: $(grep -c 'Redis failed' "$tmp/shared.log" || true)"
fi
answered=$(grep -c ' answered ' "$tmp/replyd.log" || true)
echo "replyd logged $answered answers; retries: $(grep -c 'retry=true' "$tmp/replyd.log" || true)"
