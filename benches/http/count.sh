#!/usr/bin/env bash
# Counts what one request costs replyd in user space, under valgrind, so that a change to the
# request path can be judged without the noise of a requests-per-second run:
#
#   benches/http/count.sh instructions        # cachegrind: instructions per plaintext hit
#   benches/http/count.sh allocations         # DHAT: heap allocations per plaintext hit
#   benches/http/count.sh instructions safe   # the same for a safe-mode hit
#
# The daemon runs twice under the tool: once idle (start-up and shutdown only), once while wrk
# replays signed messages for 4 s; the difference divided by the requests answered is the cost
# of a request. Under valgrind SHA-1 and AES run in software (it hides the CPU's instructions
# for them), so safe-mode figures overstate what those cost natively.
#
# Needs valgrind and wrk (Debian: apt-get install valgrind wrk).
set -euo pipefail
cd "$(dirname "$0")/../.."

WHAT=${1:-instructions}
MODE=${2:-hit}
TOKEN=bench-token
KEY=abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG
APP=wxbenchappid0001
PORT=18091

for tool in valgrind wrk; do
    command -v "$tool" >/dev/null || { echo "$tool is needed: apt-get install $tool" >&2; exit 2; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
case $WHAT in
    instructions) tool=(--tool=cachegrind --cache-sim=no --cachegrind-out-file="$tmp/out") ;;
    allocations) tool=(--tool=dhat --dhat-out-file="$tmp/out") ;;
    *) echo "usage: $0 instructions|allocations [hit|safe]" >&2; exit 2 ;;
esac

# DHAT counts malloc's calls: the allocations run uses the system's allocator, not jemalloc.
features=()
if [ "$WHAT" = allocations ]; then features=(--features system-allocator); fi
cargo build --release --quiet "${features[@]}" --bin replyd --example bench_requests
cat > "$tmp/replyd.toml" <<CONF
token = "$TOKEN"
rules = "$PWD/rules"
listen = "127.0.0.1:$PORT"
app_id = "$APP"
encoding_aes_key = "$KEY"
dedup_capacity = 1000
CONF
if [ "$MODE" = safe ]; then
    target/release/examples/bench_requests "$TOKEN" 30000 "流量" "$KEY" "$APP" > "$tmp/requests.txt"
else
    target/release/examples/bench_requests "$TOKEN" 30000 "流量" > "$tmp/requests.txt"
fi

# One run under the tool: prints "<requests answered> <total>".
run() {
    valgrind "${tool[@]}" target/release/replyd serve --config "$tmp/replyd.toml" \
        2> "$tmp/log" &
    local pid=$! requests=0
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
        sleep 0.1
    done
    if [ "$1" = load ]; then
        requests=$(wrk -t1 -c4 -d4s -s benches/http/replay.lua "http://127.0.0.1:$PORT" \
            -- "$tmp/requests.txt" 1 | awk '/requests in/ {print $1}')
    fi
    kill -INT "$pid"
    wait "$pid" || true
    if [ "$WHAT" = instructions ]; then
        echo "$requests $(awk '/^summary:/ {print $2}' "$tmp/out")"
    else
        echo "$requests $(sed -n 's/.*Total: .* in \([0-9,]*\) blocks.*/\1/p' "$tmp/log" | tr -d ,)"
    fi
}

read -r _ idle < <(run idle)
read -r requests loaded < <(run load)
if [ -z "$loaded" ] || [ "$loaded" = 0 ] || [ "$requests" = 0 ]; then
    echo "nothing was counted (requests: $requests, total: $loaded)" >&2
    exit 1
fi
if [ "$MODE" = safe ]; then label="safe-mode hit"; else label="plaintext hit"; fi
awk -v n="$requests" -v a="$idle" -v b="$loaded" -v what="$WHAT" -v label="$label" \
    'BEGIN { printf "%s per request (%s): %.1f, over %d requests\n", what, label, (b - a) / n, n }'
