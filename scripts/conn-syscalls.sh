#!/usr/bin/env bash
# System calls per connection of the benchmark's connection scenario
# (ucstack-bench --role ucs-server / ucs-client, --mode=conn), counted with
# strace -c on each process: a run of 500 + N connections less a run of 500,
# so that start-up and shutdown cancel out. Times under strace mean nothing; the
# counts do.
#
#   bash scripts/conn-syscalls.sh [BUILD] [N] [nocred]
set -euo pipefail
build=${1:-build}
n=${2:-2000}
nocred=${3:+--nocred}
bin="$build/bench/ucstack-bench"
[ -x "$bin" ] || { echo "conn-syscalls: $bin is missing: run make build" >&2; exit 1; }
command -v strace >/dev/null || { echo "conn-syscalls: needs strace (apt-get install strace)" >&2; exit 1; }
dir=$(mktemp -d /tmp/ucs-conn-syscalls.XXXXXX)
trap 'rm -rf "$dir" /var/run/dpdk/ucs-sc-$$-*' EXIT

# One server and one client of count connections: strace -c summaries in $dir/$count.{server,client}.
run() {
    local count=$1 spid pid
    local common=(--mode=conn --family=tcp --path="$dir/cable.sock" --count="$count" --warm=0 --bytes=0 $nocred)
    strace -f -c -o "$dir/$count.server" "$bin" --role ucs-server "${common[@]}" --core=0 --prefix="ucs-sc-$$-s" \
        --port=5000 >"$dir/$count.server.out" 2>"$dir/$count.server.err" &
    spid=$!
    for _ in $(seq 600); do grep -q '^ready' "$dir/$count.server.out" && break; sleep 0.05; done
    pid=$(sed -n 's/^ready.*pid=\([0-9]*\).*/\1/p' "$dir/$count.server.out")
    [ -n "$pid" ] || { echo "conn-syscalls: the server did not get ready" >&2; kill "$spid"; exit 1; }
    strace -f -c -o "$dir/$count.client" "$bin" --role ucs-client "${common[@]}" --core=1 --prefix="ucs-sc-$$-c" \
        --port=5000 --peer-pid="$pid" >"$dir/$count.client.out" 2>"$dir/$count.client.err"
    wait "$spid"
    grep -q '^result' "$dir/$count.client.out" || { echo "conn-syscalls: the client failed" >&2; exit 1; }
}
run 500
run $((500 + n))
for side in server client; do
    echo "$side: system calls per connection (${nocred:+credentials off, }$n connections)"
    # strace -c lines: % seconds usecs/call calls [errors] syscall
    awk -v n="$n" 'FNR == NR { if ($1 ~ /^[0-9.]+$/ && $NF != "total") base[$NF] = $4; next }
        $1 ~ /^[0-9.]+$/ && $NF != "total" { d = ($4 - base[$NF]) / n; total += d; if (d >= 0.05) printf "  %-16s %6.2f\n", $NF, d }
        END { printf "  %-16s %6.2f\n", "all", total }' "$dir/500.$side" "$dir/$((500 + n)).$side"
done
