package jitsi

import (
	"context"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/jitsi-packer/packer-plugin-jitsi/plugin/manifest"
	"github.com/jitsi-packer/packer-plugin-jitsi/scripts"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

var update = flag.Bool("update", false, "rewrite the golden files under test-fixtures/golden")

const (
	jvbVersions = "jitsi-provision: reading versions\njitsi-version jitsi-videobridge2 2.3-160-g97a1f15f-1 installed\n"
	jmsVersions = "jitsi-version jicofo 1.0-1100-1 cached\njitsi-version jitsi-meet 2.0.9823-1 cached\n" +
		"jitsi-version jitsi-meet-prosody 1.0.8302-1 cached\njitsi-version jitsi-meet-web 1.0.8302-1 cached\n" +
		"jitsi-version jitsi-meet-web-config 1.0.8302-1 cached\njitsi-version jitsi-videobridge2 2.3-160-g97a1f15f-1 cached\n"
)

// legacyVersions pins a role's image to one 2020-era Jitsi release (stable
// 6155's packages): what a release that runs nothing newer needs.
func legacyVersions(role string) map[string]string {
	if role == "jvb" {
		return map[string]string{"jitsi-videobridge2": "2.1-681-g3544ed05-1"}
	}
	return map[string]string{
		"jitsi-meet": "2.0.6155-1", "jitsi-meet-web": "1.0.6155-1", "jitsi-meet-web-config": "1.0.6155-1",
		"jitsi-meet-prosody": "1.0.6155-1", "jicofo": "1.0-877-1", "jitsi-videobridge2": "2.1-681-g3544ed05-1",
	}
}

// expectedPlan is the literal command plan of a role on a release: what the
// provisioner runs and uploads, in order.
func expectedPlan(role string, ubuntu bool) []string {
	const (
		dir  = "/tmp/packer-jitsi"
		step = "run: bash '/tmp/packer-jitsi/jitsi-provision' '/tmp/packer-jitsi/settings.env' "
	)
	plan := []string{
		"run: cat /etc/os-release",
		"run: uname -m",
		"run: umask 077 && mkdir -p '/tmp/packer-jitsi'",
		"upload: " + dir + "/jitsi-provision",
		"upload: " + dir + "/settings.env",
		"upload: " + dir + "/jitsi-keyring.gpg",
		"upload: " + dir + "/jitsi-node",
		"upload: " + dir + "/image.yaml",
	}
	if role == "jvb" {
		plan = append(plan, "upload: "+dir+"/bake.seed")
	}
	plan = append(plan, step+"preflight")
	if ubuntu {
		plan = append(plan, step+"universe")
	}
	return append(plan,
		step+"repo", step+"install", step+"services", step+"agent", step+"versions",
		"upload: "+dir+"/image-stamp.json", step+"stamp", step+"clean",
		"run: rm -rf '/tmp/packer-jitsi'")
}

// TestProvisionPlan asserts the exact command plan of every role on every
// supported release, and the settings each gets (golden files).
func TestProvisionPlan(t *testing.T) {
	for _, role := range []string{"jvb", "jms"} {
		for osName, content := range osReleases {
			t.Run(role+"/"+osName, func(t *testing.T) {
				versions := jvbVersions
				if role == "jms" {
					versions = jmsVersions
				}
				raw := with(minimal(role), "manifest_file", filepath.Join(t.TempDir(), "m.json"))
				if o, _ := DetectOS(content); !o.Runs(jitsi.Current) {
					raw = with(raw, "versions", legacyVersions(role))
				}
				p := prepared(t, raw)
				comm := newRecordingComm(machine(content, versions))
				ui, _ := testUI()
				if err := p.Provision(context.Background(), ui, comm, nil); err != nil {
					t.Fatalf("Provision: %v", err)
				}
				want := expectedPlan(role, strings.HasPrefix(osName, "ubuntu"))
				if !reflect.DeepEqual(comm.events, want) {
					t.Fatalf("plan:\n%s\nwant:\n%s", strings.Join(comm.events, "\n"), strings.Join(want, "\n"))
				}
				golden(t, "settings-"+role+"-"+strings.ReplaceAll(osName, " ", "-")+".env",
					comm.files["/tmp/packer-jitsi/settings.env"])
			})
		}
	}
}

// TestProvisionWebServers: a jms image's web server and firewall settings
// decide its bake (golden settings) and the image config every node reads
// (golden image.yaml).
func TestProvisionWebServers(t *testing.T) {
	for name, raw := range map[string]map[string]interface{}{
		"jms-nginx":      minimal("jms"),
		"jms-apache-ufw": with(minimal("jms"), "web_server", "apache", "firewall", "ufw", "firewall_bridge_networks", []string{"10.0.0.0/16"}),
		"jvb-ufw":        with(minimal("jvb"), "firewall", "ufw"),
	} {
		t.Run(name, func(t *testing.T) {
			versions := jmsVersions
			if strings.HasPrefix(name, "jvb") {
				versions = jvbVersions
			}
			p := prepared(t, with(raw, "manifest_file", filepath.Join(t.TempDir(), "m.json")))
			comm := newRecordingComm(machine(osReleases["debian 12"], versions))
			ui, _ := testUI()
			if err := p.Provision(context.Background(), ui, comm, nil); err != nil {
				t.Fatalf("Provision: %v", err)
			}
			golden(t, "settings-"+name+".env", comm.files["/tmp/packer-jitsi/settings.env"])
			golden(t, "image-"+name+".yaml", comm.files["/tmp/packer-jitsi/image.yaml"])
			step := "bash '/tmp/packer-jitsi/jitsi-provision' '/tmp/packer-jitsi/settings.env' agent"
			if !slices.Contains(comm.events, "run: "+step) {
				t.Errorf("no agent step: %v", comm.events)
			}
		})
	}
}

func TestProvisionUploads(t *testing.T) {
	raw := with(minimal("jvb"), "manifest_file", filepath.Join(t.TempDir(), "m.json"),
		"versions", map[string]string{"jitsi-videobridge2": "2.3-160-g97a1f15f-1"})
	p := prepared(t, raw)
	comm := newRecordingComm(machine(osReleases["debian 12"], jvbVersions))
	ui, _ := testUI()
	if err := p.Provision(context.Background(), ui, comm, nil); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	binKey, _ := os.ReadFile("test-fixtures/repo-key.gpg")
	want := map[string]string{
		"/tmp/packer-jitsi/jitsi-provision":   string(scripts.Provisioner),
		"/tmp/packer-jitsi/jitsi-keyring.gpg": string(binKey),
		"/tmp/packer-jitsi/bake.seed":         "jitsi-videobridge2 jitsi-videobridge/jvb-hostname string jitsi-node-unconfigured.invalid\n",
	}
	for path, content := range want {
		if comm.files[path] != content {
			t.Errorf("%s: uploaded %d bytes, want %d", path, len(comm.files[path]), len(content))
		}
	}
	for path, mode := range comm.modes {
		if mode != 0o600 {
			t.Errorf("%s uploaded with mode %v, want 0600", path, mode)
		}
	}
	settings := comm.files["/tmp/packer-jitsi/settings.env"]
	for _, line := range []string{
		`JITSI_PINS="jitsi-videobridge2=2.3-160-g97a1f15f-1"`,
		`JITSI_REPO_LINE="deb [signed-by=/usr/share/keyrings/jitsi-keyring.gpg] https://download.jitsi.org stable/"`,
		`JITSI_INSTALL="jitsi-videobridge2"`,
		`JITSI_CACHED=""`,
	} {
		if !strings.Contains(settings, line+"\n") {
			t.Errorf("settings lack %s:\n%s", line, settings)
		}
	}
}

// TestProvisionSecret: the repository password reaches the machine only as
// the auth.conf upload, and never a command, the settings or the UI.
func TestProvisionSecret(t *testing.T) {
	const secret = "S3cr3t-'$(reboot)`x`\"-pw"
	raw := with(minimal("jms"), "manifest_file", filepath.Join(t.TempDir(), "m.json"),
		"apt_repo_url", "https://mirror.example/jitsi/", "apt_username", "ci", "apt_password", secret)
	p := prepared(t, raw)
	comm := newRecordingComm(machine(osReleases["ubuntu 22.04"], jmsVersions))
	ui, out := testUI()
	if err := p.Provision(context.Background(), ui, comm, nil); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	auth := "/tmp/packer-jitsi/apt-auth.conf"
	if got, want := comm.files[auth], "machine mirror.example/jitsi login ci password "+secret+"\n"; got != want {
		t.Fatalf("auth.conf = %q, want %q", got, want)
	}
	for _, e := range comm.events {
		if strings.Contains(e, secret) {
			t.Errorf("secret in command: %s", e)
		}
	}
	for path, content := range comm.files {
		if path != auth && strings.Contains(content, secret) {
			t.Errorf("secret in upload %s", path)
		}
	}
	if strings.Contains(out.String(), secret) {
		t.Errorf("secret in UI output:\n%s", out)
	}
	if comm.events[len(comm.events)-1] != "run: rm -rf '/tmp/packer-jitsi'" {
		t.Errorf("staging directory (with the credentials) not removed last: %v", comm.events)
	}
}

func TestRepoLine(t *testing.T) {
	cases := map[string][2]string{
		"https://download.jitsi.org": {"stable/", "deb [signed-by=/usr/share/keyrings/jitsi-keyring.gpg] https://download.jitsi.org stable/"},
		"file:///srv/jitsi-repo":     {"stable/", "deb [signed-by=/usr/share/keyrings/jitsi-keyring.gpg] copy:/srv/jitsi-repo stable/"},
		"http://mirror.example/j/":   {"bookworm  main", "deb [signed-by=/usr/share/keyrings/jitsi-keyring.gpg] http://mirror.example/j/ bookworm main"},
	}
	for u, c := range cases {
		p := prepared(t, with(minimal("jvb"), "apt_repo_url", u, "apt_repo_dist", c[0]))
		if got := RepoLine(&p.config); got != c[1] {
			t.Errorf("RepoLine(%s) = %q, want %q", u, got, c[1])
		}
	}
}

func TestProvisionManifest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.json")
	raw := with(minimal("jms"), "manifest_file", path, "packer_build_name", "jms", "packer_builder_type", "qemu",
		"versions", legacyVersions("jms"))
	p := prepared(t, raw)
	comm := newRecordingComm(machine(osReleases["ubuntu 18.04"], jmsVersions))
	ui, out := testUI()
	if err := p.Provision(context.Background(), ui, comm, map[string]interface{}{"PackerRunUUID": "run-1"}); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	m, err := manifest.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if m.Role != "jms" || m.OS.String() != "ubuntu 18.04" || m.OS.Codename != "bionic" || m.RunUUID != "run-1" ||
		m.BuildName != "jms" || m.BuilderType != "qemu" || m.Arch != "amd64" || m.AgentVersion != "0.1.0-test" {
		t.Errorf("manifest = %+v", m)
	}
	if got := m.Versions(); len(got) != 6 || got["jitsi-meet"] != "2.0.9823-1" || got["jicofo"] != "1.0-1100-1" {
		t.Errorf("versions = %v", got)
	}
	for _, line := range []string{"jitsi: step 1/9: preflight", "jitsi: step 9/9: clean", "jitsi-provision: install: done", "manifest written to " + path} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("UI output lacks %q:\n%s", line, out)
		}
	}
	// The image is stamped with the manifest's identity before the clean
	// step: what its nodes will send and the post-processor records.
	stamp, err := regapi.ParseImageStamp([]byte(comm.files["/tmp/packer-jitsi/image-stamp.json"]))
	if err != nil {
		t.Fatalf("stamp: %v", err)
	}
	if !strings.HasPrefix(m.BuildID, "b-") || len(m.BuildID) < 30 || !reflect.DeepEqual(stamp, m.Stamp()) ||
		stamp.Role != "jms" || stamp.OS != "ubuntu-18.04" || stamp.Arch != "amd64" || stamp.AgentVersion != "0.1.0-test" ||
		stamp.RunUUID != "run-1" || stamp.Versions["jicofo"] != "1.0-1100-1" || stamp.Baked.IsZero() {
		t.Errorf("stamp %+v\nmanifest %+v", stamp, m)
	}
	// Another bake is another build.
	if err := p.Provision(context.Background(), ui, comm, map[string]interface{}{"PackerRunUUID": "run-1"}); err != nil {
		t.Fatal(err)
	}
	if m2, err := manifest.Read(path); err != nil || m2.BuildID == m.BuildID {
		t.Errorf("a second bake kept build id %s (%v)", m.BuildID, err)
	}
}

