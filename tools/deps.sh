#!/bin/sh
# Install the Debian packages vmspy needs, only those that are missing.
# Why each one is there: see README.md, "Dependencies".
set -e
pkgs="gcc g++ make pkg-config libunwind-dev libdw-dev libelf-dev libcmocka-dev libzstd-dev zstd python3 clang libclang-rt-14-dev valgrind sqlite3 xz-utils git"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "vmspy: installing Debian packages:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
