#!/usr/bin/env bash
# Where one 64-byte round trip of the benchmark's rr scenario goes, in
# instructions (callgrind counts stay put on a noisy machine, unlike times).
# Starts the two roles by hand (ucstack-bench --role ucs-server / ucs-client
# --mode=rr over a virtio cable, as scripts/conn-syscalls.sh does) with the
# server (the vhost end) under callgrind, twice: LOW and HIGH round trips. The
# difference per round trip of each function's inclusive count is printed, so
# start-up, the handshake and shutdown cancel out. (The virtio-user end does
# not come up under valgrind: its vhost peer drops the connection when the
# memory table comes.) Server and client run the same code above the PMD.
#
#   bench/rr_profile.sh [BUILD] [LOW] [HIGH] [rr|conc]
#
# conc: the 10,000-connection scenario instead (--mode=conc), per transaction.
# The client runs at full speed, so the server finds the next request on its
# first or second poll step: "ucs_stack_poll calls" says how many steps a
# round trip took; the stack's own lines do not depend on it.
set -euo pipefail
build=${1:-build}
low=${2:-2000}
high=${3:-12000}
mode=${4:-rr}
bin="$build/bench/ucstack-bench"
[ -x "$bin" ] || { echo "rr_profile: $bin is missing: run make build" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "rr_profile: needs valgrind" >&2; exit 1; }
dir=$(mktemp -d /tmp/ucs-rr-profile.XXXXXX)
spid=
cleanup() {
    [ -n "$spid" ] && kill "$spid" 2>/dev/null || true
    rm -rf "$dir" /var/run/dpdk/ucs-rp-$$-*
}
trap cleanup EXIT

# Counted only inside the round trips' calls (the server's recv_all and
# send_all; in conc, its event loop): not the start, when a frame waits in the
# TX backlog until the virtio end comes up and every flush retries it.
case "$mode" in rr) collect=(--toggle-collect='recv_all*' --toggle-collect='send_all*') ;; *) collect=(--toggle-collect='serve*') ;; esac
cg=(valgrind --tool=callgrind --dump-instr=no --compress-strings=no --compress-pos=no "${collect[@]}")
once() { # count: one attempt, 1 when the cable did not come up
    local count=$1 pid
    local common=(--mode=$mode --family=tcp --path="$dir/cable$count.sock" --count="$count" --warm=0 --bytes=0)
    "${cg[@]}" --callgrind-out-file="$dir/$count.out" "$bin" --role ucs-server "${common[@]}" --core=0 --prefix="ucs-rp-$$-s$count" --port=5000 \
        >"$dir/$count.server.out" 2>"$dir/$count.server.err" &
    spid=$!
    for _ in $(seq 6000); do grep -q '^ready' "$dir/$count.server.out" && break; sleep 0.05; done
    pid=$(sed -n 's/^ready.*pid=\([0-9]*\).*/\1/p' "$dir/$count.server.out")
    [ -n "$pid" ] || { echo "rr_profile: the server did not get ready in 300 s" >&2; kill "$spid"; wait "$spid"; spid=; return 1; }
    "$bin" --role ucs-client "${common[@]}" --core=1 --prefix="ucs-rp-$$-c$count" --port=5000 \
        --peer-pid="$pid" >"$dir/$count.client.out" 2>"$dir/$count.client.err" || true
    wait "$spid" || true
    spid=
    grep -q '^result' "$dir/$count.client.out"
}
# The vhost end under valgrind now and then misses the cable's set-up (too slow to answer): again.
run() { # count
    for _ in 1 2 3; do once "$1" && return; done
    echo "rr_profile: the round trips failed three times" >&2
    tail -n 20 "$dir/$1.client.err" "$dir/$1.server.err" >&2
    exit 1
}
run "$low"
run "$high"

# Per function: calls and inclusive instructions, summed over its call sites
# (a "cfn=" line, its "calls=" line, then the cost line of that call).
sites() {
    python3 - "$1" <<'PY'
import sys
calls, incl, fn, pending = {}, {}, None, 0
for line in open(sys.argv[1]):
    if pending:  # the cost line of the call: "position instructions"
        calls[fn] = calls.get(fn, 0) + pending
        incl[fn] = incl.get(fn, 0) + int(line.split()[1])
        pending = 0
    elif line.startswith('cfn='):
        fn = line[4:].strip().split("'")[0]
    elif line.startswith('calls='):
        pending = int(line[6:].split()[0])
for f in calls:
    print(f, calls[f], incl[f])
PY
}
sites "$dir/$low.out" >"$dir/low.txt"
sites "$dir/$high.out" >"$dir/high.txt"
n=$((high - low))
echo "rr_profile: $mode, server side, per 64-byte round trip ($high less $low round trips)"
echo "instructions (inclusive)  calls  instructions per call  function"
awk -v n="$n" 'FNR == NR { lc[$1] = $2; li[$1] = $3; next }
    { c = ($2 - lc[$1]) / n; i = ($3 - li[$1]) / n; if (i >= 20) printf "%10.0f %8.2f %8.0f  %s\n", i, c, (c > 0 ? i / c : 0), $1 }' \
    "$dir/low.txt" "$dir/high.txt" | sort -rn | head -"${ROWS:-60}"
[ -z "${KEEP:-}" ] || cp "$dir/$low.out" "$dir/$high.out" "$KEEP"/
