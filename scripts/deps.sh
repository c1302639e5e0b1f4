#!/usr/bin/env bash
# Installs what packer-plugin-jitsi needs on Debian/Ubuntu, in tiers, each
# one including the one before:
#   deps.sh demo     build the plugin and run `make demo` (Go is given): the
#                    C compiler cgo uses, libuv/liblz4/libsqlite3 headers, and
#                    libdqlite >= 1.18 (built from Debian's source, static)
#   deps.sh test     (default) also what `make test` needs: cloud-init
#                    (schema checks), shellcheck, Java + Typesafe Config and
#                    Maven (the round trips through Jitsi's own parsers, the
#                    JVM tier), prosody and coturn (the host tier, started by
#                    its tests on loopback), openssh-server (the
#                    private sshd of Packer acceptance tests), iproute2
#                    (loopback up in the network namespace of offline Packer
#                    runs), chromium (the fleet page's test signs in and reads
#                    the page in headless Chromium on 127.0.0.1), and Packer
#                    built from the Go module proxy
#   deps.sh e2e      also the VM tier of `make e2e` (qemu, debootstrap, …)
#   deps.sh release  the test tier and what `make release` needs for arm64:
#                    Debian multiarch (dpkg --add-architecture arm64), the
#                    cross compiler, the arm64 libraries the plugin links,
#                    libdqlite cross-built for arm64, and qemu-user-static to
#                    run the arm64 binaries' checks
# Idempotent: packages already present are skipped, nothing is rebuilt needlessly.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tier=${1:-test}
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)

demo_packages=(
	gcc libc6-dev make pkg-config ca-certificates
	libsqlite3-dev libuv1-dev liblz4-dev
)
test_packages=(
	build-essential git
	cloud-init shellcheck
	default-jdk-headless libtypesafe-config-java maven
	openssh-server prosody iproute2 coturn
	chromium chromium-driver
)
e2e_packages=(qemu-system-x86 qemu-utils debootstrap genisoimage xorriso dpkg-dev gnupg openssh-client fdisk e2fsprogs)

foreign=()
case $tier in
demo) packages=("${demo_packages[@]}") ;;
test) packages=("${demo_packages[@]}" "${test_packages[@]}") ;;
e2e) packages=("${demo_packages[@]}" "${test_packages[@]}" "${e2e_packages[@]}") ;;
release)
	packages=("${demo_packages[@]}" "${test_packages[@]}" qemu-user-static dpkg-dev fakeroot)
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
	;;
*)
	echo "deps: unknown tier \"$tier\": use demo, test, e2e or release" >&2
	exit 2
	;;
esac

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
if ((${#missing[@]})); then
	echo "deps ($tier): installing ${missing[*]}"
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

"$here/install-dqlite.sh"
for arch in "${foreign[@]}"; do
	"$here/install-dqlite-cross.sh" "$arch"
done
if [ "$tier" != demo ]; then
	"$here/get-packer.sh"
fi
