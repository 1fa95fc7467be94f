#!/usr/bin/env bash
# Runs each fuzz target built by build.sh for SECONDS, on a copy of its seed
# corpus in a temporary directory (the repository is not written). Fails when
# a target finds a crash, a leak, undefined behaviour or a failed check; the
# input that did it is kept and its path printed.
#
#   bash tests/fuzz/run.sh BUILD_DIR SECONDS [TARGET...]
#
# Every seed is run first, then new inputs for SECONDS. Set FUZZ_KEEP=DIR to
# keep the grown corpora and logs in DIR.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -ge 2 ] || { echo "usage: $0 BUILD_DIR SECONDS [TARGET...]" >&2; exit 2; }
build=$(cd "$1" && pwd) || exit 2
seconds=$2
shift 2
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_tcpopt fuzz_frame fuzz_credtable)

work=${FUZZ_KEEP:-$(mktemp -d /tmp/ucs-fuzz.XXXXXX)}
mkdir -p "$work"
passed=0
failed=0
for t in "${targets[@]}"; do
    bin="$build/$t"
    [ -x "$bin" ] || { echo "run.sh: $bin missing (bash tests/fuzz/build.sh $build)" >&2; failed=$((failed + 1)); continue; }
    corpus="$work/$t/corpus"
    artifacts="$work/$t/artifacts"
    mkdir -p "$corpus" "$artifacts"
    cp "$top/tests/fuzz/corpus/$t/"* "$corpus/" 2>/dev/null || true
    log="$work/$t/log"
    echo "run.sh: $t for ${seconds}s"
    # -rss_limit_mb: the frame target keeps lwIP state across inputs.
    "$bin" -max_total_time="$seconds" -print_final_stats=1 -timeout=25 -rss_limit_mb=4096 -max_len=8192 \
        -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1
    rc=$?
    stats=$(grep -E '^#[0-9]+.*(DONE|INITED)' "$log" | tail -1)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "run.sh: $t: ${stats:-no stats} (executions: ${execs:-?})"
    if [ $rc -ne 0 ] || ls "$artifacts"/* >/dev/null 2>&1; then
        echo "run.sh: $t FAILED (exit $rc); its output:" >&2
        grep -E 'ERROR|SUMMARY|fuzz_[a-z]+:|lwIP assertion|runtime error|#[0-9]+ 0x' "$log" | head -40 >&2
        for a in "$artifacts"/*; do
            [ -e "$a" ] && echo "run.sh: input kept: $a (base64: $(base64 -w0 "$a" | head -c 2000))" >&2
        done
        failed=$((failed + 1))
    else
        passed=$((passed + 1))
    fi
done
[ -n "${FUZZ_KEEP:-}" ] || { [ $failed -eq 0 ] && rm -rf "$work"; }
[ $failed -eq 0 ] || echo "run.sh: inputs and logs are in $work" >&2
echo "fuzz: $passed passed, $failed failed"
[ $failed -eq 0 ]