func TestProvisionUnsupportedOS(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.json")
	p := prepared(t, with(minimal("jvb"), "manifest_file", path))
	comm := newRecordingComm(machine("ID=fedora\nVERSION_ID=39\n", ""))
	ui, _ := testUI()
	err := p.Provision(context.Background(), ui, comm, nil)
	if err == nil || !strings.Contains(err.Error(), "fedora 39 is not supported") {
		t.Fatalf("Provision = %v, want unsupported fedora 39", err)
	}
	if want := []string{"run: cat /etc/os-release"}; !reflect.DeepEqual(comm.events, want) {
		t.Fatalf("ran %v after detecting an unsupported OS, want only %v", comm.events, want)
	}
}

// TestProvisionStepFailure: a failing step stops the bake, names the step,
// still removes the staging directory, and leaves no manifest behind (not
// even one from an earlier run).
func TestProvisionStepFailure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.json")
	writeFile(t, path, `{"role":"jvb"}`)
	p := prepared(t, with(minimal("jvb"), "manifest_file", path))
	ok := machine(osReleases["debian 11"], jvbVersions)
	comm := newRecordingComm(func(cmd string) (string, string, int) {
		if strings.HasSuffix(cmd, " repo") {
			return "", "jitsi-provision: error: apt-get update failed\n", 1
		}
		return ok(cmd)
	})
	ui, out := testUI()
	err := p.Provision(context.Background(), ui, comm, nil)
	if err == nil || !strings.Contains(err.Error(), "run step repo: exit status 1") {
		t.Fatalf("Provision = %v, want step repo failure", err)
	}
	if !strings.Contains(out.String(), "apt-get update failed") {
		t.Errorf("the script's error was not streamed to the UI:\n%s", out)
	}
	last := comm.events[len(comm.events)-1]
	if last != "run: rm -rf '/tmp/packer-jitsi'" {
		t.Errorf("last command = %q, want the staging directory removed", last)
	}
	for _, e := range comm.events {
		if strings.HasSuffix(e, " install") {
			t.Errorf("ran %q after the repo step failed", e)
		}
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("manifest %s still exists after a failed bake (%v)", path, err)
	}
}

