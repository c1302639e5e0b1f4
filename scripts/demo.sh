#!/usr/bin/env bash
# demo.sh BINARY DIR: the main job on the default setup — user-data for an
# example JMS and two bridges, written into DIR.
set -euo pipefail

bin=${1:?usage: demo.sh BINARY DIR}
dir=${2:?usage: demo.sh BINARY DIR}
fqdn=meet.example.org

mkdir -p "$dir"
chmod 700 "$dir"
secret="$dir/jvb.secret"
if [ ! -s "$secret" ]; then
	# A fresh random secret, kept for re-runs (the demo is idempotent).
	(umask 077 && head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$secret")
fi

echo "demo: JMS $fqdn"
"$bin" userdata --role jms --jms-fqdn "$fqdn" --secret-file "$secret" --out "$dir/jms.yaml"
for nick in jvb-001 jvb-002; do
	echo "demo: bridge $nick"
	"$bin" userdata --role jvb --jms-fqdn "$fqdn" --secret-file "$secret" --nickname "$nick" --out "$dir/$nick.yaml"
done
echo "demo: user-data written to $dir:"
ls -l "$dir"
