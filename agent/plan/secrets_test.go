package plan

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/jitsi-packer/packer-plugin-jitsi/internal/readback"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/testvectors"
)

// nastySecrets look like what a plan prints: keys, values, paths, JSON,
// escapes, words of the plan's own text, and a short one (masked where a
// value equals it). A secret equal to a whole name the plan must show (a
// nickname, the JMS's FQDN) cannot be told from that name and is not here.
var nastySecrets = []string{
	testvectors.NastySecret,
	`"}],"files":[{"path":"/etc/x`,
	"meet.example.org jvb-001 true 5222",
	"password = *** \\u0041 ${HOME} $(id) `id` ü😀",
	"0123456789abcdef0123456789abcdef",
	"s3",
}

// TestSecretsNeverInAPlan feeds nasty secrets and credentials through
// every role and format and looks for them, and for their escaped forms,
// in the text and the JSON of each plan and of diffs.
func TestSecretsNeverInAPlan(t *testing.T) {
	nodeCred, _ := regapi.NewCredential(regapi.CredentialNode)
	groupCred, _ := regapi.NewCredential(regapi.CredentialGroup)
	for _, secret := range nastySecrets {
		for name, s := range testvectors.Cases() {
			s.Secret = secret
			extra := "second: " + secret + " !"
			for i := range s.ExtraShards {
				s.ExtraShards[i].Secret = extra
			}
			cred := nodeCred
			if s.Group != "" {
				cred = groupCred
			}
			if s.Registry != nil {
				link := *s.Registry
				link.Credential = cred
				s.Registry = &link
			}
			if err := validate(s); err != nil {
				t.Logf("%s with secret %q: %v (skipped)", name, secret, err)
				continue
			}
			p := planOfSpec(t, s)
			text, js := texts(t, p)
			other := s
			other.Secret = secret + "-rotated"
			var dt, dj bytes.Buffer
			changes := Diff(p, planOfSpec(t, other))
			_ = WriteDiffText(&dt, changes)
			_ = DiffJSON(&dj, changes)
			for _, out := range []string{text, js, dt.String(), dj.String()} {
				for _, v := range append(forms(secret), append(forms(extra), cred)...) {
					if v != "" && strings.Contains(out, v) {
						t.Fatalf("%s: the plan holds a secret (%q):\n%s", name, v, out)
					}
				}
			}
			if !strings.Contains(dt.String(), "*** → *** (the secret changes)") {
				t.Errorf("%s: a rotated secret is not told as changed:\n%s", name, dt.String())
			}
			var back any
			if err := json.Unmarshal([]byte(js), &back); err != nil {
				t.Errorf("%s: the JSON plan does not parse: %v", name, err)
			}
		}
	}
}

// forms are a secret as the files and outputs could spell it.
func forms(secret string) []string {
	js, _ := json.Marshal(secret)
	out := []string{secret, strings.Trim(string(js), `"`)}
	if len(secret) < minContained {
		// A short secret is masked where a value equals it; as a part of
		// ordinary text it is indistinguishable from that text.
		out = out[:0]
	}
	props := jitsi.PropertiesValue(secret)
	hocon := jitsi.HOCONString(secret)
	shell := jitsi.ShellValue(secret)
	for _, f := range []string{props, hocon, shell} {
		if f != secret && len(f) >= minContained {
			out = append(out, f)
		}
	}
	return out
}

// validate is what Render checks.
func validate(s node.Spec) error {
	if s.Group != "" {
		return s.ValidatePending()
	}
	return s.Validate()
}

// TestReadBackAgreesWithTheRenderers guards the key reading itself: what
// the plan shows for the password is what the real readers read.
func TestReadBackAgreesWithTheRenderers(t *testing.T) {
	s := testvectors.Cases()["jvb-legacy"]
	files, err := jitsi.BridgeFiles(s, jitsi.Boot{Nickname: s.Nickname})
	if err != nil {
		t.Fatal(err)
	}
	kv, err := fileSettings(files[1].Path, files[1].Content)
	if err != nil {
		t.Fatal(err)
	}
	props, _ := readback.JavaProperties(string(files[1].Content))
	if kv["org.jitsi.videobridge.xmpp.user.shard.PASSWORD"] != s.Secret || props["org.jitsi.videobridge.xmpp.user.shard.PASSWORD"] != s.Secret {
		t.Errorf("the properties reader does not read the secret back")
	}
	var sec secrets = newSecrets([]string{s.Secret})
	if st := sec.setting("org.jitsi.videobridge.xmpp.user.shard.PASSWORD", s.Secret); !st.Secret || st.Value != Masked {
		t.Errorf("the password is shown: %+v", st)
	}
	if st := sec.setting("some.key", "x "+s.Secret+" y"); !st.Secret {
		t.Errorf("a value holding the secret is shown: %+v", st)
	}
	if st := sec.setting("registry_credential", "jnode_whatever"); !st.Secret {
		t.Errorf("a credential key is shown: %+v", st)
	}
}
