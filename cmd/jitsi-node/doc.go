// Command jitsi-node is the node agent of packer-plugin-jitsi: a static
// binary baked into every role image at /usr/local/sbin/jitsi-node, which
// turns the node's config (written by cloud-init from the user-data that
// `packer-plugin-jitsi issue` or `userdata` made) into a running JMS or
// videobridge.
//
// Usage:
//
//	jitsi-node apply [--check] [--claim-timeout 30m] [--health-timeout 3m]
//	jitsi-node drain [--timeout 60m] [--on-shutdown]
//	jitsi-node bake [--image-config FILE]
//	jitsi-node version
//
// # Files
//
// /etc/jitsi-node/node.yaml (root 0644) is the node's config, versioned
// (`version: 1`): role, JMS FQDN, nickname or autoscaling group, bridge
// format and shards, NAT mode and addresses, registry URL and CA, a JMS's
// options. /etc/jitsi-node/secrets.yaml (root 0600) holds the shard secrets
// and the registry credential. An agent refuses a config version it does
// not know ("node.yaml version 2 is newer than this agent (knows 1): bake
// the image with packer-plugin-jitsi ≥ …") and, with a node credential,
// reports the node failed. /etc/jitsi-node/image.yaml (root 0644, written
// at bake) is what the image was baked for: role, a JMS's web server (nginx
// or apache), firewall rules to add (ufw, the bridges' networks).
// /var/lib/jitsi-node keeps the agent's state: applied (what the last apply
// found: nickname, NAT mapping), failed (the last failure's reason),
// claim-key and identity (a group bridge's, root 0600), turn-secret (a
// JMS's, root 0600), drained.
//
// # apply
//
// Runs at every boot: the first through cloud-init's runcmd, later ones
// through jitsi-node.service (before cloud-final). It is idempotent: with
// nothing changed it writes nothing and restarts nothing.
//
// A bridge of an autoscaling group first claims its identity from the
// registry with its group's token: the claim carries cloud-init's instance
// id and a claim key made (and kept, root 0600) before the first attempt,
// so a retried claim gets the same node back. It retries while the registry
// is unreachable, overloaded or failing (connection errors, 429, 5xx), with
// a backoff doubling from 2 s to 30 s, for at most --claim-timeout; any
// other refusal fails at once. It never invents a name. The answer carries
// the node's own credential, kept root-only and used for every later report.
//
// Then the NAT mapping. --nat auto (the default): the cloud is told from
// DMI (/sys/class/dmi/id, /sys/hypervisor/uuid) and its metadata service is
// asked — EC2 with an IMDSv2 token, GCE, Azure, OCI, OpenStack-style for
// the rest —, 1 s to connect and 2 s per request; without a public address
// there, STUN servers are asked (the node's --stun ones, or Jitsi's
// default meet-jit-si-turnrelay.jitsi.net:443). A found address becomes
// a static mapping of the local address (the metadata's private one, or
// the route's source); ice4j's AWS harvester is on only on EC2. Nothing
// found fails with the fix: --public-ip, or --nat none. A --public-ip is
// used as given; --nat none writes no mapping and lets a private-only
// bridge pass Jitsi's health check.
//
// The bridge's files — jvb.conf, sip-communicator.properties, config, and a
// systemd drop-in running `apply --check` before every start — are written
// from the role model (packer-plugin-jitsi's userdata/jitsi, the only place
// a Jitsi path or key is spelled), atomically, owned as the package owns
// them. When one changed, jitsi-videobridge2 is restarted; the agent waits
// (--health-timeout) for http://127.0.0.1:8080/about/health and fails with
// the reason when the JMS refuses the XMPP login (not-authorized in the
// unit's journal) or the unit fails. It logs how long it took, apart from
// the bridge's own start:
//
//	jitsi-node: applied in 412ms (+ jitsi-videobridge2 start 3.1s)
//
// A JMS gets its debconf answers (on stdin), its Jitsi packages from the
// image's apt cache (with nginx, jitsi-meet-turnserver too), its own
// self-signed certificate (once) and TURN secret: made at its first boot,
// answered to debconf (jitsi-meet-prosody/turn-secret) for the install only
// and reset after, since debconf keeps string answers world-readable. The
// packages put it in prosody's vhost config, which the agent makes
// root:prosody 0640; the agent writes coturn's config (/etc/turnserver.conf,
// root:turnserver 0640) with it and coturn's own copy of the web
// certificate and key, for TURN on 3478/udp and TLS on 5349/tcp. Then the
// bridge account's password (prosodyctl passwd or adduser, on stdin; prosody
// 13 runs both through the running server's admin socket, which the agent
// waits for, at most 30 s) and its services: prosody, jicofo, the web server,
// coturn; its own bridge is stopped unless local_bridge.
//
// With the image's firewall settings, every apply then opens the role's
// ports with `ufw allow` where ufw is installed (80/tcp, 443/tcp, 3478/udp,
// 5349/tcp and 5222/tcp — from the bridges' networks only, when the image
// names them — on a JMS; 10000/udp on a bridge and a JMS running its own).
// ufw skips rules it has; the agent never enables ufw, and says so when it
// is inactive or not installed.
//
// The node then reports `active`, or `failed` with the reason, to its
// registry.
//
// # apply --check
//
// The ExecStartPre (as root) of jitsi-videobridge2: it writes the bridge's
// files again from the config and the last apply's findings, without asking
// anyone, and logs exactly what it put back — e.g. the
// org.jitsi.videobridge.xmpp.user.shard.* keys an older package's postinst
// appends on upgrade, which would override jvb.conf. It fails (and keeps
// the bridge down) only when the config itself is unusable.
//
// # drain
//
// Scale-in (run it from the autoscaler's lifecycle hook) and the ExecStop
// of jitsi-node-drain.service (so a plain shutdown drains too): reports
// `draining`, stops new conferences (POST /colibri/drain/enable, bridges
// since 2022-01), waits while /colibri/stats counts conferences; on older
// bridges it runs the package's graceful_shutdown.sh instead, bounded. All
// within --timeout (default 60m). Then the bridge leaves the brewery and
// the node reports `retired`. With --on-shutdown during a reboot, the node
// only reports `draining` and comes back `active`.
//
// # bake
//
// Run as root by the Packer provisioner once the role's packages are
// installed: removes the per-node identity the packages wrote (legacy
// xmpp.user keys, JVB_SECRET, a shard and nickname in jvb.conf, debconf's
// jitsi-videobridge/jvbsecret), checks none is left under /etc/jitsi,
// installs the image config the provisioner made (--image-config: checked,
// and for a JMS its web server must be installed and the other not), and
// installs the agent's units (jitsi-node.service enabled).
//
// Exit codes: 0 done, 1 failed, 2 bad usage. Messages go to stderr (the
// journal and cloud-init's log keep them); no secret is ever printed,
// passed on a command line or put in an error.
package main
