#!/usr/bin/env bash
# build-base-image.sh — an e2e base image and the partial mirror its guests
# install from, for one of the operating systems the plugin bakes on.
#
# Usage: e2e/scripts/build-base-image.sh [OS]     (as root: loop devices, chroot)
#   OS: ubuntu-18.04 ubuntu-22.04 ubuntu-24.04 debian-11 debian-12 debian-13
#       (default debian-12). Prints the cache directory on stdout; progress
#       goes to stderr.
# Exit: 0 built or cached; 1 failure; 2 bad usage; 4 Ubuntu's archive did not
#   answer: the line "NOT RUN: Ubuntu archive unreachable" is on stdout and
#   nothing was built (callers record the OS as not run).
#
# The cache directory, ${XDG_CACHE_HOME:-$HOME/.cache}/packer-plugin-jitsi/e2e/
# base-<OS>-<sha256 of this script and lib/partial-mirror.sh>, holds:
#   disk.qcow2        debootstrapped from the release's own archive (keys
#                     checked against the fingerprints pinned below): its
#                     kernel, GRUB on the MBR (boots by itself, as Packer's
#                     qemu builder needs), its cloud-init (NoCloud only),
#                     openssh-server, DHCP (ifupdown on Debian 11 and 12,
#                     netplan + systemd-networkd on Debian 13 and Ubuntu),
#                     journald on the serial console.
#   mirror/<distro>/  a signed, partial mirror holding what the bakes and first
#                     boots install (nginx, apache2, coturn, prosody, ...) with every
#                     dependency the image lacks, in the archive's components.
#   mirror-key.gpg    its public key (binary); the image trusts it for
#                     /etc/apt/sources.list. The private key exists only
#                     during the build and is deleted with the work dir.
#   image.env         key=value facts of the build (os-release, default user,
#                     mirror path, kernel, cloud-init, bootloader) for the harness.
#   build.log, done
#
# Why a partial mirror: guests may reach only loopback forwards. The e2e
# harness serves mirror/ on 127.0.0.1 and each guest reaches it through a qemu
# guestfwd at http://10.0.2.101/ (inside qemu's user network, restrict=on):
# no guest packet ever leaves the qemu process for another address. The host
# itself fetches the .debs from the distribution's archive here, at build time.
#
# Idempotent: a complete cache directory is reused; concurrent runs serialise
# on a lock; a failed build leaves nothing behind but its log.
set -euo pipefail

