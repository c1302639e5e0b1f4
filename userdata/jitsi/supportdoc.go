package jitsi

import (
	"fmt"
	"strings"
)

// SupportMatrix is the support matrix of README.md and the provisioner's
// docs, in Markdown, from SupportedOS and RetiredOS: per release, whether
// each Jitsi generation installs (the provisioner refuses what does not,
// before uploading anything) and which tier boots it.
func SupportMatrix() string {
	var b strings.Builder
	b.WriteString("| Release | current Jitsi (jitsi-videobridge2 " + CurrentFrom + "+, the repository's newest), modern format |" +
		" 2020-era Jitsi (2.1, pinned in `versions`), legacy format | own prosody | notes |\n")
	b.WriteString("| --- | --- | --- | --- | --- |\n")
	lowProsody := false
	for _, o := range SupportedOS {
		prosody := o.Prosody
		if major, minor, ok := majorMinor(o.Prosody); ok && major == 0 && minor < 12 && o.Runs(Current) {
			prosody += " ¹"
			lowProsody = true
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", releaseName(o), supportCell(o, Current), supportCell(o, Legacy), prosody, o.Note)
	}
	for _, r := range RetiredOS {
		fmt.Fprintf(&b, "| %s | refused | refused | — | no longer baked: %s |\n", releaseName(r.OS), r.Why)
	}
	b.WriteString("\n")
	if lowProsody {
		b.WriteString("¹ A current JMS needs prosody 0.12 or newer: on these releases the base image must carry a newer " +
			"prosody's repository (prosody.im's packages, or Debian's backports), or the install step fails; the " +
			"provisioner says so when it detects the release. Bridges do not use prosody.\n\n")
	}
	b.WriteString("**tested** names the tier that boots images baked with the plugin (e2e/README.md); *untested*: the " +
		"packages install there (their dependencies are in the release), but no test has booted it; *refused*: the " +
		"provisioner stops right after detecting the release, before uploading anything, and says what to pin or " +
		"which release to bake instead. A current bridge also reads the legacy format (Jitsi's precedence rules, " +
		"checked by the JVM tier with Jitsi's own libraries) but is not booted with it; a 2020-era bridge with the " +
		"modern format is untested.\n")
	return b.String()
}

func releaseName(o OS) string {
	name := strings.ToUpper(o.ID[:1]) + o.ID[1:]
	return fmt.Sprintf("%s %s (%s)", name, o.VersionID, o.Codename)
}

func supportCell(o OS, g Generation) string {
	switch {
	case !o.Runs(g):
		if g == Current {
			return "refused: not built for it (OpenJDK 17/21, prosody 0.12)"
		}
		return "refused: no OpenJDK 8 or 11 package"
	case o.Tested[g] != "":
		return "**tested**: " + o.Tested[g]
	}
	return "*untested*"
}
