#!/usr/bin/env bash
# demo-cold.sh: times `make demo` on a cold machine — a fresh Debian 12 root
# made with debootstrap from Debian's mirror, plus a copy of this machine's Go
# (the README's only prerequisite), make and git — entered with chroot. Nothing
# of this machine's caches (Go modules, build cache, libdqlite) is inside.
#
# Usage (root): scripts/demo-cold.sh [WORKDIR]   (default /var/tmp/packer-plugin-jitsi-demo-cold)
#   WORKDIR/pristine is the debootstrapped root, made once and kept; each run
#   copies it, mounts /proc, /sys and /dev into the copy, runs the demo with a
#   time bound (DEMO_COLD_TIMEOUT, default 20m), unmounts and removes the copy.
#   Prints "cold make demo: N s" on success.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=${1:-/var/tmp/packer-plugin-jitsi-demo-cold}
bound=${DEMO_COLD_TIMEOUT:-20m}
goroot=$(go env GOROOT)

log() { echo "demo-cold: $*" >&2; }
[ "$(id -u)" -eq 0 ] || { log "run as root (debootstrap, chroot, mount)"; exit 2; }

mkdir -p "$work"
if [ ! -x "$work/pristine/bin/bash" ]; then
	log "debootstrap bookworm (minbase + make, git) into $work/pristine"
	rm -rf "$work/pristine.tmp"
	debootstrap --variant=minbase --include=make,git bookworm "$work/pristine.tmp" http://deb.debian.org/debian >"$work/debootstrap.log"
	mv "$work/pristine.tmp" "$work/pristine"
fi

root="$work/run.$$"
mounted=()
cleanup() {
	local m i
	for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
		m=${mounted[i]}
		umount -l "$m" 2>/dev/null || true
	done
	rm -rf --one-file-system "$root"
}
trap cleanup EXIT

log "copying the root, Go ($goroot) and the repository into $root"
cp -a "$work/pristine" "$root"
mkdir -p "$root/usr/local/go" "$root/src"
cp -a "$goroot/." "$root/usr/local/go/"
# The repository as a clone has it: tracked files and the work tree's changes.
# (Files deleted in the work tree are listed but cannot be copied: ignored.)
cd "$repo"
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -a -t "$root/src" 2>/dev/null || true
cd - >/dev/null
rm -rf "$root/src/demo-out"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# This machine's own trust anchors (a site CA, e.g. of an egress proxy) are
# part of the machine, not a cache: the copy trusts what the host trusts.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
	mkdir -p "$root/usr/local/share/ca-certificates" "$root/etc/ssl/certs"
	cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
	cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
fi
for m in proc sys dev; do
	mkdir -p "$root/$m"
done
mount -t proc proc "$root/proc" && mounted+=("$root/proc")
mount --rbind /sys "$root/sys" && mounted+=("$root/sys")
mount --rbind /dev "$root/dev" && mounted+=("$root/dev")

log "make demo in the chroot (bounded by $bound)"
start=$SECONDS
timeout "$bound" chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/go/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	TERM=dumb LANG=C.UTF-8 /bin/bash -c 'cd /src && make demo' 2>&1 |
	while IFS= read -r line; do printf '%4d %s\n' $((SECONDS - start)) "$line"; done | tee "$work/demo.log"
echo "cold make demo: $((SECONDS - start)) s"
