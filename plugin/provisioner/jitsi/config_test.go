package jitsi

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
)

const fixtureKey = "test-fixtures/repo-key.asc"

func minimal(role string) map[string]interface{} {
	return map[string]interface{}{"role": role, "apt_key_file": fixtureKey, "agent_file": testAgent}
}

func with(base map[string]interface{}, kv ...interface{}) map[string]interface{} {
	out := map[string]interface{}{}
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
			continue
		}
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func TestPrepareDefaults(t *testing.T) {
	var c Config
	if err := c.Prepare(map[string]interface{}{"role": "jvb", "packer_build_name": "qemu.jvb/x"}); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	checks := map[string][2]string{
		"apt_repo_url":      {c.AptRepoURL, "https://download.jitsi.org"},
		"apt_repo_dist":     {c.AptRepoDist, "stable/"},
		"apt_key_url":       {c.AptKeyURL, "https://download.jitsi.org/jitsi-key.gpg.key"},
		"staging_directory": {c.StagingDir, "/tmp/packer-jitsi"},
		"manifest_file":     {c.ManifestFile, "jitsi-manifest-qemu.jvb_x.json"},
	}
	for name, got := range checks {
		if got[0] != got[1] {
			t.Errorf("%s default = %q, want %q", name, got[0], got[1])
		}
	}
}

func TestPrepareValid(t *testing.T) {
	cases := map[string]map[string]interface{}{
		"jvb":               minimal("jvb"),
		"jms":               minimal("jms"),
		"binary key":        with(minimal("jvb"), "apt_key_file", "test-fixtures/repo-key.gpg"),
		"key url":           with(minimal("jvb"), "apt_key_file", nil, "apt_key_url", "http://127.0.0.1:1/key.asc"),
		"file repo":         with(minimal("jvb"), "apt_repo_url", "file:///srv/jitsi-repo", "apt_repo_dist", "./"),
		"suite+component":   with(minimal("jvb"), "apt_repo_dist", "bookworm main"),
		"credentials":       with(minimal("jvb"), "apt_username", "ci", "apt_password", "pa$$w0rd'\"`"),
		"jvb version":       with(minimal("jvb"), "versions", map[string]string{"jitsi-videobridge2": "2.3-160-g97a1f15f-1"}),
		"jms versions":      with(minimal("jms"), "versions", map[string]string{"jitsi-meet": "2.0.9823-1", "jicofo": "1:1.0-1100-1"}),
		"staging directory": with(minimal("jms"), "staging_directory", "/var/tmp/bake/"),
		"jms apache":        with(minimal("jms"), "web_server", "apache"),
		"jms nginx turn":    with(minimal("jms"), "web_server", "nginx", "versions", map[string]string{"jitsi-meet-turnserver": "2.0.9823-1"}),
		"jms ufw":           with(minimal("jms"), "firewall", "ufw", "firewall_bridge_networks", []string{"10.0.0.0/16", "2001:db8::/32"}),
		"jvb ufw":           with(minimal("jvb"), "firewall", "ufw"),
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			var c Config
			if err := c.Prepare(raw); err != nil {
				t.Fatalf("Prepare: %v", err)
			}
		})
	}
}