readonly DEBIAN_URL=${E2E_DEBIAN_URL:-http://deb.debian.org/debian}
readonly UBUNTU_URL=${E2E_UBUNTU_URL:-http://archive.ubuntu.com/ubuntu}
# What the guest reaches the harness's repository server as (qemu guestfwd).
readonly GUEST_REPO_URL=http://10.0.2.101
readonly DISK_SIZE=4G
readonly ROOT_LABEL=e2e-root
readonly EXIT_NOT_RUN=4

# Archive signing keys, pinned. Debian's come from the host's
# debian-archive-keyring (bookworm's holds bullseye's, bookworm's and
# trixie's); Ubuntu's from the ubuntu-keyring .deb below, fetched from
# Ubuntu's pool. Only keys with these fingerprints are trusted.
readonly DEBIAN_11_KEYS=(1F89983E0081FDE018F3CC9673A4F27B8DD47936 A4285295FC7B1A81600062A9605C66F00D6C9793)
readonly DEBIAN_12_KEYS=(B8B80B5B623EAB6AD8775C45B7C5D7D6350947F8 4D64FEC119C2029067D6E791F8D2585B8783D481)
readonly DEBIAN_13_KEYS=(04B54C3CDCA79751B16BC6B5225629DF75B188BD 41587F7DB8C774BCCF131416762F67A0B2C39DE4)
readonly UBUNTU_KEY_2012=790BC7277767219C42C86F933B4FE6ACC0B21F32 # signs bionic
readonly UBUNTU_KEY_2018=F6ECB3762474EDA9D21B7022871920D1991BC93C # signs jammy, noble
readonly DEBIAN_KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
# noble's release pocket never changes; this keyring holds both Ubuntu keys.
readonly UBUNTU_KEYRING_DEB=pool/main/u/ubuntu-keyring/ubuntu-keyring_2023.11.28.1_all.deb
readonly UBUNTU_KEYRING_SHA256=36de43b15853ccae0028e9a767613770c704833f82586f28eb262f0311adb8a8

# In every image: boot, cloud-init, SSH, and the tools the provisioner
# (apt, dpkg, debconf) and first-boot applier (iproute2, curl) use. The
# kernel and the network stack come from the OS table below.
readonly COMMON_PACKAGES=(
	grub-pc-bin initramfs-tools e2fsprogs systemd-sysv udev dbus kmod iproute2 netbase
	openssh-server cloud-init sudo curl ca-certificates procps less gpgv
	debconf-utils
)
# In the mirror (with their dependencies): what the bakes and first boots
# install. Keep in step with the Depends of e2e/fixture/debian/*/control.
# nginx or apache2 is a JMS's web server, coturn its TURN server; ufw is for
# the JMS tests' firewall option.
readonly MIRROR_PACKAGES=(
	apache2 nginx coturn prosody lua-sec lua-unbound openssl ssl-cert uuid-runtime adduser ufw
)

log() { printf 'e2e-base: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}
usage() {
	log "usage: build-base-image.sh [ubuntu-18.04|ubuntu-22.04|ubuntu-24.04|debian-11|debian-12|debian-13]"
	exit 2
}

(($# <= 1)) || usage
os=${1:-debian-12}
# The OS table.
#   extra         the network stack, and what a release names differently
#   pockets       suites besides the release's (Ubuntu: -updates, -security,
#                 as Ubuntu's own cloud images; Debian's suites are updated
#                 in place by point releases)
#   from_release  packages held at the release pocket's version. Ubuntu 18.04
#                 runs the cloud-init it shipped, 18.2 (-updates has 23.1.2):
#                 the oldest cloud-init the plugin meets, where user-data
#                 keys newer than it are silently ignored. The rest of 18.04
#                 comes from -updates: its GA systemd (237-3ubuntu10) never
#                 marks a link configured when the DHCP lease names no router
#                 (qemu's restrict=on network names none), stalling each boot
#                 2 min on systemd-networkd-wait-online; 237-3ubuntu10.57 does not.
#   skip          mirror packages the release does not have
#   jre           the Java runtime the stand-in bridge runs its JVM on (its
#                 package depends on openjdk-17-jre-headless |
#                 java17-runtime-headless)
pockets=() extra=() skip=() from_release=() jre=openjdk-17-jre-headless
case $os in
debian-11 | debian-12 | debian-13)
	distro=debian url=$DEBIAN_URL components=(main) kernel=linux-image-cloud-amd64
	network=ifupdown extra=(ifupdown isc-dhcp-client)
	case $os in
	debian-11) suite=bullseye keys=("${DEBIAN_11_KEYS[@]}") ;;
	debian-12) suite=bookworm keys=("${DEBIAN_12_KEYS[@]}") ;;
	debian-13)
		# trixie has no openjdk-17; 21 provides java17-runtime-headless.
		suite=trixie keys=("${DEBIAN_13_KEYS[@]}") jre=openjdk-21-jre-headless
		# trixie's cloud-init (25.1) asks for DHCPv6 too; ifupdown's
		# dhclient -6 then holds the boot for 5 min where no DHCPv6 server
		# answers (qemu's user network). networkd does not wait for it.
		network=netplan extra=(netplan.io)
		;;
	esac
	;;
ubuntu-18.04 | ubuntu-22.04 | ubuntu-24.04)
	distro=ubuntu url=$UBUNTU_URL components=(main universe) kernel=linux-image-virtual
	network=netplan extra=(netplan.io lsb-release)
	case $os in
	ubuntu-18.04)
		suite=bionic keys=("$UBUNTU_KEY_2012") pockets=(bionic-updates bionic-security)
		from_release=(cloud-init) skip=(lua-unbound)
		;;
	ubuntu-22.04) suite=jammy keys=("$UBUNTU_KEY_2018") pockets=(jammy-updates jammy-security) ;;
	ubuntu-24.04)
		suite=noble keys=("$UBUNTU_KEY_2018") pockets=(noble-updates noble-security)
		# systemd-resolved is its own package from 24.04 on (part of systemd before).
		extra+=(systemd-resolved)
		;;
	esac
	;;
