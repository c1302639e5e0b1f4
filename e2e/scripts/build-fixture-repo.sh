#!/usr/bin/env bash
# build-fixture-repo.sh — the signed apt repository of stand-in Jitsi
# packages (TEST FIXTURES, see e2e/README.md) that the e2e VMs install from
# exactly as they would from Jitsi's: a flat repository ("deb URL stable/")
# with its key beside it.
#
# Usage: e2e/scripts/build-fixture-repo.sh      (needs go, java, mvn, dpkg-deb, gpg)
#   Prints the repository directory on stdout; progress goes to stderr.
#
# ${XDG_CACHE_HOME:-$HOME/.cache}/packer-plugin-jitsi/e2e/jitsi-repo-<hash>/,
# keyed by the sha256 of this script and of every source the packages are
# built from (e2e/fixture, the stand-in bridge's Go packages, go.mod/go.sum):
#   stable/*.deb, stable/Packages(.gz), stable/Release, InRelease, Release.gpg
#   jitsi-key.gpg.key   the signing key, ASCII-armoured (as download.jitsi.org
#                       serves jitsi-key.gpg.key)
#   jitsi-keyring.gpg   the same key as a binary keyring (for signed-by=)
# The signing key is a throwaway made for each build; its private half is
# deleted with the build directory and never leaves this machine.
set -euo pipefail

readonly VERSION_MEET=2.0.9909+e2e1-1
readonly VERSION_JICOFO=1.0-1100+e2e1-1
# Two builds of the stand-in bridge (e2e/fixture/jvb-standin --era): a 2024
# bridge (the default candidate) and a 2020 one, which images pin with the
# provisioner's `versions` (e2e/README.md).
readonly VERSION_JVB=2.3-174+e2e1-1
readonly VERSION_JVB_LEGACY=2.1-273+e2e1-1
# Each entry is DIRECTORY[:ERA] under e2e/fixture/debian.
readonly PACKAGES=(jitsi-videobridge2:current jitsi-videobridge2:legacy jitsi-meet-prosody jicofo jitsi-meet-web jitsi-meet-web-config jitsi-meet-turnserver jitsi-meet)
# Both builds of the bridge read their config and log in with Jitsi's own
# libraries (jicoco-mucclient on Smack; e2e/fixture/jvb-config-reader's
# StandinMuc.kt) in a JVM beside the Go stand-in: they ship their jars where
# the real package keeps its own (/usr/share/jitsi-videobridge, lib/) and
# depend on a Java 17 runtime, as the real package depends on one (its
# control file and unit say so).
readonly JVB_JICOCO_DIR=/usr/share/jitsi-videobridge

