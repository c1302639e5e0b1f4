package jitsi

import (
	"bytes"
	"regexp"
)

// What the jitsi-videobridge2 package writes for one node at install time
// (the shard, its secret, a random nickname), which a baked image must not
// carry: every clone would share it.

// legacyIdentityLine matches a legacy shard key or the legacy secret.
var legacyIdentityLine = regexp.MustCompile(`^\s*(` + regexp.QuoteMeta(legacyXMPPPrefix) + `|(export\s+)?` + JVBSecretVar + `=)`)

// jvbConfIdentity matches what makes a jvb.conf carry an XMPP identity.
var jvbConfIdentity = regexp.MustCompile(`(?i)xmpp-client|muc_nickname|password`)

// ScrubbedJVBConf is the jvb.conf a baked image keeps: no shard.
var ScrubbedJVBConf = []byte("# Baked by packer-plugin-jitsi with no XMPP shard: the jitsi-node agent writes this file at boot.\nvideobridge {\n}\n")

// ScrubIdentity returns content without the per-node identity the package
// left in the file at path (one of the bridge's config files), and whether
// anything was removed.
func ScrubIdentity(path string, content []byte) ([]byte, bool) {
	switch path {
	case JVBConf:
		if jvbConfIdentity.Match(content) {
			return append([]byte(nil), ScrubbedJVBConf...), true
		}
		return content, false
	case JVBProperties, JVBShellConfig:
		var out []byte
		removed := false
		for _, line := range bytes.SplitAfter(content, []byte("\n")) {
			if legacyIdentityLine.Match(line) {
				removed = true
				continue
			}
			out = append(out, line...)
		}
		return out, removed
	}
	return content, false
}

// HasIdentity reports whether content (of a file under /etc/jitsi) still
// holds a per-node identity.
func HasIdentity(content []byte) bool {
	for _, line := range bytes.Split(content, []byte("\n")) {
		if legacyIdentityLine.Match(line) || bytes.Contains(bytes.ToLower(line), []byte("muc_nickname")) {
			return true
		}
	}
	return false
}

// IdentityFiles are the bridge's files ScrubIdentity cleans.
var IdentityFiles = []string{JVBConf, JVBProperties, JVBShellConfig}

// JitsiConfigDir is where every Jitsi package keeps its configuration.
const JitsiConfigDir = "/etc/jitsi"
