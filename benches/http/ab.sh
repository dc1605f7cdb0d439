#!/usr/bin/env bash
# Two builds of replyd compared in one sitting: the server CPU per plaintext hit of a replyd
# binary built elsewhere (OLD, e.g. from a git worktree at an earlier commit), of this tree's
# release build, and of the bare hyper ceiling, in short alternating wrk runs. On a shared
# machine the CPU a request costs moves by a third from minute to minute; alternating 3 s runs
# and taking the median of each round's ratio is what tells two builds apart.
#
#   git worktree add /tmp/old HEAD~3 && (cd /tmp/old && cargo build --release --bin replyd)
#   benches/http/ab.sh /tmp/old/target/release/replyd      # 12 rounds of 3 s runs
#   ROUNDS=20 DURATION=5s benches/http/ab.sh /tmp/old/target/release/replyd
#
# Prints each round (ceiling, old, new: CPU µs per request; new/old; each against the ceiling)
# and the medians. The servers share core 0 and wrk gets the others, as in benches/http.sh.
# Needs wrk (Debian: apt-get install wrk).
set -euo pipefail
cd "$(dirname "$0")/../.."

OLD=${1:?usage: $0 OLD_REPLYD_BINARY}
ROUNDS=${ROUNDS:-12}
DURATION=${DURATION:-3s}
TOKEN=bench-token
OLD_PORT=18094
NEW_PORT=18095
CEILING_PORT=18096

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 2; }
cargo build --release --quiet --bin replyd --example ceiling --example bench_requests
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT

for port in $OLD_PORT $NEW_PORT; do
    cat > "$tmp/$port.toml" <<CONF
token = "$TOKEN"
rules = "$PWD/rules"
listen = "127.0.0.1:$port"
dedup_capacity = 1000
CONF
done
target/release/examples/bench_requests "$TOKEN" 30000 "流量" > "$tmp/hit.txt"

if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
    pin_server=(taskset -c 0)
    pin_wrk=(taskset -c "1-$(($(nproc) - 1))")
else
    pin_server=()
    pin_wrk=()
fi
"${pin_server[@]}" "$OLD" serve --config "$tmp/$OLD_PORT.toml" 2> "$tmp/old.log" &
OLD_PID=$!
pids+=($!)
"${pin_server[@]}" target/release/replyd serve --config "$tmp/$NEW_PORT.toml" 2> "$tmp/new.log" &
NEW_PID=$!
pids+=($!)
"${pin_server[@]}" target/release/examples/ceiling "127.0.0.1:$CEILING_PORT" 2> /dev/null &
CEILING_PID=$!
pids+=($!)
for port in $OLD_PORT $NEW_PORT $CEILING_PORT; do
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.1
    done
done

TICKS=$(getconf CLK_TCK)
# One run against a server: prints the microseconds of its CPU (user + system, from /proc) per
# request answered.
cpu_us() {
    local pid=$1 port=$2 before after requests
    before=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    requests=$("${pin_wrk[@]}" wrk -t2 -c64 -d"$DURATION" -s benches/http/replay.lua \
        "http://127.0.0.1:$port" -- "$tmp/hit.txt" 2 | awk '/requests in/ {print $1}')
    after=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    awk -v d=$((after - before)) -v t="$TICKS" -v n="$requests" 'BEGIN {printf "%.2f", d / t * 1e6 / n}'
}
div() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a / b}'; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2)}'; }

echo "old: $OLD; new: target/release/replyd; $ROUNDS rounds of $DURATION runs"
ratios=()
olds=()
news=()
for round in $(seq "$ROUNDS"); do
    c=$(cpu_us $CEILING_PID $CEILING_PORT)
    o=$(cpu_us $OLD_PID $OLD_PORT)
    n=$(cpu_us $NEW_PID $NEW_PORT)
    ratios+=("$(div "$n" "$o")")
    olds+=("$(div "$o" "$c")")
    news+=("$(div "$n" "$c")")
    echo "round $round: ceiling $c us, old $o us, new $n us a hit: new/old ${ratios[-1]}, old ${olds[-1]}x, new ${news[-1]}x the ceiling"
done
echo "median: new/old $(median "${ratios[@]}"); old $(median "${olds[@]}")x, new $(median "${news[@]}")x the ceiling"
