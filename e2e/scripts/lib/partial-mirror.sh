# shellcheck shell=bash
# partial-mirror.sh — sourced by build-base-image.sh: the signed, partial
# mirror a base image's guests install from (see its header for why).
# Uses the caller's die and run, and $work (the build's scratch folder).

# mirror_pool ARCHIVES LISTS REPO COMPONENT...: moves every .deb of ARCHIVES
# (apt's cache) to REPO/<its Filename in LISTS, apt's package indexes>, i.e.
# pool/<component>/..., as the archive keeps it; a .deb of another component
# than those named is an error. Prints how many there are.
# shellcheck disable=SC2154 # $work is the caller's.
mirror_pool() {
	local archives=$1 lists=$2 repo=$3
	shift 3
	local comps=" $* " deb name path comp n
	# apt names a cached .deb after its version with the epoch's ':' as
	# "%3a"; the pool's names carry no epoch.
	find "$archives" -maxdepth 1 -name '*.deb' -printf '%f\n' | sed 's/_[0-9][0-9]*%3a/_/' | sort -u >"$work/wanted"
	n=$(wc -l <"$work/wanted")
	((n > 0)) || die "the partial mirror is empty"
	compgen -G "$lists/*_Packages" >/dev/null || die "no uncompressed package indexes in $lists"
	awk 'NR == FNR { want[$0] = 1; next }
		/^Filename: / { f = $2; sub(/.*\//, "", f); if (f in want) print f, $2 }' \
		"$work/wanted" "$lists"/*_Packages | sort -u >"$work/pool-paths"
	for deb in "$archives"/*.deb; do
		name=$(basename "$deb" | sed 's/_[0-9][0-9]*%3a/_/')
		path=$(awk -v n="$name" '$1 == n { print $2; exit }' "$work/pool-paths")
		[ -n "$path" ] || die "$name: in no package index of $lists"
		comp=${path#pool/}
		comp=${comp%%/*}
		[[ $comps == *" $comp "* ]] || die "$name: from component $comp, not one of$comps"
		mkdir -p "$repo/$(dirname "$path")"
		mv "$deb" "$repo/$path"
	done
	printf '%s\n' "$n"
}

# mirror_publish REPO SUITE LABEL KEY_OUT COMPONENT...: the amd64 Packages
# index of each component, a Release naming them, InRelease and Release.gpg
# signed with a throwaway key made here; KEY_OUT gets its public half (binary
# keyring). The private half stays in $work, deleted with it.
# shellcheck disable=SC2154 # $work is the caller's.
mirror_publish() {
	local repo=$1 codename=$2 label=$3 key_out=$4
	shift 4
	local dists="$repo/dists/$codename" comp f
	for comp in "$@"; do
		mkdir -p "$repo/pool/$comp" "$dists/$comp/binary-amd64"
		(cd "$repo" && dpkg-scanpackages -m "pool/$comp" /dev/null 2>>"$work/build.log") >"$dists/$comp/binary-amd64/Packages"
		gzip -9nk "$dists/$comp/binary-amd64/Packages"
	done
	{
		printf 'Origin: packer-plugin-jitsi e2e\nLabel: %s (test fixture)\n' "$label"
		printf 'Suite: %s\nCodename: %s\nArchitectures: amd64\nComponents: %s\n' "$codename" "$codename" "$*"
		printf 'Date: %s\nSHA256:\n' "$(LC_ALL=C date -u '+%a, %d %b %Y %H:%M:%S UTC')"
		for comp in "$@"; do
			for f in "$comp/binary-amd64/Packages" "$comp/binary-amd64/Packages.gz"; do
				printf ' %s %s %s\n' "$(sha256sum <"$dists/$f" | cut -d' ' -f1)" "$(stat -c %s "$dists/$f")" "$f"
			done
		done
	} >"$dists/Release"
	local home="$work/mirror-gnupg"
	mkdir -m 0700 "$home"
	run gpg --homedir "$home" --batch --pinentry-mode loopback --passphrase '' \
		--quick-gen-key "packer-plugin-jitsi e2e $label (throwaway test key)" ed25519 sign 1y
	run gpg --homedir "$home" --batch --yes --clearsign -o "$dists/InRelease" "$dists/Release"
	run gpg --homedir "$home" --batch --yes --armor --detach-sign -o "$dists/Release.gpg" "$dists/Release"
	gpg --homedir "$home" --batch --export >"$key_out"
}