// TestProvisionKeyURL: without apt_key_file the machine running Packer
// fetches the key (here from a loopback server) and uploads it dearmoured.
func TestProvisionKeyURL(t *testing.T) {
	armoured, _ := os.ReadFile("test-fixtures/repo-key.asc")
	binKey, _ := os.ReadFile("test-fixtures/repo-key.gpg")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/jitsi-key.gpg.key" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(armoured)
	}))
	defer srv.Close()

	p := prepared(t, with(minimal("jvb"), "apt_key_file", nil, "apt_key_url", srv.URL+"/jitsi-key.gpg.key",
		"manifest_file", filepath.Join(t.TempDir(), "m.json")))
	comm := newRecordingComm(machine(osReleases["debian 12"], jvbVersions))
	ui, _ := testUI()
	if err := p.Provision(context.Background(), ui, comm, nil); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	if comm.files["/tmp/packer-jitsi/jitsi-keyring.gpg"] != string(binKey) {
		t.Fatal("uploaded keyring is not the dearmoured key")
	}

	p = prepared(t, with(minimal("jvb"), "apt_key_file", nil, "apt_key_url", srv.URL+"/missing"))
	comm = newRecordingComm(machine(osReleases["debian 12"], jvbVersions))
	err := p.Provision(context.Background(), ui, comm, nil)
	if err == nil || !strings.Contains(err.Error(), "fetch repository key") || !strings.Contains(err.Error(), "404") {
		t.Fatalf("Provision = %v, want a 404 fetching the key", err)
	}
}

