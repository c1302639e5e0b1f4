// Package scripts embeds the shell that runs on nodes, so the one binary can
// hand it to cloud-init (user-data) and to Packer (provisioner uploads).
package scripts

import _ "embed"

// NodeApplier is the first-boot applier installed as jitsi.Applier: it applies
// the files user-data wrote, sets the JMS's bridge account, and (re)starts the
// role's services. Idempotent.
//
//go:embed node/jitsi-node-apply
var NodeApplier []byte

// Provisioner is the bake script the Packer provisioner `jitsi` uploads and
// runs step by step on the machine being baked (see its header for the steps).
//
//go:embed node/jitsi-provision
var Provisioner []byte
