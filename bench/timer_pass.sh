#!/usr/bin/env bash
# What a pass of lwIP's TCP timers costs with N idle connections: tests/ucs-conns
# opens N connections across a virtio cable (as tests/scale_test.cpp does) and
# each end prints, once they are idle, the time of one fast and one slow timer
# pass and the pcbs the passes visited (its "idle" line).
#   bench/timer_pass.sh [BUILD_DIR] [N]        (defaults: build 10000)
set -euo pipefail
build=${1:-build}
n=${2:-10000}
conns="$build/tests/ucs-conns"
[ -x "$conns" ] || { echo "timer_pass: no $conns (make build)" >&2; exit 1; }

dir=$(mktemp -d)
spid= cpid=
cleanup() {
    [ -n "$cpid" ] && kill "$cpid" 2>/dev/null || true
    [ -n "$spid" ] && kill "$spid" 2>/dev/null || true
    rm -rf "$dir" "/var/run/dpdk/ucs-timer-s-$$" "/var/run/dpdk/ucs-timer-c-$$"
}
trap cleanup EXIT

config() { # file-prefix core port ipv4 attest
    printf 'eal = --no-huge -m 512 --no-pci --no-shconf --no-telemetry --log-level=warning -l %s --file-prefix=%s\n' \
        "$2" "$1"
    printf 'port = %s\nipv4 = %s/24\nhost_local = yes\nattest = %s\n' "$3" "$4" "$5"
}
config "ucs-timer-s-$$" 0 "net_vhost0,iface=$dir/cable.sock,queues=1" 198.18.0.1 "listen $dir/attest.sock" >"$dir/s.conf"
config "ucs-timer-c-$$" 1 "virtio_user0,path=$dir/cable.sock,queues=1" 198.18.0.2 "connect $dir/attest.sock" >"$dir/c.conf"

# Each end runs until its standard input closes: a FIFO held open here.
wait_line() { # file pattern pid
    until grep -q "$2" "$1"; do
        kill -0 "$3" 2>/dev/null || { cat "$1" >&2; exit 1; }
        sleep 0.2
    done
}
mkfifo "$dir/s.in" "$dir/c.in"
"$conns" --config "$dir/s.conf" --serve 7000 --ports 4 --expect "$n" <"$dir/s.in" >"$dir/s.out" 2>&1 &
spid=$!
exec 3>"$dir/s.in"
wait_line "$dir/s.out" '^ready' "$spid"
"$conns" --config "$dir/c.conf" --connect 198.18.0.1,7000 --ports 4 --count "$n" <"$dir/c.in" >"$dir/c.out" 2>&1 &
cpid=$!
exec 4>"$dir/c.in"
wait_line "$dir/c.out" '^closed' "$cpid"
exec 4>&-
wait "$cpid"
cpid=
wait_line "$dir/s.out" '^drained' "$spid"
exec 3>&-
wait "$spid"
spid=
sed -n 's/^idle /server /p' "$dir/s.out"
sed -n 's/^idle /client /p' "$dir/c.out"