*) usage ;;
esac
readonly os distro url suite components keys kernel network pockets extra skip from_release jre
# debootstrap's script for every Ubuntu release is "gutsy" (bionic and jammy
# are links to it) and "sid" for Debian's; Debian 12's debootstrap has no
# noble link, so the script is named here rather than linked in the system.
debootstrap_script=/usr/share/debootstrap/scripts/sid
[ "$distro" = ubuntu ] && debootstrap_script=/usr/share/debootstrap/scripts/gutsy

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, loop devices, chroot)"
for c in debootstrap sfdisk losetup mkfs.ext4 qemu-img gpg dpkg-deb dpkg-scanpackages sha256sum flock dd fstrim wget; do
	command -v "$c" >/dev/null 2>&1 || die "$c not found: run 'make deps' (Debian packages debootstrap, fdisk, mount, e2fsprogs, qemu-utils, gnupg, dpkg-dev, wget)"
done
[ -f "$debootstrap_script" ] || die "$debootstrap_script not found: install Debian's debootstrap"

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/partial-mirror.sh
. "$here/lib/partial-mirror.sh"
script_hash=$(cat "${BASH_SOURCE[0]}" "$here/lib/partial-mirror.sh" | sha256sum | cut -c1-16)
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/packer-plugin-jitsi/e2e"
dest="$cache_root/base-$os-$script_hash"
mkdir -p "$cache_root"

# One lock for every OS: builds run one at a time (they are CPU- and
# network-heavy, and the machines are small).
exec 9>"$cache_root/.base.lock"
flock 9
if [ -f "$dest/done" ]; then
	log "cached: $dest"
	printf '%s\n' "$dest"
	exit 0
fi

if [ "$distro" = ubuntu ] && ! wget -q -T 20 -t 2 -O /dev/null "$url/dists/$suite/InRelease"; then
	log "$url/dists/$suite/InRelease did not answer: $os not built"
	printf 'NOT RUN: Ubuntu archive unreachable\n'
	exit "$EXIT_NOT_RUN"
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
		cp -f "$work/build.log" "$cache_root/base-$os-failed.log" 2>/dev/null || true
		log "build log kept at $cache_root/base-$os-failed.log"
	fi
	rm -rf "$work"
}
trap cleanup EXIT

step() { log "[$((SECONDS - start))s] $os: $*"; }

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

# primary_fingerprints KEYRING: the fingerprints of its primary keys.
primary_fingerprints() {
	gpg --batch --show-keys --with-colons "$1" 2>/dev/null |
		awk -F: '$1 == "pub" { want = 1; next } $1 == "fpr" && want { print $10; want = 0 }' | sort
}

# archive_keyring OUT: a keyring holding exactly the pinned keys of this OS.
archive_keyring() {
	local out=$1 source=$DEBIAN_KEYRING
	if [ "$distro" = ubuntu ]; then
		run wget -q -T 60 -t 3 -O "$work/ubuntu-keyring.deb" "$url/$UBUNTU_KEYRING_DEB"
		[ "$(sha256sum <"$work/ubuntu-keyring.deb" | cut -d' ' -f1)" = "$UBUNTU_KEYRING_SHA256" ] ||
			die "$url/$UBUNTU_KEYRING_DEB does not have the pinned sha256 $UBUNTU_KEYRING_SHA256"
		run dpkg-deb -x "$work/ubuntu-keyring.deb" "$work/ubuntu-keyring"
		source=$work/ubuntu-keyring/usr/share/keyrings/ubuntu-archive-keyring.gpg
	fi
	[ -f "$source" ] || die "$source not found (Debian package debian-archive-keyring, or the ubuntu-keyring .deb)"
	local home="$work/archive-gnupg"
	mkdir -m 0700 "$home"
	run gpg --homedir "$home" --batch --import "$source"
	run gpg --homedir "$home" --batch --export --output "$out" "${keys[@]}"
	local want got
	want=$(printf '%s\n' "${keys[@]}" | sort)
	got=$(primary_fingerprints "$out")
	[ "$got" = "$want" ] || die "$source lacks a pinned $os archive key: want $(echo "$want" | tr '\n' ' '), found $(echo "$got" | tr '\n' ' ')"
}

