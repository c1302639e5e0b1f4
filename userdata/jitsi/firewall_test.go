package jitsi

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
)

// TestREADMEListsTheRolePorts: the README's port table is RolePorts, row
// for row (role, port, who may reach it, what), so the operator's list and
// the firewall rules cannot drift apart.
func TestREADMEListsTheRolePorts(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "\n## Ports\n")
	if !ok {
		t.Fatal("README.md has no ## Ports section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	row := regexp.MustCompile(`(?m)^\| (jms|jms with ` + "`--local-bridge`" + `, jvb) \| (\d+/(?:tcp|udp)) \| ([^|]+) \| ([^|]+) \|$`)
	var got []string
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		got = append(got, strings.Join([]string{m[1], m[2], strings.TrimSpace(m[3]), strings.TrimSpace(m[4])}, " | "))
	}
	var want []string
	for _, p := range RolePorts(node.RoleJMS, false) {
		from := "clients"
		if p.BridgesOnly {
			from = "bridges only"
		}
		want = append(want, strings.Join([]string{"jms", p.String(), from, p.What}, " | "))
	}
	media := RolePorts(node.RoleJVB, false)[0]
	if jmsLocal := RolePorts(node.RoleJMS, true); jmsLocal[len(jmsLocal)-1] != media {
		t.Fatal("a JMS's own bridge opens another port than a bridge")
	}
	want = append(want, strings.Join([]string{"jms with `--local-bridge`, jvb", media.String(), "clients", media.What}, " | "))
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("README's ports:\n%s\nwant (RolePorts):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
