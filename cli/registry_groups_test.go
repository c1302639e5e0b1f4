package cli

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func (c *regCLI) groups() []regapi.Group {
	c.t.Helper()
	var gs []regapi.Group
	out := c.must("group", "list", "--json")
	if err := json.Unmarshal([]byte(out), &gs); err != nil {
		c.t.Fatalf("group list --json: %v\n%s", err, out)
	}
	return gs
}

func TestGroupLifecycleOnTheEmbeddedRegistry(t *testing.T) {
	c := newRegCLI(t)
	secret := c.file("jvb.secret", regTestSecret+"\n")
	first, second := filepath.Join(c.home, "g1.yaml"), filepath.Join(c.home, "g2.yaml")
	issue := func(out string, extra ...string) {
		c.must(append([]string{"issue", "--role", "jvb", "--jms-fqdn", regTestFQDN, "--secret-file", secret, "--group", "edge",
			"--node-registry-url", "https://registry.example.org:8443", "--out", out}, extra...)...)
	}
	issue(first, "--max-size", "7")
	gs := c.groups()
	if len(gs) != 1 || gs[0].Name != "edge" || gs[0].Shard != regTestFQDN || gs[0].Role != "jvb" || gs[0].Format != "modern" ||
		gs[0].NAT != "auto" || gs[0].MaxSize != 7 || gs[0].Tokens != 1 || gs[0].Members != 0 {
		t.Fatalf("after issue --group: %+v", gs)
	}
	// Re-issuing the user-data mints another token; the max size is kept.
	issue(second)
	if tok1, tok2 := credentialIn(t, first), credentialIn(t, second); tok1 == tok2 || regapi.KindOf(tok1) != regapi.CredentialGroup {
		t.Errorf("the two user-data carry %.8s… and %.8s…: want two group tokens", tok1, tok2)
	}
	if gs := c.groups(); gs[0].Tokens != 2 || gs[0].MaxSize != 7 {
		t.Errorf("after re-issue: %+v", gs[0])
	}
	c.must("group", "set", "edge", "--max-size", "3")
	if out := c.must("group", "revoke", "edge", "--keep-newest"); !strings.Contains(out, "revoked 1 token(s) of group edge") {
		t.Errorf("group revoke said %q", out)
	}
	if gs := c.groups(); gs[0].Tokens != 1 || gs[0].MaxSize != 3 {
		t.Errorf("after set and revoke: %+v", gs[0])
	}
	table := c.must("group", "list")
	if !strings.Contains(table, "MEMBERS") || !strings.Contains(table, "0/3") {
		t.Errorf("group list:\n%s", table)
	}
	if out := c.must("group", "retire", "edge"); !strings.Contains(out, "retired group edge") {
		t.Errorf("group retire said %q", out)
	}
	if gs := c.groups(); gs[0].State != regapi.GroupRetired || gs[0].Tokens != 0 {
		t.Errorf("after retire: %+v", gs[0])
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"group", "retire", "edge"}, "no live group is named edge"},
		{[]string{"group", "set", "edge"}, "--max-size N is required"},
		{[]string{"group", "frob"}, "unknown subcommand"},
		{[]string{"issue", "--role", "jvb", "--jms-fqdn", regTestFQDN, "--secret-file", secret, "--max-size", "3", "--out", first}, "--max-size is a group's"},
		{[]string{"userdata", "--role", "jvb", "--jms-fqdn", regTestFQDN, "--secret-file", secret, "--nickname", "jvb-001",
			"--node-registry-url", "https://registry.example.org"}, "use \"packer-plugin-jitsi issue\""},
	} {
		if code, _, errs := c.run(tc.args...); code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, %s; want 2 and %q", tc.args, code, errs, tc.want)
		}
	}
}