func TestParseVersions(t *testing.T) {
	got := ParseVersions("noise\njitsi-version a 1.0-1 installed\njitsi-version b\n  jitsi-version c 1:2~rc1 cached  \n")
	want := []manifest.Package{{Name: "a", Version: "1.0-1", State: "installed"}, {Name: "c", Version: "1:2~rc1", State: "cached"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseVersions = %+v, want %+v", got, want)
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("test-fixtures", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from its golden file:\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

// TestProvisionAgent: the agent uploaded is the one for the machine's
// architecture, and a machine of another one is refused before anything is
// uploaded.
func TestProvisionAgent(t *testing.T) {
	want, err := os.ReadFile(testAgent)
	if err != nil {
		t.Fatal(err)
	}
	p := prepared(t, with(minimal("jvb"), "manifest_file", filepath.Join(t.TempDir(), "m.json")))
	comm := newRecordingComm(machine(osReleases["debian 12"], jvbVersions))
	ui, _ := testUI()
	if err := p.Provision(context.Background(), ui, comm, nil); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	if comm.files["/tmp/packer-jitsi/jitsi-node"] != string(want) {
		t.Error("the uploaded jitsi-node is not agent_file")
	}

	arm := newRecordingComm(func(cmd string) (string, string, int) {
		if cmd == ArchCommand {
			return "aarch64\n", "", 0
		}
		return machine(osReleases["debian 12"], jvbVersions)(cmd)
	})
	err = p.Provision(context.Background(), ui, arm, nil)
	if err == nil || !strings.Contains(err.Error(), "is built for amd64, but the machine is arm64") {
		t.Fatalf("Provision on arm64 with an amd64 agent_file = %v", err)
	}
	for _, e := range arm.events {
		if strings.HasPrefix(e, "upload:") {
			t.Errorf("uploaded %s to a machine the agent cannot run on", e)
		}
	}
}

func TestAgentFileMustBeStaticELF(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "script")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var p Provisioner
	err := p.Prepare(with(minimal("jvb"), "agent_file", script))
	if err == nil || !strings.Contains(err.Error(), "agent_file: ") || !strings.Contains(err.Error(), "not a Linux executable") {
		t.Errorf("Prepare with a shell script as agent_file = %v", err)
	}
	// A dynamically linked executable (the test binary itself, built with cgo).
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	err = p.Prepare(with(minimal("jvb"), "agent_file", self))
	if err == nil || !strings.Contains(err.Error(), "dynamically linked") {
		t.Errorf("Prepare with a dynamic executable as agent_file = %v", err)
	}
}
