#!/usr/bin/env bash
# Counts googletest cases across the meson test logs of the given build
# folders (each run's testlog.txt and valgrind.txt) and prints one closing line.
passed=0 failed=0 skipped=0
for dir in "${@:-build}"; do
    for log in "$dir"/meson-logs/testlog.txt "$dir"/meson-logs/valgrind*.txt; do
        [ -f "$log" ] || continue
        passed=$((passed + $(grep -cE '^\[       OK \] .* \([0-9]+ ms\)$' "$log")))
        failed=$((failed + $(grep -cE '^\[  FAILED  \] .* \([0-9]+ ms\)$' "$log")))
        skipped=$((skipped + $(grep -cE '^\[  SKIPPED \] .* \([0-9]+ ms\)$' "$log")))
    done
done
echo "tests: $passed passed, $failed failed, $skipped skipped"
