#!/usr/bin/env bash
# demo.sh BINARY DIR: the main job on the default setup. It issues a JMS and
# three bridges on the embedded registry (nothing to start), writes their
# user-data into DIR, and prints the registry's node table.
#
# The demo keeps its registry in DIR (XDG_DATA_HOME=DIR/data, the embedded
# default under it) and starts it afresh on every run, so it is repeatable.
set -euo pipefail

bin=${1:?usage: demo.sh BINARY DIR}
dir=${2:?usage: demo.sh BINARY DIR}
fqdn=meet.example.org

mkdir -p "$dir"
chmod 700 "$dir"
rm -rf "$dir/data" "$dir/nodes"
export XDG_DATA_HOME="$dir/data"

secret="$dir/jvb.secret"
if [ ! -s "$secret" ]; then
	# A fresh random secret, kept for re-runs.
	(umask 077 && head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$secret")
fi

echo "demo: issuing the JMS $fqdn"
"$bin" issue --role jms --jms-fqdn "$fqdn" --secret-file "$secret" --out "$dir/jms.yaml"
echo "demo: issuing three bridges (nicknames picked by the registry)"
"$bin" issue --role jvb --jms-fqdn "$fqdn" --secret-file "$secret" --count 3 --out-dir "$dir/nodes"
echo
"$bin" nodes --shard "$fqdn"
echo
echo "demo: user-data in $dir (jms.yaml, nodes/*.yaml); registry in $XDG_DATA_HOME/packer-plugin-jitsi/registry"