log() { printf 'e2e-jitsi-repo: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

for c in go java mvn dpkg-deb dpkg-scanpackages gpg sha256sum flock; do
	command -v "$c" >/dev/null 2>&1 || die "$c not found: run 'make deps' (golang, default-jdk-headless, maven, dpkg-dev, gnupg)"
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
sources=(
	"$root/e2e/scripts/build-fixture-repo.sh" "$root/go.mod" "$root/go.sum"
)
while IFS= read -r -d '' f; do
	sources+=("$f")
done < <(find "$root/e2e/fixture" "$root/e2e/internal/jvbconf" "$root/e2e/internal/jvbread" "$root/e2e/internal/xmppc" "$root/internal/readback" \
	-type f ! -name '*_test.go' -print0 | sort -z)
hash=$(
	cd "$root"
	for f in "${sources[@]}"; do
		printf '%s %s\n' "${f#"$root"/}" "$(stat -c %a "$f")"
		cat "$f"
	done | sha256sum | cut -c1-16
)

cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/packer-plugin-jitsi/e2e"
dest="$cache_root/jitsi-repo-$hash"
mkdir -p "$cache_root"
exec 9>"$cache_root/.jitsi-repo.lock"
flock 9
if [ -f "$dest/done" ]; then
	log "cached: $dest"
	printf '%s\n' "$dest"
	exit 0
fi

start=$SECONDS
work=$(mktemp -d "$cache_root/.jitsi-repo-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
repo="$work/repo"
mkdir -p "$repo/stable" "$work/stage"

log "building the stand-in bridge (static Go binary)"
(cd "$root" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$work/jvb-standin" ./e2e/fixture/jvb-standin)
log "building its JVM part with Maven (Jitsi's libraries from Maven Central)"
cp -a "$root/e2e/fixture/jvb-config-reader" "$work/jvm"
rm -rf "$work/jvm/target"
# Maven's downloads are cached beside the JVM tier's (e2e/internal/jvbread).
m2="${XDG_CACHE_HOME:-$HOME/.cache}/packer-plugin-jitsi/jvm/m2"
if ! (cd "$work/jvm" && mvn -B -q -s settings.xml -Dmaven.repo.local="$m2" package) >"$work/mvn.log" 2>&1; then
	tail -n 30 "$work/mvn.log" >&2
	die "mvn package of e2e/fixture/jvb-config-reader failed"
fi

for entry in "${PACKAGES[@]}"; do
	pkg=${entry%%:*}
	era=${entry#*:}
	stage="$work/stage/$entry"
	cp -a "$root/e2e/fixture/debian/$pkg" "$stage"
	jvb_version=$VERSION_JVB
	if [ "$era" = legacy ]; then jvb_version=$VERSION_JVB_LEGACY; fi
	sed -i -e "s/@VERSION_MEET@/$VERSION_MEET/g" -e "s/@VERSION_JICOFO@/$VERSION_JICOFO/g" \
		-e "s/@VERSION_JVB@/$jvb_version/g" "$stage/DEBIAN/control"
	if [ "$pkg" = jitsi-videobridge2 ]; then
		install -D -m 0755 "$work/jvb-standin" "$stage/usr/share/jitsi-videobridge/jvb-standin"
		install -D -m 0644 "$work/jvm/target/jvb-config-reader.jar" "$stage$JVB_JICOCO_DIR/jvb-config-reader.jar"
		install -d -m 0755 "$stage$JVB_JICOCO_DIR/lib"
		install -m 0644 "$work/jvm/target/lib/"*.jar "$stage$JVB_JICOCO_DIR/lib/"
		grep -rl '@JVB_ERA@' "$stage" | xargs sed -i "s/@JVB_ERA@/$era/g"
	fi
	find "$stage" -type d -exec chmod 0755 {} +
	version=$(sed -n 's/^Version: //p' "$stage/DEBIAN/control")
	arch=$(sed -n 's/^Architecture: //p' "$stage/DEBIAN/control")
	grep -q '^Description: TEST FIXTURE' "$stage/DEBIAN/control" || die "$pkg's Description must start with TEST FIXTURE"
	dpkg-deb --root-owner-group -Zxz --build "$stage" "$repo/stable/${pkg}_${version}_${arch}.deb" >/dev/null
	log "built $pkg $version ($arch)"
done

log "indexing and signing with a throwaway key"
(cd "$repo" && dpkg-scanpackages -m stable /dev/null 2>/dev/null) >"$repo/stable/Packages"
gzip -9nk "$repo/stable/Packages"
{
	printf 'Origin: packer-plugin-jitsi e2e\nLabel: Jitsi stand-in packages (TEST FIXTURES)\n'
	printf 'Architectures: all amd64\nDate: %s\nSHA256:\n' "$(LC_ALL=C date -u '+%a, %d %b %Y %H:%M:%S UTC')"
	for f in Packages Packages.gz; do
		printf ' %s %s %s\n' "$(sha256sum <"$repo/stable/$f" | cut -d' ' -f1)" "$(stat -c %s "$repo/stable/$f")" "$f"
	done
} >"$repo/stable/Release"
export GNUPGHOME="$work/gnupg"
mkdir -m 0700 "$GNUPGHOME"
gpg --batch --quiet --pinentry-mode loopback --passphrase '' \
	--quick-gen-key "packer-plugin-jitsi e2e stand-in Jitsi repository (throwaway test key)" ed25519 sign 1y 2>/dev/null
gpg --batch --quiet --yes --clearsign -o "$repo/stable/InRelease" "$repo/stable/Release"
gpg --batch --quiet --yes --armor --detach-sign -o "$repo/stable/Release.gpg" "$repo/stable/Release"
gpg --batch --quiet --armor --export >"$repo/jitsi-key.gpg.key"
gpg --batch --quiet --export >"$repo/jitsi-keyring.gpg"
unset GNUPGHOME

rm -rf "$dest"
mv "$repo" "$dest"
printf 'built %s in %ss\n' "$(date -u +%FT%TZ)" "$((SECONDS - start))" >"$dest/done"
find "$cache_root" -maxdepth 1 -name 'jitsi-repo-*' -type d ! -name "jitsi-repo-$hash" -exec rm -rf {} +
log "done in $((SECONDS - start))s: $dest"
printf '%s\n' "$dest"
