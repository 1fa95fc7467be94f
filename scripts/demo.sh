#!/usr/bin/env bash
# make demo: two processes, each its own ucstack instance, as two different
# users, joined by a virtio-user <-> vhost-user cable. Says what happened.
set -euo pipefail
build=${1:-build}
node="$(cd "$build" && pwd)/tests/ucs-node"
client_uid=65534

dir=$(mktemp -d /tmp/ucstack-demo-XXXXXX)
chmod 755 "$dir"
server_pid=""
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$dir"
    rmdir "/var/run/dpdk/ucs-demo-$$-s" 2>/dev/null || true
}
trap cleanup EXIT

cat > "$dir/server.conf" <<CONF
eal = --no-huge -m 512 --no-pci --no-shconf --no-telemetry --log-level=error -l 0 --file-prefix=ucs-demo-$$-s
port = net_vhost0,iface=$dir/cable.sock,queues=1
ipv4 = 198.18.0.1/24
ipv6 = fd75:6373::1/64
host_local = yes
attest = listen $dir/attest.sock
CONF
cat > "$dir/client.conf" <<CONF
eal = --no-huge -m 512 --no-pci --no-shconf --no-telemetry --log-level=error -l 1 --file-prefix=ucs-demo-$$-c
port = virtio_user0,path=$dir/cable.sock,queues=1
ipv4 = 198.18.0.2/24
ipv6 = fd75:6373::2/64
host_local = yes
attest = connect $dir/attest.sock
CONF
chmod 644 "$dir"/*.conf

echo "ucstack demo: two processes joined by a virtual cable (vhost-user <-> virtio-user)"
echo "  server: uid $(id -u), 198.18.0.1 and fd75:6373::1, echo service on TCP port 7777"
echo "  client: uid $client_uid, 198.18.0.2 and fd75:6373::2"
coproc SERVER { exec "$node" --config "$dir/server.conf" --serve 7777 --timeout 60 2>&1; }
server_pid=$SERVER_PID
server_out=${SERVER[0]}
server_in=${SERVER[1]}
# The server says "ready" once the cable's socket exists.
ready=""
while read -r -t 30 line <&"$server_out"; do
    [ "$line" = ready ] && { ready=1; break; }
done
[ -n "$ready" ] || { echo "demo: the server did not start"; exit 1; }
chmod 666 "$dir/cable.sock" "$dir/attest.sock"

env -u XDG_RUNTIME_DIR setpriv --reuid=$client_uid --regid=$client_uid --clear-groups \
    "$node" --config "$dir/client.conf" --timeout 60 \
    --ping 198.18.0.1 --ping fd75:6373::1 \
    --echo 198.18.0.1,7777,256M --echo fd75:6373::1,7777,256M > "$dir/client.out" 2>&1 || true
# Closing its standard input tells the server to stop.
eval "exec $server_in>&-"
cat <&"$server_out" > "$dir/server.out"
wait "$server_pid" || true
server_pid=""

awk '
/^link up/   { print "  the cable came up: both sides see a link, each having attested the other through the kernel" }
/^ping /     { if ($3 == "ok") printf "  ping %-14s answered in %s us (the first one includes neighbour resolution)\n", $2, substr($4, 8);
               else printf "  ping %s FAILED\n", $2 }
/^echo /     { split($4, b, "="); split($6, s, "="); split($7, g, "=");
               if ($5 == "ok") printf "  TCP echo to %-14s %d MiB there and back, every byte checked, in %s s: %s Gbit/s each way\n", $2, b[2] / 1048576, s[2], g[2];
               else printf "  TCP echo to %s FAILED: %s\n", $2, $0 }
' "$dir/client.out"
grep -q '^link up' "$dir/client.out" || { echo "the client never saw a link; its output:"; cat "$dir/client.out"; exit 1; }
if grep -q FAILED "$dir/client.out"; then
    echo "demo: something failed; full client output:"
    cat "$dir/client.out"
    exit 1
fi
echo "  server counters: $(grep '^stats' "$dir/server.out" | sed 's/^stats //')"

# Who is on the other end: the server creates its listening socket as root and
# then drops to uid 1000; the client runs as 65534. Each asks getpeerucred().
whoami="$(cd "$build" && pwd)/tests/ucs-whoami"
rm -f "$dir/cable.sock"
echo
echo "credentials: the server (uid $(id -u)) listens, then drops to uid 1000 with groups 1000,4242 (saved uid 0);"
echo "             the client connects as uid $client_uid; each asks getpeerucred() about the other."
echo "             The link came up only after each stack learned from the kernel (SO_PEERCRED, a pidfd)"
echo "             who holds the other end of $dir/attest.sock, and that process sent a nonce back across the cable."
mkfifo "$dir/who.fifo"
exec {who_out}<>"$dir/who.fifo"
"$whoami" --config "$dir/server.conf" --listen 7000 --drop 1000:1000:1000,4242 >&$who_out 2>&1 &
server_pid=$!
ready=""
while read -r -t 30 line <&$who_out; do
    echo "$line" >> "$dir/who-server.out"
    [ "$line" = ready ] && { ready=1; break; }
done
[ -n "$ready" ] || { echo "demo: the credential server did not start"; exit 1; }
chmod 666 "$dir/cable.sock" "$dir/attest.sock"
env -u XDG_RUNTIME_DIR setpriv --reuid=$client_uid --regid=$client_uid --groups=100,$client_uid \
    "$whoami" --config "$dir/client.conf" --connect 198.18.0.1,7000 > "$dir/who-client.out" 2>&1 || true
wait "$server_pid" || true
server_pid=""
# The server has exited: what it printed is already in the pipe.
while read -r -t 1 line <&$who_out; do echo "$line" >> "$dir/who-server.out"; done
exec {who_out}>&-
describe() { sed -E 's/^(self|peer) /  /; s/ label=-//' ; }
echo "  the client (pid $(grep '^self' "$dir/who-client.out" | sed -E 's/.*pid=([0-9]+).*/\1/')) was told about the server:"
grep '^peer' "$dir/who-client.out" | describe
echo "  the server, now $(grep '^self' "$dir/who-server.out" | sed -E 's/.* euid=([0-9]+).*/uid \1/'), was told about the client:"
grep '^peer' "$dir/who-server.out" | describe
if ! grep -q '^peer pid' "$dir/who-client.out" || ! grep -q '^peer pid' "$dir/who-server.out"; then
    echo "demo: credentials did not come through; outputs:"
    cat "$dir/who-client.out" "$dir/who-server.out"
    exit 1
