// Package fakecloud is a TEST FIXTURE: stand-ins for what the project's
// machines cannot reach — the metadata services of EC2 (IMDSv2, with its
// session token), GCE, Azure, OCI and OpenStack, the DMI files that tell a
// cloud apart, and a STUN server — each following the real one's rules as
// cloud-init, ice4j and the clouds' documentation describe them (research
// F), served on loopback only. The node agent's unit tests and the e2e tier
// (a qemu guestfwd from 169.254.169.254 to a loopback port) use them.
package fakecloud
