# shellcheck shell=bash
# What install-dqlite.sh and install-dqlite-cross.sh share: their log line,
# root through sudo when not root, and installing missing packages from this
# release (apt-get update once per run). Sourced, never run.

log() { echo "install-dqlite: $*" >&2; }

as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)

apt_updated=0
apt_update_once() {
	if ((apt_updated == 0)); then
		log "apt-get update"
		"${as_root[@]}" apt-get update -qq
		apt_updated=1
	fi
}

# apt_update_again updates even when this run did: a source list changed.
apt_update_again() {
	apt_updated=0
	apt_update_once
}

# ensure_packages installs the named packages from this release if missing.
ensure_packages() {
	local need=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
	done
	if ((${#need[@]})); then
		apt_update_once
		log "installing ${need[*]}"
		DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
	fi
}
