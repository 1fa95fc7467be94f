#!/usr/bin/env bash
# System calls per connection of the benchmark's connection scenario
# (ucstack-bench --role ucs-server / ucs-client, --mode=conn, over a virtio
# cable), with credentials on and off, and on minus off for each end. Each
# process is traced whole (strace -f, every thread); what is counted is the
# connection phase only: from the client's "link up" to the moment it starts
# waiting for the server to exit (node_finish reads /proc/PID/stat), the same
# wall-clock window on both ends, so start-up, attestation and shutdown do not
# count. Times under strace mean nothing; the counts do.
#
# Calls made on a pidfd by a timer (the ids reading, PIDFD_GET_INFO, and the
# liveness poll: docs/credentials.md, "Staleness of the ids reading") are
# listed apart, per second: they happen at most every few milliseconds while a
# link is busy, however many connections it carries.
#
#   bash scripts/conn-syscalls.sh [BUILD] [N]
set -euo pipefail
build=${1:-build}
n=${2:-2000}
bin="$build/bench/ucstack-bench"
[ -x "$bin" ] || { echo "conn-syscalls: $bin is missing: run make build" >&2; exit 1; }
command -v strace >/dev/null || { echo "conn-syscalls: needs strace (apt-get install strace)" >&2; exit 1; }
dir=$(mktemp -d /tmp/ucs-conn-syscalls.XXXXXX)
trap 'rm -rf "$dir" /var/run/dpdk/ucs-sc-$$-*' EXIT

# One server and one client of n connections, traced into $dir/$mode.{server,client}.
run() {
    local mode=$1 spid pid
    local common=(--mode=conn --family=tcp --path="$dir/cable.sock" --count="$n" --warm=0 --bytes=0)
    [ "$mode" = on ] || common+=(--nocred)
    local st=(strace -f -qq -ttt -y -s 24)
    "${st[@]}" -o "$dir/$mode.server" "$bin" --role ucs-server "${common[@]}" --core=0 --prefix="ucs-sc-$$-s" \
        --port=5000 >"$dir/$mode.server.out" 2>"$dir/$mode.server.err" &
    spid=$!
    for _ in $(seq 600); do grep -q '^ready' "$dir/$mode.server.out" && break; sleep 0.05; done
    pid=$(sed -n 's/^ready.*pid=\([0-9]*\).*/\1/p' "$dir/$mode.server.out")
    [ -n "$pid" ] || { echo "conn-syscalls: the server did not get ready" >&2; kill "$spid"; exit 1; }
    "${st[@]}" -o "$dir/$mode.client" "$bin" --role ucs-client "${common[@]}" --core=1 --prefix="ucs-sc-$$-c" \
        --port=5000 --peer-pid="$pid" >"$dir/$mode.client.out" 2>"$dir/$mode.client.err"
    wait "$spid"
    grep -q '^result' "$dir/$mode.client.out" || { echo "conn-syscalls: the client failed" >&2; exit 1; }
    # The window, from the client's trace: link up .. the first look at the server's /proc entry.
    awk '/write\(2.*"client: link up/ && !t0 { t0 = $2 }
         t0 && /openat\(.*"\/proc\/[0-9]+\/stat"/ { t1 = $2; exit }
         END { if (!t0 || !t1) exit 1; print t0, t1 }' "$dir/$mode.client" >"$dir/$mode.window" ||
        { echo "conn-syscalls: no connection phase in the client's trace" >&2; exit 1; }
}

# Per call name: calls in the window ("pidfd-timer" for the timer's pidfd calls),
# and the window's length in seconds as "@seconds".
count() {
    read -r t0 t1 <"$dir/$1.window"
    awk -v t0="$t0" -v t1="$t1" '
        $2 < t0 || $2 > t1 || $3 ~ /^(<\.\.\.|---|\+\+\+)/ { next }
        { name = $3; sub(/\(.*/, "", name) }
        name == "ioctl" && / ioctl\([0-9]+<[^>]*pidfd[^>]*>, _IOC\(_IOC_READ\|_IOC_WRITE, 0xff, 0xb,/ { name = "pidfd-timer" }
        name == "poll" && / poll\(\[\{fd=[0-9]+<[^>]*pidfd[^>]*>, events=POLLIN\}\], 1, 0\)/ { name = "pidfd-timer" }
        { calls[name]++ }
        END { for (c in calls) print c, calls[c]; print "@seconds", t1 - t0 }' "$dir/$1.$2"
}

run on
run off
for side in server client; do
    count on $side >"$dir/on.$side.count"
    count off $side >"$dir/off.$side.count"
    awk -v n="$n" -v side="$side" '
        FNR == NR { on[$1] = $2; names[$1]; next }
        { off[$1] = $2; names[$1] }
        END {
            printf "%s: system calls per connection, %d connections (on, off, on - off)\n", side, n
            for (c in names) {
                if (c == "@seconds" || c == "pidfd-timer") continue
                d = (on[c] - off[c]) / n
                ton += on[c]; toff += off[c]
                if (on[c] / n >= 0.005 || off[c] / n >= 0.005 || d >= 0.005 || d <= -0.005)
                    printf "  %-16s %7.3f %7.3f %+7.3f\n", c, on[c] / n, off[c] / n, d
            }
            printf "  %-16s %7.3f %7.3f %+7.3f\n", "all", ton / n, toff / n, (ton - toff) / n
            printf "  timer-driven pidfd checks: %.0f/s on, %.0f/s off (not per connection)\n",
                on["pidfd-timer"] / on["@seconds"], off["pidfd-timer"] / off["@seconds"]
        }' "$dir/on.$side.count" "$dir/off.$side.count"
done
