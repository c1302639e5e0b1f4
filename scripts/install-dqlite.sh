#!/usr/bin/env bash
# Installs libdqlite >= 1.18 (static library, header, pkg-config file), which
# github.com/canonical/go-dqlite/v3 needs and which the plugin links
# statically; Debian bookworm only ships 1.11.
#
# How: the upstream tarball of Debian's dqlite source package (pinned by the
# SHA-256 its .dsc gives) is fetched from Debian's pool with apt's own
# downloader, configured with the few options a static library needs, and only
# libdqlite.la is built (raft is bundled since 1.17; no tests, no shared
# library, no packaging). The result is installed under /usr/local (the
# multiarch libdir comes first in the linker's search path, so an older
# libdqlite-dev from the distribution cannot shadow it).
#
# Build dependencies, all from this release's archive: gcc, make, autoconf,
# automake, libtool, pkg-config, libuv1-dev, liblz4-dev, libsqlite3-dev.
#
# Idempotent:
#   - nothing is done when pkg-config already reports dqlite >= 1.18 and the
#     static archive (libdqlite.a) is present;
#   - the built tree is cached in $cache_dir (and .debs that earlier versions
#     of this script built there are still used), so a machine that lost the
#     install only unpacks it.
#
# Environment:
#   DQLITE_VERSION        upstream version (default 1.18.7; give DQLITE_SHA256 with another)
#   DQLITE_SHA256         SHA-256 of dqlite_<version>.orig.tar.gz
#   DQLITE_FORCE_BUILD=1  build and install again even when installed or cached
#   XDG_CACHE_HOME        cache root (default ~/.cache)
set -euo pipefail

version=${DQLITE_VERSION:-1.18.7}
sha256=${DQLITE_SHA256:-cf244ef937d419edd93aed3960d8222b38f09af82acca78fde586c3d04c35a52}
pool=http://deb.debian.org/debian/pool/main/d/dqlite
min_version=1.18
cache_dir=${XDG_CACHE_HOME:-$HOME/.cache}/packer-plugin-jitsi/dqlite

# shellcheck source-path=SCRIPTDIR source=lib/dqlite-apt.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/dqlite-apt.sh"

# installed_ok succeeds when a good libdqlite (header, .pc, static lib) is installed.
installed_ok() {
	local v libdir
	v=$(pkg-config --modversion dqlite 2>/dev/null) || return 1
	dpkg --compare-versions "$v" ge "$min_version" || return 1
	libdir=$(pkg-config --variable=libdir dqlite) || return 1
	[ -f "$libdir/libdqlite.a" ] || {
		log "dqlite $v found but $libdir/libdqlite.a is missing"
		return 1
	}
	echo "$v"
}

# cached_debs prints the libdqlite0 and libdqlite-dev .debs an earlier
# version of this script built (dpkg-buildpackage), newest first.
cached_debs() {
	local dev v rt
	for dev in $(find "$cache_dir" -maxdepth 1 -name 'libdqlite-dev_*.deb' 2>/dev/null | sort -rV); do
		v=$(dpkg-deb -f "$dev" Version) || continue
		dpkg --compare-versions "$v" ge "$min_version" || continue
		rt=$(find "$cache_dir" -maxdepth 1 -name "libdqlite0_${v}_*.deb" | head -n1)
		[ -n "$rt" ] || continue
		printf '%s\n%s\n' "$rt" "$dev"
		return 0
	done
	return 1
}

tree="$cache_dir/dqlite-$version-static-$(dpkg --print-architecture).tar.gz"

# build makes $tree: a staged /usr/local install of the static library.
build() {
	local work src multiarch
	ensure_packages gcc libc6-dev make pkg-config autoconf automake libtool libuv1-dev liblz4-dev libsqlite3-dev
	multiarch=$(gcc -print-multiarch)
	work=$(mktemp -d)
	# shellcheck disable=SC2064 # expand $work now: it is local
	trap "rm -rf '$work'" EXIT
	log "fetching dqlite_$version.orig.tar.gz (Debian's source package) from Debian's pool"
	/usr/lib/apt/apt-helper -o APT::Sandbox::User=root download-file "$pool/dqlite_$version.orig.tar.gz" "$work/dqlite.tar.gz" "SHA256:$sha256" >/dev/null ||
		{ log "download failed or the SHA-256 differs from $sha256 (is dqlite $version still in Debian's pool? set DQLITE_VERSION and DQLITE_SHA256 from the current .dsc)"; exit 1; }
	tar -xzf "$work/dqlite.tar.gz" -C "$work"
	src=$(find "$work" -maxdepth 1 -mindepth 1 -type d -name 'dqlite-*' | head -n1)
	log "building libdqlite.a $version (static only; about a minute)"
	# (&&: set -e does not apply inside a list that ends with ||)
	(
		cd "$src" &&
			autoreconf -i &&
			./configure --prefix=/usr/local --libdir="/usr/local/lib${multiarch:+/$multiarch}" \
				--disable-shared --enable-static CFLAGS="-O2 -g0" &&
			make -j"$(nproc)" libdqlite.la dqlite.pc &&
			make DESTDIR="$work/stage" install-libLTLIBRARIES install-includeHEADERS install-pkgconfigDATA
	) >"$work/build.log" 2>&1 || {
		tail -n 40 "$work/build.log" >&2
		log "build failed (last 40 lines above)"
		exit 1
	}
	# libtool's .la would point the linker at a shared library there is not.
	find "$work/stage" -name '*.la' -delete
	mkdir -p "$cache_dir"
	tar -czf "$tree.tmp" -C "$work/stage" usr
	mv -f "$tree.tmp" "$tree"
	log "cached the built tree in $tree"
}

main() {
	local v
	if ! command -v pkg-config >/dev/null; then
		ensure_packages pkg-config
	fi
	if [ "${DQLITE_FORCE_BUILD:-0}" != 1 ] && v=$(installed_ok); then
		log "dqlite $v already installed (>= $min_version), nothing to do"
		return 0
	fi
	local debs
	if [ "${DQLITE_FORCE_BUILD:-0}" != 1 ] && debs=$(cached_debs); then
		log "using cached packages from $cache_dir"
		mapfile -t deb_files <<<"$debs"
		ensure_packages libuv1-dev liblz4-dev libsqlite3-dev
		"${as_root[@]}" dpkg -i "${deb_files[@]}" >/dev/null
	else
		if [ "${DQLITE_FORCE_BUILD:-0}" = 1 ] || [ ! -f "$tree" ]; then
			build
		else
			log "using the cached build $tree"
		fi
		"${as_root[@]}" tar -xzf "$tree" -C / --no-same-owner --no-overwrite-dir
	fi
	v=$(installed_ok) || { log "dqlite still not usable after install"; exit 1; }
	log "dqlite $v installed"
}

main "$@"
