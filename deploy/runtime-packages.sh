#!/bin/sh
# runtime-packages.sh BINARY... -- the Debian packages that own the shared
# libraries these binaries load, one per line. The Dockerfile's runtime stage
# installs exactly these. dpkg knows a library by the path its package ships
# (/lib/... or /usr/lib/..., merged /usr or not), so each is asked under the
# path ldd printed, its real path, and both spellings of the prefix.
set -eu
[ $# -gt 0 ] || { echo "usage: $0 BINARY..." >&2; exit 2; }
libs=$(ldd "$@" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// && $2 ~ /^\(/ {print $1}' | sort -u)
[ -n "$libs" ] || { echo "runtime-packages: ldd found no library" >&2; exit 1; }
pkgs=$(for lib in $libs; do
    real=$(readlink -f "$lib")
    pkg=
    for p in "$lib" "$real" "/usr${lib#/usr}" "${lib#/usr}" "/usr${real#/usr}" "${real#/usr}"; do
        pkg=$(dpkg -S "$p" 2>/dev/null | head -1 | cut -d: -f1) && [ -n "$pkg" ] && break
    done
    if [ -z "$pkg" ]; then echo "runtime-packages: no package owns $lib" >&2; exit 1; fi
    echo "$pkg"
done) || exit 1
echo "$pkgs" | sort -u