step "archive keys: ${keys[*]}"
archive_keyring "$work/archive-keyring.gpg"

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

step "debootstrap $suite (minbase) from $url"
run debootstrap --variant=minbase --keyring="$work/archive-keyring.gpg" "$suite" "$mnt" "$url" "$debootstrap_script"

bind_mount /dev
bind_mount /proc
bind_mount /sys

# apt, not debootstrap, installs the rest: debootstrap's resolver does not
# follow virtual packages (cloud-init's python3-cryptography needs one). apt
# in the chroot trusts the archive keyring package debootstrap installed.
packages=("$kernel" "${extra[@]}" "${COMMON_PACKAGES[@]}")
step "install ${#packages[@]} packages with apt in the chroot (2-4 min)"
for s in "$suite" "${pockets[@]}"; do
	printf 'deb %s %s %s\n' "$url" "$s" "${components[*]}"
done >"$mnt/etc/apt/sources.list"
printf '#!/bin/sh\nexit 101\n' >"$mnt/usr/sbin/policy-rc.d"
chmod 0755 "$mnt/usr/sbin/policy-rc.d"
pin="$mnt/etc/apt/preferences.d/90e2e-from-release"
for p in "${from_release[@]}"; do
	printf 'Package: %s\nPin: release a=%s\nPin-Priority: 1001\n\n' "$p" "$suite"
done >"$pin"
in_chroot apt-get update -q
in_chroot apt-get dist-upgrade -y -q --no-install-recommends
in_chroot apt-get install -y -q --no-install-recommends "${packages[@]}"
for p in "${from_release[@]}"; do
	[ "$(chroot "$mnt" apt-cache policy "$p" | awk '/Installed:/ { print $2 }')" = \
		"$(chroot "$mnt" apt-cache madison "$p" | awk -v s="$suite/" '$0 ~ " " s { print $3; exit }')" ] ||
		die "$p is not at $suite's release version"
done
# Guests see only the mirror, which holds these versions alone.
rm -f "$pin"

mirror_packages=("$jre")
for p in "${MIRROR_PACKAGES[@]}"; do
	[[ " ${skip[*]} " == *" $p "* ]] || mirror_packages+=("$p")
done
step "partial mirror: downloading ${mirror_packages[*]} and what they need${skip[*]:+ (${skip[*]}: not in $suite)}"
# The chroot's apt resolves against exactly what the image has installed.
in_chroot apt-get install -y -q --no-install-recommends --download-only "${mirror_packages[@]}"
# Each .deb goes where the archive keeps it, so the mirror has the
# archive's components (Ubuntu's prosody is in universe).
ndebs=$(mirror_pool "$mnt/var/cache/apt/archives" "$mnt/var/lib/apt/lists" "$work/mirror/$distro" "${components[@]}")
in_chroot apt-get clean
rm -rf "$mnt/var/lib/apt/lists/"*
step "partial mirror: $ndebs packages, index and throwaway signing key"
mirror_publish "$work/mirror/$distro" "$suite" "partial $distro mirror" "$work/mirror-key.gpg" "${components[@]}"

step "configure: apt source, cloud-init NoCloud, $network DHCP, serial console"
keyring=/usr/share/keyrings/e2e-$distro-mirror.gpg
install -m 0644 "$work/mirror-key.gpg" "$mnt$keyring"
printf 'deb [signed-by=%s] %s/%s %s %s\n' "$keyring" "$GUEST_REPO_URL" "$distro" "$suite" "${components[*]}" \
	>"$mnt/etc/apt/sources.list"