// TestPrepareErrors: each bad option yields its own message, led by the
// attribute name, and every message of a bad config comes at once.
func TestPrepareErrors(t *testing.T) {
	dir := t.TempDir()
	private := filepath.Join(dir, "private.asc")
	// An armoured private-key block (contents irrelevant: the header decides).
	writeFile(t, private, "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQ==\n-----END PGP PRIVATE KEY BLOCK-----\n")
	junk := filepath.Join(dir, "junk.key")
	writeFile(t, junk, "not a key\n")
	damaged := filepath.Join(dir, "damaged.asc")
	good, _ := os.ReadFile(fixtureKey)
	writeFile(t, damaged, strings.Replace(string(good), "m", "n", 1))

	cases := []struct {
		name string
		raw  map[string]interface{}
		want []string
	}{
		{"role missing", with(minimal("jvb"), "role", nil), []string{`role: required; set role = "jvb" or role = "jms"`}},
		{"role unknown", minimal("bridge"), []string{`role: "bridge" is not a role; use "jvb" or "jms"`}},
		{"repo url relative", with(minimal("jvb"), "apt_repo_url", "download.jitsi.org"), []string{"apt_repo_url: not an absolute URL"}},
		{"repo url scheme", with(minimal("jvb"), "apt_repo_url", "ftp://mirror.example/jitsi"), []string{`apt_repo_url: scheme "ftp" is not supported`}},
		{"repo url credentials", with(minimal("jvb"), "apt_repo_url", "https://u:hunter2@repo.example/"), []string{"apt_repo_url: must not carry credentials; use apt_username and apt_password"}},
		{"repo dist words", with(minimal("jvb"), "apt_repo_dist", "stable/ [arch=amd64]"), []string{`apt_repo_dist: "[arch=amd64]" is not a suite`}},
		{"repo dist newline", with(minimal("jvb"), "apt_repo_dist", "stable/\ndeb http://evil/ x"), []string{"apt_repo_dist: must be one line"}},
		{"key both", with(minimal("jvb"), "apt_key_url", "https://k.example/key"), []string{"apt_key_file, apt_key_url: set only one of them"}},
		{"key missing", with(minimal("jvb"), "apt_key_file", filepath.Join(dir, "nope.asc")), []string{"apt_key_file: cannot read", "no such file or directory"}},
		{"key private", with(minimal("jvb"), "apt_key_file", private), []string{"apt_key_file:", "is a PGP private key block, not the repository's public key"}},
		{"key junk", with(minimal("jvb"), "apt_key_file", junk), []string{"apt_key_file:", "is not an OpenPGP key"}},
		{"key damaged", with(minimal("jvb"), "apt_key_file", damaged), []string{"apt_key_file:", "checksum does not match"}},
		{"key url scheme", with(minimal("jvb"), "apt_key_file", nil, "apt_key_url", "file:///etc/key"), []string{`apt_key_url: "file:///etc/key" is not an http(s) URL`}},
		{"password alone", with(minimal("jvb"), "apt_password", "s3cret"), []string{"apt_username, apt_password: set both or neither"}},
		{"password space", with(minimal("jvb"), "apt_username", "ci", "apt_password", "two words"), []string{"apt_password: must not contain white space"}},
		{"username space", with(minimal("jvb"), "apt_username", "c i", "apt_password", "x"), []string{"apt_username: must not contain white space"}},
		{"credentials file repo", with(minimal("jvb"), "apt_repo_url", "file:///srv/r", "apt_username", "a", "apt_password", "b"), []string{"apt_username, apt_password: a file:// repository takes no credentials"}},
		{"version unknown package", with(minimal("jvb"), "versions", map[string]string{"nginx": "1.0-1"}), []string{`versions: "nginx" is not a Jitsi package`}},
		{"version wrong role", with(minimal("jvb"), "versions", map[string]string{"jicofo": "1.0-1"}), []string{`versions: "jicofo" is not part of a jvb image, which has jitsi-videobridge2`}},
		{"version syntax", with(minimal("jvb"), "versions", map[string]string{"jitsi-videobridge2": "latest"}), []string{`versions: "jitsi-videobridge2": "latest" is not a Debian version`}},
		{"staging relative", with(minimal("jvb"), "staging_directory", "tmp/x"), []string{`staging_directory: "tmp/x" must be an absolute path`}},
		{"staging injection", with(minimal("jvb"), "staging_directory", "/tmp/x;reboot"), []string{`staging_directory: "/tmp/x;reboot"`}},
		{"staging dotdot", with(minimal("jvb"), "staging_directory", "/tmp/../etc"), []string{"staging_directory:", "(no '..')"}},
		{"manifest dir", with(minimal("jvb"), "manifest_file", dir), []string{"manifest_file:", "is a directory"}},
		{"web server unknown", with(minimal("jms"), "web_server", "lighttpd"), []string{`web_server: "lighttpd" is not a web server; use one of nginx, apache`}},
		{"web server on jvb", with(minimal("jvb"), "web_server", "nginx"), []string{"web_server: only a jms image has a web server; remove it from this jvb build"}},
		{"turnserver with apache", with(minimal("jms"), "web_server", "apache", "versions", map[string]string{"jitsi-meet-turnserver": "2.0.9823-1"}),
			[]string{`versions: "jitsi-meet-turnserver" is not part of a jms image with apache`}},
		{"firewall unknown", with(minimal("jms"), "firewall", "nftables"), []string{`firewall: "nftables" is not supported; use "ufw" or leave it unset`}},
		{"networks without firewall", with(minimal("jms"), "firewall_bridge_networks", []string{"10.0.0.0/8"}), []string{`firewall_bridge_networks: needs firewall = "ufw"`}},
		{"networks on jvb", with(minimal("jvb"), "firewall", "ufw", "firewall_bridge_networks", []string{"10.0.0.0/8"}), []string{"firewall_bridge_networks: only a jms opens a port to the bridges"}},
		{"network host bits", with(minimal("jms"), "firewall", "ufw", "firewall_bridge_networks", []string{"10.0.0.7/8"}), []string{`firewall_bridge_networks[0]: "10.0.0.7/8" has host bits set: write 10.0.0.0/8`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var c Config
			err := c.Prepare(tc.raw)
			if err == nil {
				t.Fatal("Prepare accepted a bad config")
			}
			var me *packersdk.MultiError
			if !errors.As(err, &me) || len(me.Errors) != 1 {
				t.Fatalf("want exactly one error, got %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error shows the URL's password: %v", err)
			}
		})
	}
}

func TestPrepareAllErrorsAtOnce(t *testing.T) {
	var c Config
	err := c.Prepare(map[string]interface{}{
		"role":              "x",
		"apt_repo_url":      "ftp://a/b",
		"apt_password":      "only",
		"staging_directory": "rel",
		"versions":          map[string]string{"jitsi-videobridge2": "?"},
	})
	var me *packersdk.MultiError
	if !errors.As(err, &me) {
		t.Fatalf("want a MultiError, got %v", err)
	}
	prefixes := []string{"role:", "apt_repo_url:", "apt_username, apt_password:", "versions:", "staging_directory:"}
	if len(me.Errors) != len(prefixes) {
		t.Fatalf("got %d errors, want %d: %v", len(me.Errors), len(prefixes), err)
	}
	for i, p := range prefixes {
		if !strings.HasPrefix(me.Errors[i].Error(), p) {
			t.Errorf("error %d = %q, want it led by %q", i, me.Errors[i], p)
		}
	}
}

// TestPrepareSecretNotInErrors: a bad password is reported without its value.
func TestPrepareSecretNotInErrors(t *testing.T) {
	const secret = "tw0 w0rds-secret"
	var c Config
	err := c.Prepare(with(minimal("jvb"), "apt_username", "ci", "apt_password", secret))
	if err == nil {
		t.Fatal("Prepare accepted a password with white space")
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("error shows the password: %v", err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