fi
echo "  (the client sees uid 0: credentials are the listener's as of socket creation, as on illumos;"
echo "   believed because the server may still become root: a server that gave up root entirely could not vouch for it)"

# A liar: the client's stack is built to lie (tests/cred_forge.c). After one
# honest connection it rewrites its own claim in its own table to every id 0,
# and connects again. The server believes only what the kernel says of the
# process attested at the cable's other end: uid 65534.
echo
echo "a liar: the client (uid $client_uid) connects once, then claims root in its own credential table"
rm -f "$dir/cable.sock"
exec {liar_out}<>"$dir/who.fifo"
"$whoami" --config "$dir/server.conf" --listen 7000 --drop 1000:1000:1000 --accept 2 >&$liar_out 2>&1 &
server_pid=$!
ready=""
while read -r -t 30 line <&$liar_out; do
    echo "$line" >> "$dir/liar-server.out"
    [ "$line" = ready ] && { ready=1; break; }
done
[ -n "$ready" ] || { echo "demo: the server did not start"; exit 1; }
chmod 666 "$dir/cable.sock" "$dir/attest.sock"
env -u XDG_RUNTIME_DIR setpriv --reuid=$client_uid --regid=$client_uid --clear-groups \
    "$whoami" --config "$dir/client.conf" --connect 198.18.0.1,7000 --lie root > "$dir/liar-client.out" 2>&1 || true
wait "$server_pid" || true
server_pid=""
while read -r -t 1 line <&$liar_out; do echo "$line" >> "$dir/liar-server.out"; done
exec {liar_out}>&-
grep '^lying' "$dir/liar-client.out" | sed 's/^lying /  the liar claimed: /'
grep -E '^peer' "$dir/liar-server.out" | sed -E 's/ label=-//' | sed -n '1s/^peer /  the server was told, honest connection: /p; 2s/^peer /  the server was told, lying connection:  /p'
grep '^credstats' "$dir/liar-server.out" | tail -1 | sed -E 's/.*(untrusted=[0-9]+).*/  counted: \1/'
if ! grep -q "^peer unknown: Invalid argument" "$dir/liar-server.out"; then
    echo "demo: the lie was believed, or the liar did not get through; outputs:"
    cat "$dir/liar-client.out" "$dir/liar-server.out"
    exit 1
fi
echo "demo: everything worked"
