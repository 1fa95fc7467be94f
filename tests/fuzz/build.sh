#!/usr/bin/env bash
# Builds the libFuzzer targets in tests/fuzz/ with clang under AddressSanitizer
# and UndefinedBehaviorSanitizer: lwIP (the files stack/meson.build compiles),
# our hook files, and each target's harness. No DPDK.
#
#   bash tests/fuzz/build.sh BUILD_DIR        # -> BUILD_DIR/fuzz_<target>
#
# CC picks the compiler (default clang-14, else clang); it needs libFuzzer's
# runtime (Debian: clang-14 and libclang-rt-14-dev).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
mkdir -p "$1/obj"
out=$(cd "$1" && pwd)

cc=${CC:-}
if [ -z "$cc" ]; then
    cc=$(command -v clang-14 || command -v clang || true)
fi
[ -n "$cc" ] || { echo "build.sh: no clang (apt-get install clang-14 libclang-rt-14-dev)" >&2; exit 1; }
lwip="$top/third_party/lwip/src"
[ -f "$lwip/core/tcp.c" ] || { echo "build.sh: no lwIP source in third_party/lwip (bash scripts/setup.sh)" >&2; exit 1; }

# -fno-sanitize-recover: any undefined behaviour stops the run, like a crash.
san=(-fsanitize=address,undefined -fno-sanitize-recover=undefined)
common=(-g -O1 -fno-omit-frame-pointer "${san[@]}" -fsanitize=fuzzer-no-link)
# tests/fuzz/include comes first: its lwipopts.h wraps stack/lwipopts.h.
# ucred/, credlink/ and drivers/: the headers the layers above them include by name.
inc=(-I"$top/tests/fuzz/include" -I"$top/stack" -I"$lwip/include" -I"$top/include" -I"$top/ucred" -I"$top/credlink" -I"$top/drivers")
# FUZZ_CFLAGS: extra flags for our files, e.g. -DFUZZ_STRICT=1 (fuzz_frame.c).
read -r -a extra <<<"${FUZZ_CFLAGS:-}"
ours=(-std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter "${extra[@]}")

# The lwIP files, read from stack/meson.build so the two lists cannot drift.
mapfile -t lwip_files < <(awk '/^foreach f : \[/{on=1} on{print} on && /\]/{exit}' "$top/stack/meson.build" |
    grep -o "'[^']*\.c'" | tr -d "'")
[ ${#lwip_files[@]} -gt 10 ] || { echo "build.sh: cannot read the lwIP file list from stack/meson.build" >&2; exit 1; }

compile() { # source object extra-flags...
    local src=$1 obj=$2
    shift 2
    "$cc" "${common[@]}" "${inc[@]}" "$@" -c "$src" -o "$obj"
}

# lwIP is not our code: no warnings, and the same sanitizers but one: it
# builds 32-bit words from bytes by shifting an int (u8 << 24, in tcp_parseopt
# among others), undefined in C for bytes >= 128 and harmless with gcc and clang
# (docs/fuzzing.md, lwIP issue 5). Our code keeps that check.
jobs=$(nproc 2>/dev/null || echo 2)
lwip_objs=()
pids=()
for f in "${lwip_files[@]}"; do
    obj="$out/obj/lwip_$(echo "$f" | tr '/' '_' | sed 's/\.c$/.o/')"
    lwip_objs+=("$obj")
    compile "$lwip/$f" "$obj" -w -fno-sanitize=shift-base &
    pids+=($!)
    if [ ${#pids[@]} -ge "$jobs" ]; then
        wait "${pids[0]}"
        pids=("${pids[@]:1}")
    fi
done
for p in "${pids[@]}"; do wait "$p"; done
rm -f "$out/obj/liblwip.a"
ar rcs "$out/obj/liblwip.a" "${lwip_objs[@]}"

ours_obj() { # source -> object path (compiles it)
    local src=$1 obj
    obj="$out/obj/$(echo "${src#"$top"/}" | tr '/' '_' | sed 's/\.c$/.o/')"
    compile "$src" "$obj" "${ours[@]}" || return 1
    echo "$obj"
}

target() { # name [link flags] sources...
    local name=$1 objs=() ldflags=()
    shift
    while [ "${1:-}" != "${1#-}" ]; do ldflags+=("$1"); shift; done
    for s in "$@"; do
        obj=$(ours_obj "$top/$s") || exit 1
        objs+=("$obj")
    done
    "$cc" "${common[@]}" -fsanitize=fuzzer "${ldflags[@]}" "${objs[@]}" "$out/obj/liblwip.a" -o "$out/$name"
    echo "build.sh: $out/$name"
}

target fuzz_tcpopt tests/fuzz/fuzz_tcpopt.c stack/tcp_options.c stack/tcp_opt_walk.c stack/ip4_id.c stack/tcp_pcb_index.c stack/tcp_rtt.c \
    stack/tcp_timer_list.c stack/siphash.c stack/tcp_timewait.c stack/tcp_seg_options.c stack/syn_cookie.c stack/tuple_hash.c stack/pmtu.c
# --wrap: a strict fuzz_frame goes around the TCP guard (lwIP issues 6 and 7).
target fuzz_frame -Wl,--wrap=ucs_tcp_guard_drops tests/fuzz/fuzz_frame.c stack/tcp_guard.c stack/tcp_options.c stack/tcp_opt_walk.c \
    stack/route.c stack/ip4_id.c stack/tcp_pcb_index.c stack/tcp_rtt.c stack/tcp_timer_list.c stack/siphash.c \
    credlink/cred_option.c libsock/icmp_errors.c stack/ip_input.c stack/tcp_timewait.c stack/tcp_seg_options.c \
    stack/syn_cookie.c stack/tuple_hash.c stack/pmtu.c stack/tcp_resegment.c
target fuzz_credtable tests/fuzz/fuzz_credtable.c credlink/cred_table.c credlink/claim.c ucred/alloc.c credlink/attest.c \
    ucred/attested.c
