// Package scripts embeds the shell that runs on machines being baked, so the
// one binary can hand it to Packer (provisioner uploads). First boot is the
// node agent's (cmd/jitsi-node), not shell's.
package scripts

import _ "embed"

// Provisioner is the bake script the Packer provisioner `jitsi` uploads and
// runs step by step on the machine being baked (see its header for the steps).
//
//go:embed node/jitsi-provision
var Provisioner []byte
