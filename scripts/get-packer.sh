#!/usr/bin/env bash
# get-packer.sh — obtain Packer binaries (and the qemu plugin the images/
# templates require) for tests and image bakes, built from the Go module proxy
# (the only place this project's machines can reach).
#
# Usage: scripts/get-packer.sh [VERSION...]       (default: 1.9.4 1.11.2)
#   Prints "NAME VERSION PATH" on stdout: one "packer" line per VERSION, then
#   "packer-plugin-qemu 1.0.9 PATH" (QEMU_PLUGIN_VERSION; "none" skips it).
#   Progress goes to stderr.
#
# Why from source: `go install github.com/hashicorp/packer@vX` needs the
# proxy's version list, which it refuses; exact versions are served, so we
# `go mod download` the module, copy it somewhere writable and `go build` it.
# 1.9.4 (MPL-2.0) bundles the qemu/null builders; 1.11.2 proves the modern
# `packer plugins install --path` flow.
#
# Binaries are cached outside the clone, under
#   ${XDG_CACHE_HOME:-$HOME/.cache}/packer-plugin-jitsi/packer/<version>/packer
#   ${XDG_CACHE_HOME:-$HOME/.cache}/packer-plugin-jitsi/plugins/qemu/<version>/packer-plugin-qemu
# so CI and repeated test runs reuse them. Idempotent: a cached binary that
# reports its version is kept; concurrent runs serialise on a lock file.
set -euo pipefail

versions=("$@")
if ((${#versions[@]} == 0)); then
	versions=(1.9.4 1.11.2)
fi

qemu_version=${QEMU_PLUGIN_VERSION:-1.0.9}
cache_base="${XDG_CACHE_HOME:-$HOME/.cache}/packer-plugin-jitsi"
mkdir -p "$cache_base"

log() { printf 'get-packer: %s\n' "$*" >&2; }

# build_module MODULE VERSION DEST CHECK...: go-builds MODULE@vVERSION's main
# package into DEST unless DEST exists and its output of CHECK contains VERSION.
build_module() {
	local module=$1 version=$2 dest=$3
	shift 3
	if [ -x "$dest" ] && "$dest" "$@" 2>/dev/null | grep -qF "$version"; then
		log "$(basename "$dest") $version cached at $dest"
		return 0
	fi

	local start=$SECONDS
	log "downloading $module@v$version from the Go module proxy"
	local modjson moddir
	modjson=$(go mod download -json "$module@v$version")
	moddir=$(printf '%s\n' "$modjson" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
	if [ -z "$moddir" ] || [ ! -d "$moddir" ]; then
		log "error: go mod download gave no module directory for $module@v$version:"
		printf '%s\n' "$modjson" >&2
		return 1
	fi

	local work
	work=$(mktemp -d "$cache_base/.build-$(basename "$dest")-$version.XXXXXX")
	# shellcheck disable=SC2064 # expand $work now: the trap must remove this build dir.
	trap "rm -rf '$work'" RETURN
	cp -R "$moddir" "$work/src"
	chmod -R u+w "$work/src"

	log "building $(basename "$dest") $version (Packer 1.9.4 takes about 5 min cold, 1.11.2 1.5 min)"
	(
		cd "$work/src"
		# GOFLAGS=-mod=mod lets go fill go.sum gaps from the proxy; the
		# module's own go.mod pins every version.
		CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false" GOTOOLCHAIN=local \
			go build -trimpath -o "$work/bin" .
	)
	"$work/bin" "$@" | grep -qF "$version" || {
		log "error: built $(basename "$dest") does not report version $version"
		return 1
	}
	mkdir -p "$(dirname "$dest")"
	mv -f "$work/bin" "$dest" # same filesystem: atomic
	log "$(basename "$dest") $version built in $((SECONDS - start)) s: $dest"
}

exec 9>"$cache_base/.lock"
flock 9
for v in "${versions[@]}"; do
	if ! [[ $v =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
		log "error: version \"$v\" is not MAJOR.MINOR.PATCH (e.g. 1.9.4)"
		exit 2
	fi
	build_module github.com/hashicorp/packer "$v" "$cache_base/packer/$v/packer" version
	printf 'packer %s %s\n' "$v" "$cache_base/packer/$v/packer"
done
if [ "$qemu_version" != none ]; then
	dest="$cache_base/plugins/qemu/$qemu_version/packer-plugin-qemu"
	build_module github.com/hashicorp/packer-plugin-qemu "$qemu_version" "$dest" describe
	printf 'packer-plugin-qemu %s %s\n' "$qemu_version" "$dest"
fi