rm -f "$mnt"/etc/apt/sources.list.d/*.list "$mnt"/etc/apt/sources.list.d/*.sources
printf '%s\n' "# packer-plugin-jitsi e2e base image: apt reaches only the harness's partial mirror." \
	'Acquire::Retries "3";' 'Acquire::http::Timeout "20";' 'APT::Install-Recommends "false";' \
	>"$mnt/etc/apt/apt.conf.d/90e2e"
# Test VMs run on throwaway overlays: dpkg need not fsync every file.
printf 'force-unsafe-io\n' >"$mnt/etc/dpkg/dpkg.cfg.d/90e2e-unsafe-io"
printf 'LABEL=%s / ext4 errors=remount-ro 0 1\n' "$ROOT_LABEL" >"$mnt/etc/fstab"
printf 'e2e-base\n' >"$mnt/etc/hostname"
# 99-: read after Ubuntu's 90_dpkg.cfg, whose datasource_list names every cloud.
cat >"$mnt/etc/cloud/cloud.cfg.d/99-e2e.cfg" <<'EOF'
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
case $network in
ifupdown)
	# cloud-init writes the DHCP stanza into interfaces.d at boot.
	printf 'auto lo\niface lo inet loopback\n\nsource /etc/network/interfaces.d/*\n' >"$mnt/etc/network/interfaces"
	;;
netplan)
	# cloud-init writes /etc/netplan/50-cloud-init.yaml before the network
	# starts; networkd must be in the first boot's transaction to apply it.
	in_chroot systemctl enable systemd-networkd.service
	;;
esac
# No apt, scrub, trim or motd timers in a test VM: they cost boot time under
# TCG and would only try to reach the outside.
for unit in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer motd-news.timer; do
	ln -sf /dev/null "$mnt/etc/systemd/system/$unit"
done
# Host keys are made per instance by cloud-init; the image carries none.
rm -f "$mnt"/etc/ssh/ssh_host_* "$mnt/usr/sbin/policy-rc.d"
# debootstrap copied the host's resolver; guests get theirs from DHCP (a
# systemd-resolved stub link stays).
[ -L "$mnt/etc/resolv.conf" ] || rm -f "$mnt/etc/resolv.conf"
: >"$mnt/etc/machine-id"

step "bootloader: GRUB on the MBR, serial console"
# GRUB by hand, as grub-install would for a BIOS disk: boot.img in the MBR's
# code area (the partition table stays), core.img in the gap before the
# partition (boot.img's default reads it from sector 1), modules beside grub.cfg.
mkdir -p "$mnt/boot/grub/i386-pc"
cp "$mnt"/usr/lib/grub/i386-pc/*.mod "$mnt"/usr/lib/grub/i386-pc/*.lst "$mnt/boot/grub/i386-pc/"
# A small initramfs unpacks faster under TCG: only what a qemu guest needs to
# reach its root (ext4 is built into these kernels; virtio may not be).
sed -i 's/^MODULES=.*/MODULES=list/' "$mnt/etc/initramfs-tools/initramfs.conf"
printf '%s\n' virtio_pci virtio_blk >>"$mnt/etc/initramfs-tools/modules"
in_chroot update-initramfs -u -k all
in_chroot grub-mkimage -O i386-pc -o /boot/grub/i386-pc/core.img -p '(hd0,msdos1)/boot/grub' \
	biosdisk part_msdos ext2 normal linux search search_label serial terminal configfile echo test gzio
core_size=$(stat -c %s "$mnt/boot/grub/i386-pc/core.img")
((core_size < part_offset - 512)) || die "GRUB core.img ($core_size bytes) does not fit before the partition"
run dd if="$mnt/usr/lib/grub/i386-pc/boot.img" of="$raw" bs=440 count=1 conv=notrunc
run dd if="$mnt/boot/grub/i386-pc/core.img" of="$raw" bs=512 seek=1 conv=notrunc
# The kernel's stable links: / on Debian, /boot on newer Ubuntu.
vmlinuz="" initrd=""
for d in "" /boot; do
	if [ -z "$vmlinuz" ] && [ -e "$mnt$d/vmlinuz" ] && [ -e "$mnt$d/initrd.img" ]; then
		vmlinuz=$d/vmlinuz initrd=$d/initrd.img
	fi
