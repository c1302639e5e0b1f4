#!/usr/bin/env bash
# demo.sh BINARY DIR: the main job on the default setup. It issues a JMS and
# three bridges on the embedded registry (nothing to start), writes their
# user-data into DIR, prints the registry's node table and the plan of one
# bridge's first boot, and the one command that serves the registry (its API
# and fleet page) on 127.0.0.1 for a look.
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
first=$(find "$dir/nodes" -name '*.yaml' | sort | head -n1)
echo
echo "demo: what $(basename "$first") will do at first boot (packer-plugin-jitsi plan; secrets read ***)"
"$bin" plan "$first"

token="$dir/operator.token"
if [ ! -s "$token" ]; then
	(umask 077 && head -c 32 /dev/urandom | base64 | tr -d '/+=' >"$token")
fi
data="$XDG_DATA_HOME/packer-plugin-jitsi/registry"
# A registry node keeps its Raft address for life: serve with the one the
# embedded registry saved.
address=$(cat "$data/raft-address" 2>/dev/null || echo 127.0.0.1:9001)
echo
echo "demo: user-data in $dir (jms.yaml, nodes/*.yaml); registry in $data"
echo "demo: to look at the fleet, serve this registry on 127.0.0.1 (Ctrl-C stops it), then open http://127.0.0.1:8443/"
echo "      with the token in $token:"
echo
echo "  $bin registry serve --data-dir $data --address $address --api-address 127.0.0.1:8443 --operator-token-file $token"
