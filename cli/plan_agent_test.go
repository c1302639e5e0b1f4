package cli

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/agent"
	"github.com/jitsi-packer/packer-plugin-jitsi/agent/nat"
	"github.com/jitsi-packer/packer-plugin-jitsi/agent/plan"
	"github.com/jitsi-packer/packer-plugin-jitsi/agent/system"
	"github.com/jitsi-packer/packer-plugin-jitsi/internal/fakecloud"
	"github.com/jitsi-packer/packer-plugin-jitsi/internal/testutil"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/nodeconfig"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/testvectors"
)

// TestPlanListsWhatTheAgentWrites keeps plan and agent from drifting: for
// every golden user-data case, the node agent's own Apply runs on a scratch
// node root (cloud-init's files laid down from the user-data, systemd
// "running", programs recorded, a fake EC2 metadata service — TEST FIXTURE —
// and the bridge's health on loopback); a group bridge claims from a real
// `registry serve`. Then every file under the root must be one the plan
// lists, with the plan's owner and mode, and every listed file must be
// there; the systemctl calls must be the plan's services, in order.
func TestPlanListsWhatTheAgentWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("serves a registry")
	}
	c := newRegCLI(t)
	srv := serveRegistry(t, c)
	opToken := strings.TrimSpace(readRooted(t, "/", srv.tokenFile))
	health := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != jitsi.HealthPath {
			http.NotFound(w, r)
		}
	}))
	defer health.Close()
	md, err := fakecloud.ServeMetadata(&fakecloud.FakeMetadata{Cloud: nat.EC2, PrivateIP: "10.0.0.11", PublicIP: "203.0.113.11"}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()

	for name, s := range testvectors.Cases() {
		t.Run(name, func(t *testing.T) {
			if s.Registry != nil {
				// The same link, to a registry this test runs.
				link := *s.Registry
				link.URL, link.CA = srv.url, ""
				s.Registry = &link
				if s.Group != "" {
					token, hash := regapi.NewCredential(regapi.CredentialGroup)
					link.Credential = token
					recordGroup(t, srv.url, opToken, s, hash)
				}
			}
			data, err := userdata.Render(s)
			if err != nil {
				t.Fatal(err)
			}
			u, err := plan.Read(data)
			if err != nil {
				t.Fatal(err)
			}
			p, err := plan.Build(u)
			if err != nil {
				t.Fatal(err)
			}
			root, run := applyOnScratchRoot(t, u, md.URL, health.URL)
			want := map[string]string{}
			for _, f := range p.Files {
				want[f.Path] = f.Owner + " " + f.Mode
			}
			got := filesUnder(t, root)
			// What the packages' postinsts wrote is theirs, unless the
			// agent takes it over (the plan then lists it).
			for _, path := range run.packageFiles() {
				if _, ok := want[path]; !ok {
					delete(got, path)
				}
			}
			for path, ownerMode := range got {
				if w, ok := want[path]; !ok {
					t.Errorf("the agent wrote %s (%s), which the plan does not list", path, ownerMode)
				} else if w != ownerMode {
					t.Errorf("%s: the agent made it %s, the plan says %s", path, ownerMode, w)
				}
			}
			for path, ownerMode := range want {
				if _, ok := got[path]; !ok {
					t.Errorf("the plan lists %s (%s), which the agent did not write", path, ownerMode)
				}
			}
			if gotCalls, wantCalls := run.systemctl(), planCalls(p); !slices.Equal(gotCalls, wantCalls) {
				t.Errorf("systemctl calls\n got %q\nwant %q (from the plan's services and commands)", gotCalls, wantCalls)
			}
			for _, cmd := range p.Commands {
				prog := strings.Fields(cmd.Run)[0]
				if prog != "systemctl" && prog != "hostnamectl" && !run.ran(prog) {
					t.Errorf("the plan says %q runs; the agent ran %q", cmd.Run, run.names())
				}
			}
		})
	}
}

// planCalls are the systemctl calls the plan's services and commands say
// a first boot makes, in order.
func planCalls(p plan.Plan) []string {
	var out []string
	for _, c := range p.Commands {
		for _, run := range strings.Split(c.Run, "; ") {
			if strings.HasPrefix(run, "systemctl ") {
				out = append(out, run)
			}
		}
	}
	for _, s := range p.Services {
		switch agent.UnitAction(s.Action) {
		case agent.UnitRun:
			out = append(out, "systemctl enable --no-reload "+s.Unit, "systemctl restart "+s.Unit)
		case agent.UnitEnableNow:
			out = append(out, "systemctl enable --no-reload --now "+s.Unit)
		case agent.UnitStop:
			out = append(out, "systemctl disable --now "+s.Unit)
		}
	}
	return out
}

