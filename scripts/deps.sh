#!/usr/bin/env bash
# Installs what building and testing packer-plugin-jitsi needs on Debian/Ubuntu.
# Idempotent: packages already present are skipped, nothing is rebuilt needlessly.
#   deps.sh        build + `make test` (prosody for the e2e host tier)
#   deps.sh e2e    also the VM tier of `make e2e` (qemu, debootstrap, …)
#   deps.sh release  also what `make release` needs for arm64: Debian
#                  multiarch (dpkg --add-architecture arm64), the cross
#                  compiler, the arm64 libraries the plugin links, libdqlite
#                  cross-built for arm64, and qemu-user-static to run the
#                  arm64 binaries' checks
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
foreign=()

# Debian packages: cloud-init (schema checks of generated user-data), shellcheck,
# Java + Typesafe Config (round-trips through Jitsi's own parsers), Maven (the
# e2e JVM tier builds its fixture on Jitsi's libraries from Maven Central), the C
# toolchain and libdqlite's build/link dependencies, openssh-server (the private
# sshd of Packer acceptance tests), iproute2 (loopback up in the network
# namespace of offline Packer runs), coturn (the e2e host tier's TURN server,
# started by its tests on loopback).
packages=(
	build-essential pkg-config git ca-certificates
	cloud-init shellcheck
	default-jdk-headless libtypesafe-config-java maven
	libsqlite3-dev libuv1-dev liblz4-dev
	openssh-server prosody iproute2 coturn
)
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
case "${1:-}" in
e2e)
	packages+=(qemu-system-x86 qemu-utils debootstrap genisoimage xorriso dpkg-dev gnupg openssh-client fdisk e2fsprogs)
	;;
release)
	# The release platform that is not this machine's (internal/release
	# lists them: linux/amd64 and linux/arm64).
	for arch in amd64 arm64; do
		[ "$arch" != "$(dpkg --print-architecture)" ] || continue
		if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
			echo "deps: adding architecture $arch (Debian multiarch)"
			"${sudo_cmd[@]}" dpkg --add-architecture "$arch"
		fi
		case $arch in
		amd64) cross_gcc=gcc-x86-64-linux-gnu ;;
		arm64) cross_gcc=gcc-aarch64-linux-gnu ;;
		esac
		packages+=("$cross_gcc" "libc6-dev:$arch" "libuv1-dev:$arch" "liblz4-dev:$arch" "libsqlite3-dev:$arch")
		foreign+=("$arch")
	done
	packages+=(qemu-user-static dpkg-dev fakeroot)
	;;
esac

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
if ((${#missing[@]})); then
	echo "deps: installing ${missing[*]}"
	"${sudo_cmd[@]}" apt-get update -qq
	# A policy-rc.d that says "no" keeps package postinsts from starting
	# daemons (sshd, prosody, coturn): tests start and stop their own, by PID.
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee /usr/sbin/policy-rc.d >/dev/null
		"${sudo_cmd[@]}" chmod 755 /usr/sbin/policy-rc.d
		trap '"${sudo_cmd[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
	fi
	DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ -x "$here/install-dqlite.sh" ]; then
	"$here/install-dqlite.sh"
	for arch in "${foreign[@]}"; do
		"$here/install-dqlite.sh" "$arch"
	done
fi
if [ -x "$here/get-packer.sh" ]; then
	"$here/get-packer.sh"
fi
