#!/usr/bin/env bash
# build-base-image.sh — the e2e tier's Debian 12 base image and the partial
# Debian mirror its guests install from.
#
# Usage: e2e/scripts/build-base-image.sh        (as root: loop devices, chroot)
#   Prints the cache directory on stdout; progress goes to stderr.
#
# The cache directory, ${XDG_CACHE_HOME:-$HOME/.cache}/packer-plugin-jitsi/e2e/base-<hash>,
# keyed by the sha256 of this script, holds:
#   disk.qcow2        Debian 12 (bookworm): linux-image-cloud-amd64, GRUB on the
#                     MBR (boots by itself, as Packer's qemu builder needs),
#                     cloud-init (NoCloud only), openssh-server, ifupdown DHCP,
#                     journald forwarded to the serial console.
#   mirror/debian/    a signed, partial Debian mirror holding what the bakes
#                     and first boots install (apache2, prosody, lua-sec, ...)
#                     with every dependency the image lacks.
#   mirror-key.gpg    its public key (binary); the image trusts it for
#                     /etc/apt/sources.list. The private key exists only
#                     during the build and is deleted with the work dir.
#   build.log, done
#
# Why a partial mirror: guests may reach only loopback forwards. The e2e
# harness serves mirror/ on 127.0.0.1 and each guest reaches it through a qemu
# guestfwd at http://10.0.2.101/ (inside qemu's user network, restrict=on):
# no guest packet ever leaves the qemu process for another address. The host
# itself fetches the .debs from Debian's mirror here, at build time.
#
# Idempotent: a complete cache directory is reused; concurrent runs serialise
# on a lock; a failed build leaves nothing behind but its log.
set -euo pipefail

