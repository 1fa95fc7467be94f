#!/usr/bin/env bash
# check-lwip.sh DIR: whether DIR (an lwIP source tree) is the lwIP release
# stack/patches/ were made for. Used by scripts/setup.sh before it patches a
# source and by meson.build before it builds one. An upgrade is a rebase of
# the patches onto the new release, then a change of the version here.
set -euo pipefail
want=2.1.3
init="${1:?usage: check-lwip.sh LWIP_SOURCE_DIR}/src/include/lwip/init.h"
[ -f "$init" ] || { echo "lwIP: $init not found" >&2; exit 1; }
field() { sed -n "s/^#define LWIP_VERSION_$1[[:space:]]\{1,\}\([0-9]\{1,\}\).*/\1/p" "$init"; }
have="$(field MAJOR).$(field MINOR).$(field REVISION)"
if [ "$have" != "$want" ]; then
    echo "lwIP: $init is version $have; ucstack's patches (stack/patches/) are for lwIP $want." >&2
    echo "lwIP: rebase the patches onto $have and change 'want' in scripts/check-lwip.sh, or unpack lwIP $want." >&2
    exit 1
fi
