#!/usr/bin/env bash
# Counts googletest cases across the meson test logs of the given build
# folders (each run's testlog.txt and valgrind.txt), and fuzz targets (a
# folder's fuzz.log, written by tests/fuzz/run.sh), and prints one closing line.
passed=0 failed=0 skipped=0
for dir in "${@:-build}"; do
    for log in "$dir"/meson-logs/testlog.txt "$dir"/meson-logs/valgrind*.txt; do
        [ -f "$log" ] || continue
        passed=$((passed + $(grep -cE '^\[       OK \] .* \([0-9]+ ms\)$' "$log")))
        failed=$((failed + $(grep -cE '^\[  FAILED  \] .* \([0-9]+ ms\)$' "$log")))
        skipped=$((skipped + $(grep -cE '^\[  SKIPPED \] .* \([0-9]+ ms\)$' "$log")))
        # A suite that failed with no failed case of its own (a crash, a
        # sanitizer report, a timeout) counts as one failure.
        failed=$((failed + $(awk '/^=+ [0-9]+\/[0-9]+ =+$/ { if (bad && !cases) n++; bad = 0; cases = 0 }
            /^result: / && !/exit status 0$/ { bad = 1 }
            /^\[  FAILED  \] .* \([0-9]+ ms\)$/ { cases = 1 }
            END { if (bad && !cases) n++; print n + 0 }' "$log")))
    done
    if [ -f "$dir/fuzz.log" ]; then
        fp= ff=
        read -r fp ff < <(sed -n 's/^fuzz: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$dir/fuzz.log")
        passed=$((passed + ${fp:-0}))
        failed=$((failed + ${ff:-1}))
    fi
done
echo "tests: $passed passed, $failed failed, $skipped skipped"
