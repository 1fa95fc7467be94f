#!/usr/bin/env bash
# make demo: two processes, each its own ucstack instance, as two different
# users, joined by a virtio-user <-> vhost-user cable, running the programs
# ucstack ships: examples/echo-server and examples/echo-client (written against
# the public headers only) and tools/ucstack-ss (telemetry, installed). The
# liar at the end is the one test helper, built from tests/ to lie and never
# installed. Says what happened; exits 1 as soon as something did not work.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
server_bin=$build/examples/echo-server
client_bin=$build/examples/echo-client
ss=$build/tools/ucstack-ss
liar_bin=$build/tests/ucs-whoami
client_uid=65534
prefix=ucs-demo-$$

dir=$(mktemp -d /tmp/ucstack-demo-XXXXXX)
chmod 755 "$dir"
server_pid=""
client_pid=""
cleanup() {
    # A client killed here cannot remove its credential table itself.
    if [ -n "$client_pid" ] && kill "$client_pid" 2>/dev/null; then
        wait "$client_pid" 2>/dev/null || true
    fi
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$dir"
    rm -f "/var/run/dpdk/$prefix-s/dpdk_telemetry.v2"
    rmdir "/var/run/dpdk/$prefix-s" 2>/dev/null || true
    # The clients' runtime directory: they run as another user, without XDG_RUNTIME_DIR.
    rmdir "/tmp/dpdk/$prefix-c" 2>/dev/null || true
}
trap cleanup EXIT
fail() {
    echo "demo FAILED: $1"
    shift
    for f in "$@"; do echo "--- $f"; cat "$f"; done
    exit 1
}
as_client() { env -u XDG_RUNTIME_DIR setpriv --reuid=$client_uid --regid=$client_uid --clear-groups "$@"; }

cat > "$dir/server.conf" <<CONF
eal = --no-huge -m 512 --no-pci --no-shconf --log-level=error -l 0 --file-prefix=$prefix-s
telemetry = yes
port = net_vhost0,iface=$dir/cable.sock,queues=1
ipv4 = 198.18.0.1/24
ipv6 = fd75:6373::1/64
host_local = yes
attest = listen $dir/attest.sock
capture = $dir/server.pcapng
CONF
cat > "$dir/client.conf" <<CONF
eal = --no-huge -m 512 --no-pci --no-shconf --no-telemetry --log-level=error -l 1 --file-prefix=$prefix-c
port = virtio_user0,path=$dir/cable.sock,queues=1
ipv4 = 198.18.0.2/24
ipv6 = fd75:6373::2/64
host_local = yes
attest = connect $dir/attest.sock
CONF
chmod 644 "$dir"/*.conf

echo "ucstack demo: two processes joined by a virtual cable (vhost-user <-> virtio-user)"
echo "  server: echo-server as uid $(id -u), 198.18.0.1 and fd75:6373::1, TCP port 7777,"
echo "          telemetry on, capturing its port to pcapng"
echo "  client: echo-client as uid $client_uid, 198.18.0.2 and fd75:6373::2"
mkfifo "$dir/server.fifo" "$dir/client.fifo" "$dir/client-out.fifo"
exec {server_out}<>"$dir/server.fifo"
"$server_bin" "$dir/server.conf" 7777 >&$server_out 2>&1 &
server_pid=$!
# Reads a process's lines (from fd $1) into file $2 until one matches $3 (30 s at most).
until_line() {
    while read -r -t 30 line <&"$1"; do
        echo "$line" >> "$2"
        [[ $line =~ $3 ]] && return 0
    done
    return 1
}
server_until() { until_line "$server_out" "$dir/server.out" "$1"; }
server_until '^listening' || fail "the server did not start" "$dir/server.out"
# The client runs as another user: it must reach the server's sockets.
chmod 666 "$dir/cable.sock" "$dir/attest.sock"

# 1. Two connections, IPv4 and IPv6, held open after their echo until the
# client's standard input closes: the demo holds the fifo's only writer.
exec {client_in}<>"$dir/client.fifo" {client_out}<>"$dir/client-out.fifo"
# (env, not as_client: $! must be the client itself, which env and setpriv become.)
env -u XDG_RUNTIME_DIR setpriv --reuid=$client_uid --regid=$client_uid --clear-groups \
    "$client_bin" "$dir/client.conf" 65536 198.18.0.1,7777 fd75:6373::1,7777 < "$dir/client.fifo" >&$client_out 2>&1 {client_in}>&- &
client_pid=$!
until_line "$client_out" "$dir/client.out" '^holding|FAILED|down' || fail "the client did not get going" "$dir/client.out"
[ "$(grep -c ' ok ' "$dir/client.out")" = 2 ] || fail "an echo failed" "$dir/client.out"
server_until 'fd75:6373::2' || fail "the server saw no IPv6 connection" "$dir/server.out"
echo "  the cable came up once each stack learned from the kernel (SO_PEERCRED, a pidfd) who holds the"
echo "  other end of attest.sock, and that process sent a nonce back across the cable"
sed -nE 's/^echo ([^ ]+) ok bytes=([0-9]+) .* peer (.*)/  TCP echo to \1: \2 bytes back intact; the client was told: server \3/p' "$dir/client.out"
sed -nE 's/^connection from (.*)/  the server was told: connection from \1/p' "$dir/server.out"
[ "$(grep -c "connection from .*: pid=$client_pid euid=$client_uid" "$dir/server.out")" = 2 ] ||
    fail "the server did not learn the client's credential" "$dir/server.out"
grep -q "peer pid=$server_pid euid=0" "$dir/client.out" || fail "the client did not learn the server's credential" "$dir/client.out"

echo
echo "ucstack-ss -f $prefix-s   (DPDK's telemetry socket, /ucstack/sockets; an ss for ucstack):"
"$ss" -f "$prefix-s" > "$dir/ss.out" || fail "ucstack-ss failed" "$dir/ss.out"
sed 's/^/  /' "$dir/ss.out"
[ "$(grep -c "ESTAB .*uid=$client_uid" "$dir/ss.out")" = 2 ] ||
    fail "telemetry does not list both connections with the client's credential" "$dir/ss.out"

# Stopped through telemetry, the capture file is complete.
"$ss" -f "$prefix-s" --capture 0,stop > "$dir/capture.out" || fail "could not stop the capture" "$dir/capture.out"
grep -q '^result ok' "$dir/capture.out" || fail "the capture did not stop" "$dir/capture.out"
echo
echo "the capture ($(grep '^captured' "$dir/capture.out" | cut -d' ' -f2) frames, stopped by ucstack-ss --capture 0,stop), read by tshark:"
tshark -r "$dir/server.pcapng" -Y 'tcp.flags.syn == 1' 2>/dev/null | sed -E 's/^ *//; s/^/  /' > "$dir/syn.out" || true
cat "$dir/syn.out"
syns=$(wc -l < "$dir/syn.out")
cred_syns=$(tshark -r "$dir/server.pcapng" -Y 'tcp.flags.syn == 1 && tcp.options.experimental.exid == 0x7563' \
    2>/dev/null | wc -l)
