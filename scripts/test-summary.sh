#!/usr/bin/env bash
# Counts googletest cases across the meson test log and prints one closing line.
log=${1:-build}/meson-logs/testlog.txt
[ -f "$log" ] || { echo "0 passed, 0 failed"; exit 0; }
passed=$(grep -cE '^\[       OK \] .* \([0-9]+ ms\)$' "$log")
failed=$(grep -cE '^\[  FAILED  \] .* \([0-9]+ ms\)$' "$log")
skipped=$(grep -cE '^\[  SKIPPED \] .* \([0-9]+ ms\)$' "$log")
echo "tests: $passed passed, $failed failed, $skipped skipped"
