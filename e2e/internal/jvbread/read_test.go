package jvbread_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jitsi-packer/packer-plugin-jitsi/e2e/internal/jvbread"
	"github.com/jitsi-packer/packer-plugin-jitsi/e2e/internal/jvbread/jvbreadtest"
)

// TestReadHandWrittenBridge runs the fixture on files written here (not by
// the renderer): Jitsi's precedence and defaults as its sources state them.
func TestReadHandWrittenBridge(t *testing.T) {
	r := jvbreadtest.ForTest(t)
	conf := `videobridge.apis.xmpp-client.configs {
  a { hostname = "h.example", username = u, password = "p w", muc_jids = "r@m.h.example,s@m.h.example", muc_nickname = n }
  b { hostname = "h.example", username = u }
}
`
	env := "JAVA_SYS_PROPS=\"-Dconfig.file=/etc/jitsi/videobridge/jvb.conf -Dnet.java.sip.communicator.SC_HOME_DIR_LOCATION=/etc/jitsi -Dnet.java.sip.communicator.SC_HOME_DIR_NAME=videobridge\"\n"
	res, err := r.Read(context.Background(), jvbread.Input{
		Files: map[string][]byte{
			"/etc/jitsi/videobridge/jvb.conf":                    []byte(conf),
			"/etc/jitsi/videobridge/config":                      []byte(env),
			"/etc/jitsi/videobridge/sip-communicator.properties": []byte("org.ice4j.ice.harvest.NAT_HARVESTER_LOCAL_ADDRESS=10.1.1.1\norg.ice4j.ice.harvest.NAT_HARVESTER_PUBLIC_ADDRESS=192.0.2.9\n"),
		},
		LocalAddresses: []string{"127.0.0.1"},
		ShowPasswords:  true,
	})
	if err != nil {
		t.Fatal(err)
	}
	a := res.XMPP.Client("a")
	switch {
	case res.Fatal != "" || len(res.Errors) > 0:
		t.Fatalf("fatal %q errors %v", res.Fatal, res.Errors)
	case res.XMPP.Source != "jvb.conf" || len(res.XMPP.Clients) != 1 || a == nil:
		t.Errorf("clients %+v from %q, want entry a only (b is incomplete)", res.XMPP.Clients, res.XMPP.Source)
	case deref(a.Password) != "p w" || deref(a.PasswordSHA256) != jvbread.SHA256("p w") || len(a.MucJIDs) != 2:
		t.Errorf("entry a: %+v", a)
	case deref(a.Smack.XMPPDomain) != "h.example" || deref(a.IQHandlerMode) != "sync" || deref(a.Smack.SecurityMode) != "required":
		t.Errorf("defaults: domain %q iq %q security %q", deref(a.Smack.XMPPDomain), deref(a.IQHandlerMode), deref(a.Smack.SecurityMode))
	case len(res.XMPP.Ignored) != 1 || strings.Join(res.XMPP.Ignored[0].Lacks, ",") != "password,muc_jids,muc_nickname":
		t.Errorf("ignored %+v", res.XMPP.Ignored)
	case len(res.ICE.StaticMappings) != 1 || res.ICE.StaticMappings[0].PublicAddress != "192.0.2.9":
		t.Errorf("legacy NAT keys: mappings %+v", res.ICE.StaticMappings)
	case res.REST.ColibriEnabled || res.REST.ShutdownEnabled || !res.REST.DrainEnabled || res.REST.APIsArgument != nil:
		t.Errorf("REST defaults: %+v", res.REST)
	case !res.Health.RequireValidAddress || !res.Health.ValidAddressKnown || len(res.Health.ValidLocalAddresses) != 0:
		t.Errorf("health: %+v", res.Health)
	}
}

func TestReadWithoutEnvironmentFile(t *testing.T) {
	r := jvbreadtest.ForTest(t)
	res, err := r.Read(context.Background(), jvbread.Input{Files: map[string][]byte{"/etc/jitsi/videobridge/jvb.conf": []byte("")}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Fatal, "EnvironmentFile /etc/jitsi/videobridge/config is missing") {
		t.Errorf("fatal = %q", res.Fatal)
	}
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