echo "  $cred_syns of these $syns SYN and SYN-ACK segments carry the credential option (kind 253, ExID 0x7563)"
[ "$syns" = 4 ] && [ "$cred_syns" = 4 ] || fail "the capture lacks the handshakes or the credential option" "$dir/syn.out"

# The client closes its connections when its standard input closes.
exec {client_in}>&-
wait "$client_pid" || fail "the client failed" "$dir/client.out"
client_pid=""
exec {client_out}>&-

# 2. A bulk echo, not captured.
as_client "$client_bin" "$dir/client.conf" 256M 198.18.0.1,7777 fd75:6373::1,7777 \
    < /dev/null > "$dir/bulk.out" 2>&1 || fail "the bulk echo failed" "$dir/bulk.out"
echo
awk '/^echo / && / ok / { split($4, b, "="); split($5, s, "="); split($6, g, "=");
    printf "  TCP echo to %s: %d MiB there and back, every byte checked, in %s s: %s Gbit/s each way\n", $2, b[2] / 1048576, s[2], g[2] }' \
    "$dir/bulk.out"
[ "$(grep -c ' ok bytes=268435456 ' "$dir/bulk.out")" = 2 ] || fail "the bulk echo failed" "$dir/bulk.out"

# 3. A liar: a stack built to lie (a test helper, tests/ucs-whoami --lie, with
# the forging code of tests/cred_forge.c; not installed). After one honest
# connection it rewrites its own claim in its own credential table to every id
# 0 and connects again. The server believes only what the kernel says of the
# process attested at the cable's other end: uid $client_uid.
echo
echo "a liar (tests/ucs-whoami --lie root, a test helper built to lie, not shipped), uid $client_uid: it connects once,"
echo "then claims root in its own credential table"
as_client "$liar_bin" --config "$dir/client.conf" --connect 198.18.0.1,7777 --lie root > "$dir/liar.out" 2>&1 ||
    fail "the liar did not get through" "$dir/liar.out"
server_until 'credential unknown' || fail "the lie was believed" "$dir/server.out" "$dir/liar.out"
grep '^lying' "$dir/liar.out" | sed 's/^lying /  the liar claimed: /'
tail -2 "$dir/server.out" | sed 's/^/  the server was told: /'
"$ss" -f "$prefix-s" --stats > "$dir/stats.out" || fail "ucstack-ss --stats failed" "$dir/stats.out"
grep -q '^cred_untrusted 1$' "$dir/stats.out" || fail "the lie was not counted" "$dir/stats.out"
echo "  counted (ucstack-ss --stats): $(grep '^cred_untrusted' "$dir/stats.out")"

echo
echo "ucstack-ss -f $prefix-s, at the end:"
"$ss" -f "$prefix-s" | sed 's/^/  /'
kill -TERM "$server_pid"
wait "$server_pid" || fail "the server did not stop cleanly" "$dir/server.out"
server_pid=""
echo "demo: everything worked"
