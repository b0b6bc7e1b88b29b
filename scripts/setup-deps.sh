#!/usr/bin/env bash
# Install what building and testing minivmm need on Debian 12 (bookworm).
# Fast when everything is already there: it only asks dpkg, and runs
# apt-get update / install only for packages that are missing.
# Usage: scripts/setup-deps.sh
set -euo pipefail

PACKAGES=(
	build-essential clang libcmocka-dev   # build and unit tests
	qemu-system-x86                       # reference boots under TCG
	socat iproute2 iputils-ping hyperfine # integration tests and benchmarks
	busybox-static cpio e2fsprogs         # guest initramfs and disk images
	gzip xz-utils zstd kmod               # (de)compressing kernel modules
)

missing=()
for p in "${PACKAGES[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[[ $status == installed ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
	echo "setup-deps: all ${#PACKAGES[@]} packages already installed"
	exit 0
fi

if ((EUID != 0)); then
	echo "setup-deps: missing packages (run as root to install): ${missing[*]}" >&2
	exit 1
fi

echo "setup-deps: installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "setup-deps: done"
