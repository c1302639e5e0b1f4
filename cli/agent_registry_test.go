package cli

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/jitsi-packer/packer-plugin-jitsi/agent/nat"
	"github.com/jitsi-packer/packer-plugin-jitsi/internal/fakecloud"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

// TestAgentClaimsFromTheRealRegistry joins the two halves that are tested
// apart elsewhere: the real jitsi-node binary, run on scratch node roots with
// a group's user-data as cloud-init lays it out and a fake EC2 metadata
// service (TEST FIXTURE), claims its identity from a real `registry serve`
// (dqlite, HTTP API) and writes the bridge's files. No VM: systemd does not
// run in the roots, so the agent writes the files and starts nothing.
func TestAgentClaimsFromTheRealRegistry(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the agent and serves a registry")
	}
	c := newRegCLI(t)
	srv := serveRegistry(t, c)
	agentBin := filepath.Join(t.TempDir(), "jitsi-node")
	build := exec.Command("go", "build", "-o", agentBin, "../cmd/jitsi-node")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build jitsi-node: %v\n%s", err, out)
	}
	secret := c.file("jvb.secret", "a-strong-secret-for-the-group-0123456789\n")
	group := filepath.Join(c.home, "group.yaml")
	c.must("issue", "--role", "jvb", "--jms-fqdn", regTestFQDN, "--secret-file", secret, "--group", "asg", "--max-size", "2",
		"--node-registry-url", srv.url, "--out", group, "--registry", srv.url, "--token-file", srv.tokenFile)

	const buildID = "b-20261129t080000z-00112233aabbccdd"
	stampJSON, _ := json.Marshal(regapi.ImageStamp{BuildID: buildID, Role: "jvb", OS: "debian-12", Arch: "amd64", AgentVersion: "test"})
	stamp := string(stampJSON)

	// boot lays the user-data's files into a fresh node root of an EC2
	// instance and runs `jitsi-node apply` there.
	boot := func(instance, private, public string) (root string, code int, stderr string) {
		root = t.TempDir()
		for path, content := range writeFilesOf(t, group) {
			writeRooted(t, root, path, content, 0o600)
		}
		writeRooted(t, root, "/var/lib/cloud/data/instance-id", instance+"\n", 0o644)
		// The stamp the jitsi provisioner bakes into the image.
		writeRooted(t, root, jitsi.ImageStampFile, stamp, 0o644)
		// The user and group the jitsi-videobridge2 package makes (the
		// agent gives the bridge's files their ownership).
		writeRooted(t, root, "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\njvb:x:997:997::/usr/share/jitsi-videobridge:/bin/bash\n", 0o644)
		writeRooted(t, root, "/etc/group", "root:x:0:\njitsi:x:997:\n", 0o644)
		for path, content := range fakecloud.DMI(nat.EC2) {
			writeRooted(t, root, path, content, 0o444)
		}
		md, err := fakecloud.ServeMetadata(&fakecloud.FakeMetadata{Cloud: nat.EC2, PrivateIP: private, PublicIP: public}, "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer md.Close()
		var errb bytes.Buffer
		cmd := exec.Command(agentBin, "apply", "--root", root, "--metadata-url", md.URL, "--claim-timeout", "20s")
		cmd.Stderr = &errb
		err = cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return root, code, errb.String()
	}

	roots := map[string]string{}
	for i, inst := range []struct{ id, private, public string }{
		{"i-0000000000000001", "10.0.0.11", "203.0.113.11"},
		{"i-0000000000000002", "10.0.0.12", "203.0.113.12"},
	} {
		root, code, stderr := boot(inst.id, inst.private, inst.public)
		if code != 0 {
			t.Fatalf("instance %d: jitsi-node apply exit %d\n%s", i+1, code, stderr)
		}
		roots[inst.id] = root
		conf := readRooted(t, root, jitsi.JVBConf)
		for _, want := range []string{`local-address = "` + inst.private + `"`, `public-address = "` + inst.public + `"`, "aws.enabled = true"} {
			if !strings.Contains(conf, want) {
				t.Errorf("instance %d: jvb.conf lacks %q:\n%s", i+1, want, conf)
			}
		}
		if fi, err := os.Stat(filepath.Join(root, jitsi.IdentityState)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("instance %d: the identity with its credential is %v (%v), want mode 0600", i+1, fi, err)
		}
		if strings.Contains(stderr, secretOf(t, secret)) {
			t.Errorf("instance %d: the agent's log holds the secret", i+1)
		}
	}
	members := c.nodes("--shard", regTestFQDN, "--registry", srv.url, "--token-file", srv.tokenFile)
	nicks := map[string]string{}
	for _, n := range members {
		if n.Group == "asg" {
			nicks[n.InstanceID] = n.Nickname
		}
	}
	if len(nicks) != 2 || nicks["i-0000000000000001"] == nicks["i-0000000000000002"] {
		t.Fatalf("group members %v: want two instances with two nicknames", nicks)
	}
	// Each member is linked to the image it booted: the build id of its
	// image's stamp, sent with its claim and its report.
	for _, n := range members {
		if n.Group == "asg" && n.ImageID != buildID {
			t.Errorf("member %s: image_id %q, want its stamp's build id %s", n.Nickname, n.ImageID, buildID)
		}
	}
	for id, nick := range nicks {
		if conf := readRooted(t, roots[id], jitsi.JVBConf); !strings.Contains(conf, `muc_nickname = "`+nick+`"`) {
			t.Errorf("%s: jvb.conf does not carry its claimed nickname %s", id, nick)
		}
	}

	// Idempotent: applying again keeps the identity.
	if code, errOut := apply(t, agentBin, roots["i-0000000000000001"]); code != 0 {
		t.Fatalf("second apply: exit %d\n%s", code, errOut)
	}
	if again := c.nodes("--shard", regTestFQDN, "--registry", srv.url, "--token-file", srv.tokenFile); len(again) != len(members) {
		t.Errorf("a second apply recorded %d nodes, want %d", len(again), len(members))
	}

	// The group is full: a third instance gets no identity, says why, and
	// writes no bridge file.
	root, code, stderr := boot("i-0000000000000003", "10.0.0.13", "203.0.113.13")
	t.Logf("third instance: exit %d: %s", code, strings.TrimSpace(stderr))
	if code == 0 || !strings.Contains(stderr, "full") {
		t.Errorf("third instance of a group of 2: exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(root, jitsi.JVBConf)); err == nil {
		t.Error("the third instance wrote jvb.conf without an identity")
	}

	// A node speaks only for itself: instance 1's credential cannot retire
	// instance 2's node.
	var id1, id2 struct {
		NodeID     int64  `json:"node_id"`
		Credential string `json:"credential"`
	}
	readJSONFile(t, filepath.Join(roots["i-0000000000000001"], jitsi.IdentityState), &id1)
	readJSONFile(t, filepath.Join(roots["i-0000000000000002"], jitsi.IdentityState), &id2)
	body, _ := json.Marshal(regapi.StateBody{NodeRef: regapi.NodeRef{ID: id2.NodeID}, State: regapi.StateRetired})
	req, _ := http.NewRequest(http.MethodPost, srv.url+"/v1/state", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+id1.Credential)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("node %d's credential retiring node %d: HTTP %d, want 403", id1.NodeID, id2.NodeID, resp.StatusCode)
	}
}

func apply(t *testing.T, bin, root string) (int, string) {
	t.Helper()
	var errb bytes.Buffer
	cmd := exec.Command(bin, "apply", "--root", root, "--metadata-url", "http://127.0.0.1:9", "--claim-timeout", "10s")
	cmd.Stderr = &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), errb.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, errb.String()
}

// writeFilesOf is what cloud-init's write_files lays down from a user-data.
func writeFilesOf(t *testing.T, path string) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		WriteFiles []struct {
			Path    string `yaml:"path"`
			Content string `yaml:"content"`
		} `yaml:"write_files"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range doc.WriteFiles {
		out[f.Path] = f.Content
	}
	return out
}

func writeRooted(t *testing.T, root, path, content string, mode os.FileMode) {
	t.Helper()
	p := filepath.Join(root, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func readRooted(t *testing.T, root, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, path))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func readJSONFile(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func secretOf(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
