// Package nat finds the public address a videobridge behind a cloud's 1:1
// NAT must advertise, and the local address it maps to.
//
// Discover first tells the cloud from cheap local facts (DMI files under
// /sys/class/dmi/id, /sys/hypervisor/uuid — what cloud-init's ds-identify
// reads), then asks that cloud's metadata service with short bounded
// timeouts:
//
//   - EC2: IMDSv2 (a PUT for a session token, then GETs with it);
//   - GCE: computeMetadata/v1 with Metadata-Flavor: Google;
//   - Azure: the instance metadata with Metadata: true (a Standard-SKU public
//     IP is not shown there: "" — STUN then);
//   - OCI: /opc/v2 with its bearer header (its metadata has no public IP:
//     STUN then);
//   - OpenStack and anything else: the EC2-compatible paths without a token.
//
// When the metadata knows no public address it asks STUN servers (RFC 5389
// Binding requests over UDP, the client is in this package). The local
// address is the metadata's private address, else the source address of the
// route to the STUN server or, without traffic, of the default route. A
// public address must be one jitsi-videobridge's health check counts as
// valid (not private, link-local or loopback).
package nat
