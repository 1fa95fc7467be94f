#!/usr/bin/env bash
# Installs what ucstack needs on Debian 12 and unpacks lwIP's source package.
# Safe to run twice: every step checks whether it is already done.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)

packages=(meson ninja-build pkg-config gcc g++ make dpkg-dev libdpdk-dev dpdk dpdk-dev
          libnuma-dev libgtest-dev nlohmann-json3-dev iproute2 iputils-ping netcat-openbsd
          curl wrk apache2-utils util-linux patch valgrind clang-14 libclang-rt-14-dev llvm-14
          gnuplot-nox groff-base man-db binutils tshark)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done

# deb-src entries are derived from the machine's own deb entries, so no mirror is named here.
src_list=/etc/apt/sources.list.d/ucstack-deb-src.sources
need_update=0
if [ ! -f "$src_list" ]; then
    for f in /etc/apt/sources.list.d/*.sources; do
        [ "$f" = "$src_list" ] && continue
        awk 'BEGIN{RS=""; ORS="\n\n"} /Types:[^\n]*deb/ && /debian/ {sub(/Types:[^\n]*/, "Types: deb-src"); print}' "$f"
    done > "$src_list.tmp"
    if [ -f /etc/apt/sources.list ]; then
        grep -E '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' > /etc/apt/sources.list.d/ucstack-deb-src.list || true
    fi
    mv "$src_list.tmp" "$src_list"
    need_update=1
fi

if [ ${#missing[@]} -gt 0 ] || [ $need_update = 1 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
fi
if [ ${#missing[@]} -gt 0 ]; then
    # tshark asks whether non-root users may capture; we only read files, as root.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

lwip_dir="$top/third_party/lwip"
# Our few changes to lwIP that no hook can make (stack/patches/, documented in
# docs/design.md). A stamp records which were applied; when they change, the
# source is unpacked afresh.
patches_sum=$(cat "$top"/stack/patches/*.patch 2>/dev/null | sha256sum | cut -d' ' -f1)
if [ -f "$lwip_dir/src/core/tcp.c" ] && [ "$(cat "$lwip_dir/.ucstack-patches" 2>/dev/null)" != "$patches_sum" ]; then
    rm -rf "$lwip_dir"
fi
if [ ! -f "$lwip_dir/src/core/tcp.c" ]; then
    work=$(mktemp -d)
    (cd "$work" && apt-get source -qq lwip)
    src=$(find "$work" -maxdepth 1 -type d -name 'lwip-*' | head -1)
    [ -n "$src" ] || { echo "setup: apt-get source lwip gave no source tree" >&2; exit 1; }
    bash "$top/scripts/check-lwip.sh" "$src"
    # Without fuzz: a hunk whose context moved is a patch to rebase, not to guess.
    for p in "$top"/stack/patches/*.patch; do
        [ -e "$p" ] || continue
        patch -d "$src" -p1 --quiet --forward --fuzz=0 < "$p" ||
            { echo "setup: $(basename "$p") does not apply to lwIP without fuzz: rebase it" >&2; exit 1; }
    done
    rm -rf "$lwip_dir"
    mkdir -p "$top/third_party"
    mv "$src" "$lwip_dir"
    echo "$patches_sum" > "$lwip_dir/.ucstack-patches"
    rm -rf "$work"
fi
echo "setup: packages and lwIP source are in place"