done
[ -n "$vmlinuz" ] || die "the image has no /vmlinuz and /initrd.img links (nor in /boot)"
# shellcheck disable=SC1091 # the image's os-release, read in a subshell.
pretty=$(. "$mnt/etc/os-release" && printf '%s' "$PRETTY_NAME")
cat >"$mnt/boot/grub/grub.cfg" <<EOF
# packer-plugin-jitsi e2e base image: direct, serial-only boot.
serial --unit=0 --speed=115200
terminal_input serial
terminal_output serial
set timeout=0
menuentry "$pretty (e2e)" {
	search --no-floppy --label $ROOT_LABEL --set=root
	linux $vmlinuz root=LABEL=$ROOT_LABEL ro console=ttyS0,115200 net.ifnames=0 quiet mitigations=off
	initrd $initrd
}
EOF

step "record the image's facts (image.env)"
kernels=("$mnt"/lib/modules/*)
((${#kernels[@]} == 1)) || die "expected one kernel in /lib/modules, found ${#kernels[@]}"
# shellcheck disable=SC2016 # ${Version} is dpkg-query's format, not the shell's.
version_of() { chroot "$mnt" dpkg-query -W -f '${Version}' "$1"; }
# shellcheck disable=SC1091,SC2153 # the image's os-release defines ID, VERSION_ID.
os_release=$(. "$mnt/etc/os-release" && printf '%s %s %s' "$ID" "$VERSION_ID" "${VERSION_CODENAME:-}")
read -r id version_id codename <<<"$os_release"
# The user cloud-init makes by default (the harness logs in as it).
default_user=$(awk '/^ *default_user:/ { d = 1; next } d && /^ *name:/ { print $2; exit }' "$mnt/etc/cloud/cloud.cfg")
{
	printf 'os=%s\nid=%s\nversion_id=%s\ncodename=%s\nsuite=%s\n' "$os" "$id" "$version_id" "$codename" "$suite"
	printf 'default_user=%s\nmirror=%s\ncomponents=%s\nnetwork=%s\n' "$default_user" "$distro" "${components[*]}" "$network"
	printf 'kernel=%s\nkernel_package=%s\n' "$(basename "${kernels[0]}")" "$kernel $(version_of "$kernel")"
	printf 'cloud_init=%s\nbootloader=GRUB %s (i386-pc, MBR)\n' "$(version_of cloud-init)" "$(version_of grub-pc-bin)"
} >"$work/image.env"
# The harness reads it as key=value lines: no value may hold a newline or a
# character a shell or YAML would treat specially.
if grep -qv '^[a-z_]*=[A-Za-z0-9 .:+~()/,_-]*$' "$work/image.env"; then
	die "unexpected characters in image.env: $(cat "$work/image.env")"
fi
[ "$id $version_id" = "${os%%-*} ${os#*-}" ] || die "/etc/os-release says $id $version_id, not $os"
[ -n "$default_user" ] || die "no default_user in the image's /etc/cloud/cloud.cfg"

step "convert to qcow2"
# Give the blocks of deleted files (the mirror's .debs, apt's lists) back to
# the raw file as holes, so the qcow2 does not carry them (where the loop
# device's backing filesystem can punch holes; else the image is just larger).
fstrim "$mnt" >>"$work/build.log" 2>&1 || log "fstrim failed: the qcow2 keeps deleted files' blocks"
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
mv "$work/disk.qcow2" "$work/mirror" "$work/mirror-key.gpg" "$work/image.env" "$dest/"
cp "$work/build.log" "$dest/build.log"
printf 'built %s in %ss\n' "$(date -u +%FT%TZ)" "$((SECONDS - start))" >"$dest/done"
step "done: $dest ($(du -sh "$dest" | cut -f1); disk.qcow2 $(du -h "$dest/disk.qcow2" | cut -f1))"
# This OS's older builds are of no further use. Other OSes' entries, and the
# base-<hash> of the single-OS script, may back another checkout's running VMs.
find "$cache_root" -maxdepth 1 -type d -name "base-$os-*" ! -name "base-$os-$script_hash" -exec rm -rf {} +
printf '%s\n' "$dest"
