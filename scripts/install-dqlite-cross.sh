#!/usr/bin/env bash
# Installs libdqlite >= 1.18 (libdqlite0 + libdqlite-dev) for a FOREIGN
# architecture, so that `make release` can cross-compile the cgo plugin for
# it (this machine's own libdqlite comes from install-dqlite.sh).
#
# Usage: install-dqlite-cross.sh ARCH
#   ARCH, a foreign Debian architecture (arm64): cross-built for it and
#   installed beside this machine's through Debian multiarch (make
#   deps-release), so that the plugin can be cross-compiled with cgo and link
#   /usr/lib/<triplet>/libdqlite.a. The foreign build is the same source
#   version as the installed native one (multiarch co-installation needs
#   equal versions), built by the package's own rules with
#   `dpkg-buildpackage -a ARCH` (configure --host=<triplet>), from this
#   release's cross compiler and ARCH libraries (libuv1-dev:ARCH, …). The
#   architecture must already be added (`dpkg --add-architecture`; deps.sh
#   release does it).
#
# How: Debian unstable's SOURCE package is built on this machine with this
# release's own build dependencies (raft is bundled since dqlite 1.17). Only the
# source comes from sid: the sid line is `deb-src` only, in its own sources file
# that is removed again on exit, so no binary package is ever taken from sid.
#
# Idempotent:
#   - nothing is done when pkg-config already reports dqlite >= 1.18 and the
#     static archive (libdqlite.a, linked into the plugin binary) is present;
#   - built .debs are cached in ~/.cache/packer-plugin-jitsi/dqlite (a foreign
#     architecture's in dqlite/ARCH/), so a machine that lost the install
#     only runs `dpkg -i` on them.
#
# Environment:
#   DQLITE_DEB_VERSION  source version to build (default 1.18.7-1; when sid no
#                       longer has it, sid's current version is used if >= 1.18)
#   DQLITE_CHECK=1      run dqlite's own test suite during the build (slower)
#   DQLITE_FORCE_BUILD=1  build and install again even when installed or cached
#   XDG_CACHE_HOME      cache root (default ~/.cache)
set -euo pipefail

want_version=${DQLITE_DEB_VERSION:-1.18.7-1}
min_version=1.18
host_arch=$(dpkg --print-architecture)
arch=${1:?usage: install-dqlite-cross.sh ARCH (a foreign Debian architecture, e.g. arm64)}
cache_dir=${XDG_CACHE_HOME:-$HOME/.cache}/packer-plugin-jitsi/dqlite
sid_sources=/etc/apt/sources.list.d/packer-plugin-jitsi-sid-src.sources
# A foreign architecture's packages are cached apart, so that nothing looking
# for this machine's packages in $cache_dir can pick them up.
[ "$arch" = "$host_arch" ] || cache_dir=$cache_dir/$arch

# shellcheck source-path=SCRIPTDIR source=lib/dqlite-apt.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/dqlite-apt.sh"

# installed_ok succeeds when a good libdqlite-dev (headers, .pc, static lib)
# is installed for $arch, and prints its version.
installed_ok() {
	local v libdir
	if [ "$arch" != "$host_arch" ]; then
		v=$(dpkg-query -W -f='${Version}' "libdqlite-dev:$arch" 2>/dev/null) || return 1
		dpkg-query -W -f='${Status}' "libdqlite-dev:$arch" | grep -q "install ok installed" || return 1
		[ "$v" = "$want_version" ] || return 1
		libdir=/usr/lib/$(dpkg-architecture -a"$arch" -qDEB_HOST_MULTIARCH 2>/dev/null)
		[ -f "$libdir/libdqlite.a" ] || {
			log "libdqlite-dev:$arch $v found but $libdir/libdqlite.a is missing"
			return 1
		}
		echo "$v"
		return 0
	fi
	v=$(pkg-config --modversion dqlite 2>/dev/null) || return 1
	dpkg --compare-versions "$v" ge "$min_version" || return 1
	libdir=$(pkg-config --variable=libdir dqlite) || return 1
	[ -f "$libdir/libdqlite.a" ] || {
		log "dqlite $v found but $libdir/libdqlite.a is missing"
		return 1
	}
	echo "$v"
}

# cached_debs prints the cached libdqlite0 and libdqlite-dev .debs for $arch
# of one version >= $min_version (exactly $want_version for a foreign
# architecture), newest first; fails when there are none.
cached_debs() {
	local dev v rt
	for dev in $(find "$cache_dir" -maxdepth 1 -name "libdqlite-dev_*_${arch}.deb" 2>/dev/null | sort -rV); do
		v=$(dpkg-deb -f "$dev" Version) || continue
		dpkg --compare-versions "$v" ge "$min_version" || continue
		if [ "$arch" != "$host_arch" ] && [ "$v" != "$want_version" ]; then continue; fi
		rt=$(find "$cache_dir" -maxdepth 1 -name "libdqlite0_${v}_${arch}.deb" | head -n1)
		[ -n "$rt" ] || continue
		printf '%s\n%s\n' "$rt" "$dev"
		return 0
	done
	return 1
}