readonly SUITE=bookworm
readonly DEBIAN_URL=${E2E_DEBIAN_URL:-http://deb.debian.org/debian}
# What the guest reaches the harness's repository server as (qemu guestfwd).
readonly GUEST_REPO_URL=http://10.0.2.101
readonly DISK_SIZE=4G
readonly ROOT_LABEL=e2e-root

# In the image: boot, cloud-init, SSH, DHCP, and the tools the provisioner
# (apt, dpkg, debconf) and first-boot applier (iproute2, curl) use.
readonly IMAGE_PACKAGES=(
	linux-image-cloud-amd64 grub-pc-bin initramfs-tools
	systemd-sysv udev dbus kmod ifupdown isc-dhcp-client iproute2 netbase
	openssh-server cloud-init sudo curl ca-certificates procps less gpgv
	debconf-utils
)
# In the mirror (with their dependencies): what the bakes and first boots
# install. Keep in step with the Depends of e2e/fixture/debian/*/control.
readonly MIRROR_PACKAGES=(
	apache2 prosody lua-sec lua-unbound openssl ssl-cert uuid-runtime adduser
)

log() { printf 'e2e-base: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, loop devices, chroot)"
for c in debootstrap sfdisk losetup mkfs.ext4 qemu-img gpg dpkg-scanpackages sha256sum flock dd; do
	command -v "$c" >/dev/null 2>&1 || die "$c not found: run 'make deps' (Debian packages debootstrap, fdisk, mount, e2fsprogs, qemu-utils, gnupg, dpkg-dev)"
done

script_hash=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/packer-plugin-jitsi/e2e"
dest="$cache_root/base-$script_hash"
mkdir -p "$cache_root"

exec 9>"$cache_root/.base.lock"
flock 9
if [ -f "$dest/done" ]; then
	log "cached: $dest"
	printf '%s\n' "$dest"
	exit 0
fi

start=$SECONDS
work=$(mktemp -d "$cache_root/.base-build.XXXXXX")
mnt="$work/mnt"
loopdev=""
mounted=()

cleanup() {
	local i
	for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
		umount -l "${mounted[i]}" 2>/dev/null || true
	done
	if [ -n "$loopdev" ]; then
		losetup -d "$loopdev" 2>/dev/null || true
	fi
	if [ -f "$work/build.log" ] && [ ! -f "$dest/done" ]; then
		cp -f "$work/build.log" "$cache_root/base-failed.log" 2>/dev/null || true
		log "build log kept at $cache_root/base-failed.log"
	fi
	rm -rf "$work"
}
trap cleanup EXIT

step() { log "[$((SECONDS - start))s] $*"; }

# run CMD...: the command's output goes to the build log only.
run() {
	if ! "$@" >>"$work/build.log" 2>&1; then
		tail -n 30 "$work/build.log" >&2
		die "failed: $*"
	fi
}

in_chroot() { run chroot "$mnt" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }

bind_mount() {
	mkdir -p "$mnt$1"
	mount --bind "$1" "$mnt$1"
	mounted+=("$mnt$1")
}

step "disk: $DISK_SIZE raw, one MBR partition, ext4 labelled $ROOT_LABEL"
raw="$work/disk.raw"
truncate -s "$DISK_SIZE" "$raw"
printf 'label: dos\nstart=2048, type=83, bootable\n' | run sfdisk "$raw"
# The partition through an offset loop device: partition scanning of loop
# devices needs udev, which containers (CI) often lack.
part_offset=$((2048 * 512))
part_size=$(($(stat -c %s "$raw") - part_offset))
loopdev=$(losetup -f --show -o "$part_offset" --sizelimit "$part_size" "$raw")
run mkfs.ext4 -q -L "$ROOT_LABEL" "$loopdev"
mkdir -p "$mnt"
mount "$loopdev" "$mnt"
mounted+=("$mnt")

step "debootstrap $SUITE (minbase) from $DEBIAN_URL"
run debootstrap --variant=minbase "$SUITE" "$mnt" "$DEBIAN_URL"

bind_mount /dev
bind_mount /proc
bind_mount /sys

# apt, not debootstrap, installs the rest: debootstrap's resolver does not
# follow virtual packages (cloud-init's python3-cryptography needs one).
step "install ${#IMAGE_PACKAGES[@]} packages with apt in the chroot (about 2 min)"
printf 'deb %s %s main\n' "$DEBIAN_URL" "$SUITE" >"$mnt/etc/apt/sources.list"
printf '#!/bin/sh\nexit 101\n' >"$mnt/usr/sbin/policy-rc.d"
chmod 0755 "$mnt/usr/sbin/policy-rc.d"
in_chroot apt-get update -q
in_chroot apt-get install -y -q --no-install-recommends "${IMAGE_PACKAGES[@]}"

step "partial mirror: downloading ${MIRROR_PACKAGES[*]} and what they need"
# The chroot's apt resolves against exactly what the image has installed.
in_chroot apt-get install -y -q --no-install-recommends --download-only "${MIRROR_PACKAGES[@]}"
repo="$work/mirror/debian"
pool="$repo/pool/main"
mkdir -p "$pool" "$repo/dists/$SUITE/main/binary-amd64"
find "$mnt/var/cache/apt/archives" -maxdepth 1 -name '*.deb' -exec mv -t "$pool" {} +
ndebs=$(find "$pool" -name '*.deb' | wc -l)
((ndebs > 0)) || die "the partial mirror is empty"
in_chroot apt-get clean
rm -rf "$mnt/var/lib/apt/lists/"*

step "partial mirror: $ndebs packages, index and throwaway signing key"
(cd "$repo" && dpkg-scanpackages -m pool /dev/null 2>>"$work/build.log") >"$repo/dists/$SUITE/main/binary-amd64/Packages"
gzip -9nk "$repo/dists/$SUITE/main/binary-amd64/Packages"
{
	printf 'Origin: packer-plugin-jitsi e2e\nLabel: partial Debian mirror (test fixture)\n'
	printf 'Suite: %s\nCodename: %s\nArchitectures: amd64\nComponents: main\n' "$SUITE" "$SUITE"
	printf 'Date: %s\nSHA256:\n' "$(LC_ALL=C date -u '+%a, %d %b %Y %H:%M:%S UTC')"
	for f in main/binary-amd64/Packages main/binary-amd64/Packages.gz; do
		printf ' %s %s %s\n' "$(sha256sum <"$repo/dists/$SUITE/$f" | cut -d' ' -f1)" "$(stat -c %s "$repo/dists/$SUITE/$f")" "$f"
	done
} >"$repo/dists/$SUITE/Release"
export GNUPGHOME="$work/gnupg"
mkdir -m 0700 "$GNUPGHOME"
run gpg --batch --pinentry-mode loopback --passphrase '' \
	--quick-gen-key "packer-plugin-jitsi e2e partial Debian mirror (throwaway test key)" ed25519 sign 1y
run gpg --batch --yes --clearsign -o "$repo/dists/$SUITE/InRelease" "$repo/dists/$SUITE/Release"
run gpg --batch --yes --armor --detach-sign -o "$repo/dists/$SUITE/Release.gpg" "$repo/dists/$SUITE/Release"
gpg --batch --export >"$work/mirror-key.gpg"
unset GNUPGHOME

step "configure: apt source, cloud-init NoCloud, serial console, GRUB"
install -m 0644 "$work/mirror-key.gpg" "$mnt/usr/share/keyrings/e2e-debian-mirror.gpg"
printf 'deb [signed-by=/usr/share/keyrings/e2e-debian-mirror.gpg] %s/debian %s main\n' "$GUEST_REPO_URL" "$SUITE" \
	>"$mnt/etc/apt/sources.list"
printf '%s\n' "# packer-plugin-jitsi e2e base image: apt reaches only the harness's partial mirror." \
	'Acquire::Retries "3";' 'Acquire::http::Timeout "20";' 'APT::Install-Recommends "false";' \
	>"$mnt/etc/apt/apt.conf.d/90e2e"
# Test VMs run on throwaway overlays: dpkg need not fsync every file.
printf 'force-unsafe-io\n' >"$mnt/etc/dpkg/dpkg.cfg.d/90e2e-unsafe-io"
printf 'LABEL=%s / ext4 errors=remount-ro 0 1\n' "$ROOT_LABEL" >"$mnt/etc/fstab"
printf 'e2e-base\n' >"$mnt/etc/hostname"
cat >"$mnt/etc/cloud/cloud.cfg.d/90-e2e.cfg" <<'EOF'
# packer-plugin-jitsi e2e base image: seeds come from a NoCloud ISO only (no
# metadata service is probed), apt's sources.list is kept as built.
datasource_list: [ NoCloud, None ]
apt:
  preserve_sources_list: true
# /etc/hosts names this instance (sudo, prosody and apache2 look it up).
manage_etc_hosts: true
# The image has no generated locales; C.UTF-8 is built into glibc.
locale: false
EOF
mkdir -p "$mnt/etc/systemd/journald.conf.d"
cat >"$mnt/etc/systemd/journald.conf.d/90-e2e-console.conf" <<'EOF'
# e2e: every service's log lands in the VM's serial log on the host.
[Journal]
ForwardToConsole=yes
TTYPath=/dev/ttyS0
MaxLevelConsole=info
EOF
printf 'auto lo\niface lo inet loopback\n\nsource /etc/network/interfaces.d/*\n' >"$mnt/etc/network/interfaces"
# No apt, scrub or trim timers in a test VM: they cost boot time under TCG
# and would only try to reach the outside.
for unit in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer; do
	ln -sf /dev/null "$mnt/etc/systemd/system/$unit"
done
# Host keys are made per instance by cloud-init; the image carries none.
rm -f "$mnt"/etc/ssh/ssh_host_* "$mnt/usr/sbin/policy-rc.d"
# debootstrap copied the host's resolver; guests get theirs from DHCP.
rm -f "$mnt/etc/resolv.conf"
: >"$mnt/etc/machine-id"

# GRUB by hand, as grub-install would for a BIOS disk: boot.img in the MBR's
# code area (the partition table stays), core.img in the gap before the
# partition (boot.img's default reads it from sector 1), modules beside grub.cfg.
mkdir -p "$mnt/boot/grub/i386-pc"
cp "$mnt"/usr/lib/grub/i386-pc/*.mod "$mnt"/usr/lib/grub/i386-pc/*.lst "$mnt/boot/grub/i386-pc/"
# A small initramfs unpacks faster under TCG: only what a qemu guest needs to
# reach its root (ext4 is built into the cloud kernel; virtio is not).
sed -i 's/^MODULES=.*/MODULES=list/' "$mnt/etc/initramfs-tools/initramfs.conf"
printf '%s\n' virtio_pci virtio_blk >>"$mnt/etc/initramfs-tools/modules"
in_chroot update-initramfs -u -k all
in_chroot grub-mkimage -O i386-pc -o /boot/grub/i386-pc/core.img -p '(hd0,msdos1)/boot/grub' \
	biosdisk part_msdos ext2 normal linux search search_label serial terminal configfile echo test gzio
core_size=$(stat -c %s "$mnt/boot/grub/i386-pc/core.img")
((core_size < part_offset - 512)) || die "GRUB core.img ($core_size bytes) does not fit before the partition"
run dd if="$mnt/usr/lib/grub/i386-pc/boot.img" of="$raw" bs=440 count=1 conv=notrunc
run dd if="$mnt/boot/grub/i386-pc/core.img" of="$raw" bs=512 seek=1 conv=notrunc
cat >"$mnt/boot/grub/grub.cfg" <<EOF
# packer-plugin-jitsi e2e base image: direct, serial-only boot.
serial --unit=0 --speed=115200
terminal_input serial
terminal_output serial
set timeout=0
menuentry "Debian 12 (e2e)" {
	search --no-floppy --label $ROOT_LABEL --set=root
	linux /vmlinuz root=LABEL=$ROOT_LABEL ro console=ttyS0,115200 net.ifnames=0 quiet mitigations=off
	initrd /initrd.img
}
EOF
if [ ! -e "$mnt/vmlinuz" ] || [ ! -e "$mnt/initrd.img" ]; then
	die "the image has no /vmlinuz or /initrd.img symlink"
fi

step "convert to qcow2"
for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
	umount "${mounted[i]}"
done
mounted=()
losetup -d "$loopdev"
loopdev=""
run qemu-img convert -f raw -O qcow2 "$raw" "$work/disk.qcow2"
rm -f "$raw"

rm -rf "$dest"
mkdir -p "$dest"
mv "$work/disk.qcow2" "$work/mirror" "$work/mirror-key.gpg" "$dest/"
cp "$work/build.log" "$dest/build.log"
printf 'built %s in %ss\n' "$(date -u +%FT%TZ)" "$((SECONDS - start))" >"$dest/done"
step "done: $dest ($(du -sh "$dest" | cut -f1))"
# Older builds of this script are of no further use.
find "$cache_root" -maxdepth 1 -name 'base-*' -type d ! -name "base-$script_hash" -exec rm -rf {} +
printf '%s\n' "$dest"
