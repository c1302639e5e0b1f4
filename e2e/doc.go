// Package e2e holds packer-plugin-jitsi's end-to-end tests (see README.md).
//
// Host tier (always run by `go test ./e2e/...`): the stand-in videobridge, a
// TEST FIXTURE under fixture/, against Debian's real prosody started by the
// test on a loopback port.
//
// VM tier (E2E_VM=1, run by `make e2e`): Debian 12 guests under qemu TCG,
// reached only through qemu forwards bound to 127.0.0.1.
package e2e
