#!/usr/bin/env bash
# make bench: ucstack and the Linux kernel side by side, in one run of
# build/bench/ucstack-bench (three alternating rounds; each figure the median).
# QUICK=1: the quick suite (small sizes). After a full run, the README's bench
# tables are rewritten from build/bench.json (scripts/bench-readme.py, which
# leaves them alone if a scenario failed).
#
# Hugepages: as root, this reserves 512 x 2 MiB pages (each of the two DPDK
# processes of a run takes -m 512, that is 256 pages), mounts a private hugetlbfs and
# runs DPDK on it with --single-file-segments (what virtio-user needs to share
# its memory with the vhost-user side). Anything short of that, and the bench
# runs in hugepage-free mode (--no-huge), as the tests and the demo do.
# Whatever it reserved or mounted, it gives back at the end.
# BENCH_HUGE=0: hugepage-free mode even as root. BENCH_ARGS: more options for
# the tool (ucstack-bench --help), e.g. BENCH_ARGS="--wait-quiet 120".
set -euo pipefail
build=${1:-build}
bin="$build/bench/ucstack-bench"
args=(--json "$build/bench.json" --plot "$build/bench-plots")
case "${QUICK:-}" in ""|0|no) mode=full ;; *) mode=quick; args+=(--quick) ;; esac
[ -x "$bin" ] || { echo "bench: $bin is missing: run make build" >&2; exit 1; }

nr=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
want=512
old_nr=""
huge_dir=""
cleanup() {
    if [ -n "$huge_dir" ]; then
        umount "$huge_dir" 2>/dev/null || true
        rmdir "$huge_dir" 2>/dev/null || true
    fi
    if [ -n "$old_nr" ]; then
        echo "$old_nr" > "$nr" 2>/dev/null || true
        echo "bench: hugepages given back (2 MiB pages reserved: $(cat "$nr"))"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

huge=""
if [ "$(id -u)" = 0 ] && [ -w "$nr" ] && [ "${BENCH_HUGE:-auto}" != 0 ]; then
    old_nr=$(cat "$nr")
    free_now=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
    echo $((old_nr + want)) > "$nr" 2>/dev/null || true
    got=$(( $(awk '/HugePages_Free/ {print $2}' /proc/meminfo) - free_now ))
    if [ "$got" -ge "$want" ]; then
        huge_dir=$(mktemp -d /tmp/ucstack-bench-huge-XXXXXX)
        if mount -t hugetlbfs -o pagesize=2M nodev "$huge_dir"; then
            huge=1
            echo "bench: root: reserved $want x 2 MiB hugepages, mounted at $huge_dir; DPDK runs on them (--single-file-segments)"
        else
            rmdir "$huge_dir"
            huge_dir=""
            echo "bench: reserved $got hugepages but could not mount hugetlbfs: hugepage-free mode (--no-huge)"
        fi
    else
        echo "bench: root, but only $got of $want hugepages could be reserved: hugepage-free mode (--no-huge)"
    fi
else
    echo "bench: not root (or BENCH_HUGE=0): no hugepages; hugepage-free mode (--no-huge: virtio-user and"
    echo "       vhost-user share file-backed memory, which needs neither root nor reserved pages)"
fi
[ -n "$huge" ] && args+=(--huge-dir "$huge_dir")
# More options for the tool, e.g. BENCH_ARGS="--wait-quiet 120" on a shared machine.
read -r -a extra <<< "${BENCH_ARGS:-}"
args+=("${extra[@]}")

echo "bench: $mode mode: $bin ${args[*]}"
echo "bench: machine: $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
rc=0
"$bin" "${args[@]}" || rc=$?
echo "bench: records in $build/bench.json"
if [ "$mode" = full ] && [ -s "$build/bench.json" ]; then
    python3 "$(dirname "$0")/bench-readme.py" --readme "$(dirname "$0")/../README.md" "$build/bench.json" || rc=$?
fi
exit $rc