# install_runtime_deps installs, from this release's archive, the packages the
# given .debs depend on (other than each other), so dpkg -i can succeed; for a
# foreign architecture, that architecture's packages (libuv1:arm64, …).
install_runtime_deps() {
	local deb dep name ours=() want=() missing=() qual=""
	[ "$arch" = "$host_arch" ] || qual=":$arch"
	for deb in "$@"; do ours+=("$(dpkg-deb -f "$deb" Package)"); done
	for deb in "$@"; do
		while IFS= read -r dep; do
			name=${dep%%|*}
			name=$(echo "$name" | sed -E 's/^[[:space:]]+//; s/[[:space:](:].*$//')
			[ -n "$name" ] || continue
			[[ " ${ours[*]} " == *" $name "* ]] && continue
			want+=("$name$qual")
		done < <(dpkg-deb -f "$deb" Depends | tr ',' '\n')
	done
	for name in "${want[@]}"; do
		dpkg-query -W -f='${Status}' "$name" 2>/dev/null | grep -q "install ok installed" || missing+=("$name")
	done
	if ((${#missing[@]})); then
		apt_update_once
		log "installing runtime dependencies from this release: ${missing[*]}"
		DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
	fi
}

install_debs() {
	install_runtime_deps "$@"
	log "dpkg -i $(basename -a "$@" | tr '\n' ' ')"
	"${as_root[@]}" dpkg -i "$@" >/dev/null
}

remove_sid_sources() {
	if [ -f "$sid_sources" ]; then
		"${as_root[@]}" rm -f "$sid_sources"
	fi
}

build_debs() {
	local work src_dir ver
	work=$(mktemp -d)
	# shellcheck disable=SC2064 # expand $work now: it is local
	trap "rm -rf '$work'; remove_sid_sources" EXIT

	log "adding deb-src for Debian unstable (source only) in $sid_sources"
	"${as_root[@]}" tee "$sid_sources" >/dev/null <<-'EOF'
		# Added by packer-plugin-jitsi scripts/install-dqlite.sh, removed when it ends.
		# Source packages only: no binary package is installed from sid.
		Types: deb-src
		URIs: http://deb.debian.org/debian
		Suites: sid
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	EOF
	apt_update_again # the new source list must be read

	# dpkg-dev (dpkg-source, dpkg-buildpackage) and the compiler, from this release.
	ensure_packages dpkg-dev build-essential fakeroot
	local cross=()
	if [ "$arch" != "$host_arch" ]; then
		cross=(-a "$arch")
		ensure_packages "gcc-$(dpkg-architecture -a"$arch" -qDEB_HOST_GNU_TYPE 2>/dev/null | tr _ -)"
	fi

	cd "$work"
	log "fetching source dqlite=$want_version from sid"
	if ! apt-get source -qq --download-only "dqlite=$want_version" >/dev/null 2>&1; then
		if [ "$arch" != "$host_arch" ]; then
			log "sid no longer has dqlite $want_version, the version installed for $host_arch: a foreign build must be the same version"
			exit 1
		fi
		log "sid no longer has dqlite $want_version; taking sid's current dqlite"
		apt-get source -qq --download-only dqlite/sid >/dev/null
	fi
	dpkg-source -x ./dqlite_*.dsc >/dev/null
	src_dir=$(find . -maxdepth 1 -mindepth 1 -type d -name 'dqlite-*' | head -n1)
	ver=$(dpkg-parsechangelog -l "$src_dir/debian/changelog" -S Version)
	dpkg --compare-versions "$ver" ge "$min_version" ||
		{ log "sid's dqlite is $ver, older than $min_version"; exit 1; }

	# Build dependencies resolved from the unpacked source against this
	# release's binary archive (the only `deb` lines apt has).
	log "installing build dependencies of dqlite $ver for $arch from this release"
	DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get build-dep "${cross[@]}" -y -qq --no-install-recommends "$src_dir" >/dev/null

	local opts
	opts="parallel=$(nproc)"
	[ "${DQLITE_CHECK:-0}" = 1 ] || opts="nocheck $opts"
	log "building dqlite $ver for $arch (dpkg-buildpackage ${cross[*]} -us -uc -b, DEB_BUILD_OPTIONS='$opts'; a few minutes)"
	(cd "$src_dir" && DEB_BUILD_OPTIONS="$opts" dpkg-buildpackage "${cross[@]}" -us -uc -b >"$work/build.log" 2>&1) || {
		tail -n 40 "$work/build.log" >&2
		log "build failed (last 40 lines above)"
		exit 1
	}

	mkdir -p "$cache_dir"
	cp libdqlite0_"${ver}_${arch}".deb libdqlite-dev_"${ver}_${arch}".deb "$cache_dir"/
	log "cached built packages in $cache_dir"
}

main() {
	local v
	if ! command -v pkg-config >/dev/null; then
		ensure_packages pkg-config
	fi
	if [ "$arch" = "$host_arch" ]; then
		log "usage: install-dqlite-cross.sh ARCH with a foreign architecture; this machine's libdqlite comes from install-dqlite.sh"
		exit 2
	fi
	dpkg --print-foreign-architectures | grep -qx "$arch" ||
		{ log "architecture $arch is not added: run \`dpkg --add-architecture $arch && apt-get update\` (scripts/deps.sh release does)"; exit 2; }
	# When this machine has libdqlite-dev as a Debian package, the same
	# version: multiarch co-installation needs it.
	if native=$(dpkg-query -W -f='${Version}' "libdqlite-dev:$host_arch" 2>/dev/null) && [ -n "$native" ]; then
		want_version=$native
	fi
	if [ "${DQLITE_FORCE_BUILD:-0}" != 1 ] && v=$(installed_ok); then
		log "dqlite $v already installed for $arch (>= $min_version), nothing to do"
		return 0
	fi
	local debs
	if [ "${DQLITE_FORCE_BUILD:-0}" = 1 ] || ! debs=$(cached_debs); then
		build_debs
		debs=$(cached_debs) || { log "built packages not found in $cache_dir"; exit 1; }
	else
		log "using cached packages from $cache_dir"
	fi
	mapfile -t deb_files <<<"$debs"
	install_debs "${deb_files[@]}"
	v=$(installed_ok) || { log "dqlite still not usable after install"; exit 1; }
	log "dqlite $v installed for $arch"
}

main "$@"