func recordGroup(t *testing.T, url, opToken string, s node.Spec, hash string) {
	t.Helper()
	cl, err := regapi.NewClient(url, opToken)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	s = s.WithDefaults()
	if _, err := cl.RecordGroup(context.Background(), regapi.GroupRequest{Name: s.Group, Shard: s.JMSFQDN, Role: string(s.Role),
		Format: string(s.Format), NAT: string(s.NAT.Mode), MaxSize: 10, TokenHash: hash}); err != nil {
		t.Fatal(err)
	}
}

// applyOnScratchRoot lays u's files down as cloud-init does and runs the
// agent's Apply there.
func applyOnScratchRoot(t *testing.T, u *plan.UserData, metadataURL, bridgeAPI string) (string, *recordingRunner) {
	t.Helper()
	root := t.TempDir()
	for _, f := range []struct{ path, content, perm string }{
		{u.NodeConfig.Path, u.NodeConfig.Content, u.NodeConfig.Permissions},
		{u.NodeSecrets.Path, u.NodeSecrets.Content, u.NodeSecrets.Permissions},
	} {
		var mode uint64 = 0o644
		if f.perm == "0600" {
			mode = 0o600
		}
		writeRooted(t, root, f.path, f.content, fs.FileMode(mode))
	}
	for path, content := range scratchSetup {
		writeRooted(t, root, path, content, 0o644)
	}
	if u.Spec.Role == node.RoleJMS {
		// A JMS image as a bake leaves it: image.yaml with Jitsi's default
		// web server (what the plan shows).
		img, err := nodeconfig.Image{Version: nodeconfig.ImageVersion, Role: node.RoleJMS, WebServer: jitsi.DefaultWebServer}.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		writeRooted(t, root, jitsi.ImageConfig, string(img), 0o644)
	}
	writeRooted(t, root, instanceIDFile, fmt.Sprintf("i-%x", sha256.Sum256([]byte(t.Name())))[:19]+"\n", 0o644)
	for path, content := range fakecloud.DMI(nat.EC2) {
		writeRooted(t, root, path, content, 0o444)
	}
	if err := os.MkdirAll(filepath.Join(root, "/run/systemd/system"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The bridge, once (re)started, logs its joins as jicoco's MucClient
	// does: the agent waits for them.
	joins := ""
	if u.Spec.Role == node.RoleJVB {
		for _, sh := range u.Spec.Shards() {
			joins += jitsi.MUCJoined + jitsi.BreweryJID(sh.JMSFQDN) + "\n"
		}
	}
	run := &recordingRunner{root: root, spec: u.Spec, onBridgeStart: func() {
		_ = os.MkdirAll(filepath.Join(root, filepath.Dir(jitsi.JVBLogFile)), 0o755)
		f, err := os.OpenFile(filepath.Join(root, jitsi.JVBLogFile), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
		if err == nil {
			_, _ = f.WriteString(joins)
			f.Close()
		}
	}}
	var log testutil.SyncBuffer
	a := agent.New(agent.Options{Root: root, BridgeAPI: bridgeAPI, HealthPoll: 10 * time.Millisecond, RegistryAttempt: 5 * time.Second,
		ClaimTimeout: 20 * time.Second,
		NAT: nat.Options{MetadataURL: metadataURL, STUNTimeout: 100 * time.Millisecond,
			RouteSource: func() (netip.Addr, error) { return netip.MustParseAddr("10.0.0.8"), nil }}},
		agent.Deps{Run: run, Log: &log})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := a.Apply(ctx); err != nil {
		t.Fatalf("apply: %v\n%s", err, log.String())
	}
	return root, run
}

// scratchSetup are the files of the image and the cloud the test lays
// down itself: not the agent's doing.
var scratchSetup = map[string]string{
	"/etc/passwd": "root:x:0:0:root:/root:/bin/sh\njvb:x:997:997::/usr/share/jitsi-videobridge:/bin/bash\n" +
		"prosody:x:996:996::/var/lib/prosody:/usr/sbin/nologin\nturnserver:x:995:995::/:/usr/sbin/nologin\n",
	"/etc/group": "root:x:0:\njitsi:x:997:\nprosody:x:996:\nturnserver:x:995:\n",
}

// instanceIDFile is cloud-init's record of the instance (each case's own:
// a group takes an instance once).
const instanceIDFile = "/var/lib/cloud/data/instance-id"

// filesUnder maps each regular file and link under root (but the test's
// own setup and the DMI fixture) to "owner mode".
func filesUnder(t *testing.T, root string) map[string]string {
	t.Helper()
	names := map[uint32]string{0: "root", 997: "jvb", 996: "prosody", 995: "turnserver"}
	groups := map[uint32]string{0: "root", 997: "jitsi", 996: "prosody", 995: "turnserver"}
	out := map[string]string{}
	dmi := fakecloud.DMI(nat.EC2)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel := "/" + strings.TrimPrefix(p, root+"/")
		// The bridge's own log (the fake bridge writes it): not the agent's.
		// image.yaml is the bake's (a JMS's; see applyOnScratchRoot).
		if _, ok := scratchSetup[rel]; ok || rel == instanceIDFile || rel == jitsi.JVBLogFile || rel == jitsi.ImageConfig {
			return nil
		}
		if _, ok := dmi[rel]; ok {
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		uid, gid := ownerOf(fi)
		out[rel] = names[uid] + ":" + groups[gid] + " " + modeString(fi.Mode().Perm())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func ownerOf(fi fs.FileInfo) (uid, gid uint32) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 1 << 31, 1 << 31
	}
	return st.Uid, st.Gid
}

func modeString(m fs.FileMode) string {
	const digits = "01234567"
	return string([]byte{'0', digits[m>>6&7], digits[m>>3&7], digits[m&7]})
}

// recordingRunner stands in for the node's programs: a healthy machine
// whose JMS packages are still only in the apt cache. Its apt-get install
// writes what the packages' postinsts write (jitsi-meet-web-config's
// self-signed certificate, jitsi-meet-prosody's world-readable vhost
// config, jitsi-meet-turnserver's coturn config).
type recordingRunner struct {
	root string
	spec node.Spec
	mu   sync.Mutex
	cmds []system.Cmd
	pkg  []string // files the packages wrote
	// onBridgeStart runs when jitsi-videobridge2 is (re)started.
	onBridgeStart func()
}

func (r *recordingRunner) Run(_ context.Context, c system.Cmd) ([]byte, error) {
	r.mu.Lock()
	r.cmds = append(r.cmds, c)
	r.mu.Unlock()
	if r.onBridgeStart != nil && c.Name == "systemctl" && len(c.Args) > 1 && (c.Args[0] == "restart" || c.Args[0] == "start") && c.Args[1] == jitsi.SvcJVB+".service" {
		r.onBridgeStart()
	}
	if c.Name == "apt-get" && slices.Contains(c.Args, "install") {
		r.postinsts(c.Args)
	}
	switch {
	case c.Name == "systemctl" && len(c.Args) > 0 && (c.Args[0] == "is-failed" || c.Args[0] == "is-active"):
		return nil, errors.New("exit status 1")
	case c.Name == "systemctl" && len(c.Args) > 0 && c.Args[0] == "list-unit-files":
		return []byte(c.Args[len(c.Args)-1] + " enabled enabled\n"), nil
	case c.Name == "dpkg-query":
		return []byte("not-installed"), nil
	}
	return []byte{}, nil
}

func (r *recordingRunner) LookPath(name string) (string, error) { return "/usr/bin/" + name, nil }

// postinsts writes what the installed packages' postinsts would.
func (r *recordingRunner) postinsts(args []string) {
	crt, key := jitsi.WebCert(r.spec)
	files := map[string][]struct{ path, content string }{
		jitsi.PkgMeetWebConfig: {{crt, "-----BEGIN CERTIFICATE-----\n"}, {key, "-----BEGIN PRIVATE KEY-----\n"}},
		jitsi.PkgMeetProsody:   {{jitsi.ProsodyHostConfig(r.spec.JMSFQDN), "external_service_secret = \"from-debconf\"\n"}},
		jitsi.PkgMeetTurn:      {{jitsi.TurnServerConfig, "# jitsi-meet coturn config. Do not modify this line\n"}},
	}
	// jitsi-meet depends on jitsi-meet-web-config, which apt installs with it.
	if slices.Contains(args, jitsi.PkgMeet) && !slices.Contains(args, jitsi.PkgMeetWebConfig) {
		args = append(args, jitsi.PkgMeetWebConfig)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, a := range args {
		for _, f := range files[a] {
			p := filepath.Join(r.root, f.path)
			if _, err := os.Stat(p); err == nil {
				continue // the operator's own certificate
			}
			_ = os.MkdirAll(filepath.Dir(p), 0o755)
			if os.WriteFile(p, []byte(f.content), 0o644) == nil {
				r.pkg = append(r.pkg, f.path)
			}
		}
	}
}

func (r *recordingRunner) packageFiles() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.pkg)
}

// systemctl lists the calls that change units, in order.
func (r *recordingRunner) systemctl() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, c := range r.cmds {
		if c.Name != "systemctl" || len(c.Args) == 0 {
			continue
		}
		switch c.Args[0] {
		case "is-failed", "is-active", "list-unit-files", "list-jobs":
			continue
		}
		out = append(out, c.String())
	}
	return out
}

func (r *recordingRunner) ran(name string) bool { return slices.Contains(r.names(), name) }

func (r *recordingRunner) names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, c := range r.cmds {
		out = append(out, c.Name)
	}
	sort.Strings(out)
	return slices.Compact(out)
}
