#!/usr/bin/env bash
# The build refuses an lwIP whose version is not the patches' (issue 18 item 3):
# scripts/check-lwip.sh passes the unpacked source and rejects a copy of it
# whose init.h says 2.1.4, naming both versions.
set -euo pipefail
check=$1 lwip=$2
"$check" "$lwip"
copy=$(mktemp -d)
trap 'rm -rf "$copy"' EXIT
mkdir -p "$copy/src/include/lwip"
sed 's/^\(#define LWIP_VERSION_REVISION[[:space:]]*\)3/\14/' "$lwip/src/include/lwip/init.h" > "$copy/src/include/lwip/init.h"
if msg=$("$check" "$copy" 2>&1); then
    echo "FAIL: lwIP 2.1.4 accepted" >&2
    exit 1
fi
case $msg in
*"version 2.1.4"*"for lwIP 2.1.3"*) echo "refused: $msg" ;;
*) echo "FAIL: unclear message: $msg" >&2; exit 1 ;;
esac
