package jitsi

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// Refusals of combinations that cannot install: each is refused before
// anything is uploaded, naming `versions` and the fix.

// TestProvisionRefusesCurrentJitsiOnUbuntu1804: only 2020-era packages
// install on 18.04; what would install current ones (nothing pinned, or a
// 2.3+ pin) stops right after the OS is detected.
func TestProvisionRefusesCurrentJitsiOnUbuntu1804(t *testing.T) {
	cases := map[string]struct {
		role     string
		versions map[string]string
		want     []string
	}{
		"jvb, nothing pinned": {"jvb", nil, []string{"versions pins no jitsi-videobridge2"}},
		"jvb, 2.3 pinned":     {"jvb", map[string]string{"jitsi-videobridge2": "2.3-160-g97a1f15f-1"}, []string{"jitsi-videobridge2 2.3-160-g97a1f15f-1 is current Jitsi"}},
		"jms, nothing pinned": {"jms", nil, []string{"a JMS needs prosody 0.12+, ubuntu 18.04 has 0.10", "with jitsi-meet and the rest of its release"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			raw := with(minimal(tc.role), "manifest_file", filepath.Join(t.TempDir(), "m.json"))
			if tc.versions != nil {
				raw = with(raw, "versions", tc.versions)
			}
			err := provisionRefused(t, prepared(t, raw), "ubuntu 18.04")
			for _, w := range append(tc.want, "versions: ubuntu 18.04 runs only 2020-era Jitsi",
				"pin a 2020-era version in `versions`, e.g. jitsi-videobridge2 = \"2.1-…\"", "or bake a newer OS") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestProvisionRefusesLegacyJitsiWithoutJava11: 2020-era bridges pre-depend
// on OpenJDK 8 or 11, which Debian 12 and 13 lack.
func TestProvisionRefusesLegacyJitsiWithoutJava11(t *testing.T) {
	for _, osName := range []string{"debian 12", "debian 13"} {
		t.Run(osName, func(t *testing.T) {
			raw := with(minimal("jvb"), "manifest_file", filepath.Join(t.TempDir(), "m.json"), "versions", legacyVersions("jvb"))
			err := provisionRefused(t, prepared(t, raw), osName)
			for _, w := range []string{"versions: " + osName + " cannot install 2020-era Jitsi",
				"jitsi-videobridge2 2.1-681-g3544ed05-1 pre-depends on the openjdk-8-jre-headless or openjdk-11-jre-headless package",
				"leave jitsi-videobridge2 out of `versions` (or pin 2.3 or later)",
				"or bake on ubuntu 18.04, ubuntu 20.04, ubuntu 22.04, ubuntu 24.04, debian 11"} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// provisionRefused runs Provision on a machine of osName and returns its
// error, failing the test if there is none or if anything ran after the OS
// was read (no upload, no staging directory).
func provisionRefused(t *testing.T, p *Provisioner, osName string) error {
	t.Helper()
	comm := newRecordingComm(machine(osReleases[osName], jvbVersions))
	ui, _ := testUI()
	err := p.Provision(context.Background(), ui, comm, nil)
	if err == nil {
		t.Fatalf("Provision on %s succeeded", osName)
	}
	if want := []string{"run: " + OSReleaseCommand}; !reflect.DeepEqual(comm.events, want) {
		t.Errorf("ran %v after the refusal, want only %v", comm.events, want)
	}
	return err
}

// TestProvisionAcceptsWhatTheReleaseRuns: the same pins go through where
// they install (2020-era on 18.04 and Debian 11, current on Debian 12).
func TestProvisionAcceptsWhatTheReleaseRuns(t *testing.T) {
	for osName, legacy := range map[string]bool{"ubuntu 18.04": true, "debian 11": true, "ubuntu 24.04": true, "debian 11 current": false, "debian 12": false} {
		t.Run(osName, func(t *testing.T) {
			raw := with(minimal("jvb"), "manifest_file", filepath.Join(t.TempDir(), "m.json"))
			if legacy {
				raw = with(raw, "versions", legacyVersions("jvb"))
			}
			comm := newRecordingComm(machine(osReleases[strings.TrimSuffix(osName, " current")], jvbVersions))
			ui, _ := testUI()
			if err := prepared(t, raw).Provision(context.Background(), ui, comm, nil); err != nil {
				t.Fatalf("Provision: %v", err)
			}
		})
	}
}

// TestProvisionProsodyNote: a current JMS on a release whose own prosody is
// older than 0.12 is baked (the base image may carry prosody's repository)
// with a note saying what the install needs.
func TestProvisionProsodyNote(t *testing.T) {
	for osName, note := range map[string]bool{"ubuntu 22.04": true, "debian 11": true, "ubuntu 24.04": false, "debian 12": false} {
		t.Run(osName, func(t *testing.T) {
			raw := with(minimal("jms"), "manifest_file", filepath.Join(t.TempDir(), "m.json"))
			comm := newRecordingComm(machine(osReleases[osName], jmsVersions))
			ui, out := testUI()
			if err := prepared(t, raw).Provision(context.Background(), ui, comm, nil); err != nil {
				t.Fatalf("Provision: %v", err)
			}
			// Other tests register short secrets with Packer's global log
			// filter (a "b" among them): look for words without them.
			want := "own prosody is 0.11"
			if got := strings.Contains(out.String(), want); got != note {
				t.Errorf("UI has %q: %v, want %v:\n%s", want, got, note, out)
			}
		})
	}
}

// TestPrepareRefusesLegacyBridgeUnderNewestJMS: a JMS image that pins a
// 2020-era bridge but not jitsi-meet cannot install whatever the release:
// the newest jitsi-meet depends on its own, current, bridge version.
func TestPrepareRefusesLegacyBridgeUnderNewestJMS(t *testing.T) {
	var p Provisioner
	err := p.Prepare(with(minimal("jms"), "versions", map[string]string{"jitsi-videobridge2": "2.1-681-g3544ed05-1"}))
	for _, w := range []string{`versions: "jitsi-videobridge2" = "2.1-681-g3544ed05-1" is 2020-era, but jitsi-meet is not pinned`,
		"pin jitsi-meet and the rest of its release too", "or unpin jitsi-videobridge2"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Prepare = %v, want an error with %q", err, w)
		}
	}
	// The whole 2020-era release pinned, or a bridge image: accepted.
	if err := new(Provisioner).Prepare(with(minimal("jms"), "versions", legacyVersions("jms"))); err != nil {
		t.Errorf("Prepare with a whole 2020-era JMS release: %v", err)
	}
	if err := new(Provisioner).Prepare(with(minimal("jvb"), "versions", legacyVersions("jvb"))); err != nil {
		t.Errorf("Prepare of a 2020-era bridge image: %v", err)
	}
}
