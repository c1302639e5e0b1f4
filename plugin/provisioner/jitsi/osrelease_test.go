package jitsi

import (
	"strings"
	"testing"
)

// osReleases are os-release files as the releases ship them (trimmed).
var osReleases = map[string]string{
	"ubuntu 18.04": "NAME=\"Ubuntu\"\nVERSION=\"18.04.6 LTS (Bionic Beaver)\"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"18.04\"\nVERSION_CODENAME=bionic\n",
	"ubuntu 20.04": "NAME=\"Ubuntu\"\nID=ubuntu\nVERSION_ID=\"20.04\"\nVERSION_CODENAME=focal\n",
	"ubuntu 22.04": "PRETTY_NAME=\"Ubuntu 22.04.4 LTS\"\nID=ubuntu\nVERSION_ID=\"22.04\"\n",
	"ubuntu 24.04": "PRETTY_NAME=\"Ubuntu 24.04.1 LTS\"\nID=ubuntu\nVERSION_ID=\"24.04\"\n",
	"debian 11":    "PRETTY_NAME=\"Debian GNU/Linux 11 (bullseye)\"\nVERSION_ID=\"11\"\nID=debian\n",
	"debian 12":    "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n",
	"debian 13":    "PRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"13\"\nVERSION=\"13 (trixie)\"\nVERSION_CODENAME=trixie\nID=debian\n",
}

func TestDetectOSSupported(t *testing.T) {
	for want, content := range osReleases {
		o, err := DetectOS(content)
		if err != nil {
			t.Errorf("%s: %v", want, err)
			continue
		}
		if o.String() != want || o.Codename == "" {
			t.Errorf("DetectOS = %+v, want %s with a codename", o, want)
		}
	}
}

func TestDetectOSUnsupported(t *testing.T) {
	cases := map[string]string{
		"fedora":        "NAME=\"Fedora Linux\"\nID=fedora\nVERSION_ID=39\nPRETTY_NAME=\"Fedora Linux 39\"\n",
		"debian 9":      "ID=debian\nVERSION_ID=\"9\"\n",
		"ubuntu 23.10":  "ID=ubuntu\nVERSION_ID=\"23.10\"\n",
		"debian sid":    "PRETTY_NAME=\"Debian GNU/Linux trixie/sid\"\nID=debian\n",
		"empty":         "",
		"single quoted": "ID='alpine'\nVERSION_ID='3.19'\n",
	}
	wantName := map[string]string{
		"fedora": `fedora 39 (Fedora Linux 39)`, "debian 9": "debian 9", "ubuntu 23.10": "ubuntu 23.10",
		"debian sid": "debian (Debian GNU/Linux trixie/sid)", "empty": "without ID", "single quoted": "alpine 3.19",
	}
	for name, content := range cases {
		_, err := DetectOS(content)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		msg := err.Error()
		for _, w := range []string{wantName[name], "is not supported", supportedList} {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: error %q lacks %q", name, msg, w)
			}
		}
	}
}

// supportedList is how DetectOS lists the releases it bakes.
const supportedList = "ubuntu 18.04, ubuntu 20.04, ubuntu 22.04, ubuntu 24.04, debian 11, debian 12, debian 13"

// TestDetectOSRetired: Debian 10, once listed, is refused with why and what
// to bake instead, not as an unknown release.
func TestDetectOSRetired(t *testing.T) {
	_, err := DetectOS("PRETTY_NAME=\"Debian GNU/Linux 10 (buster)\"\nVERSION_ID=\"10\"\nID=debian\n")
	if err == nil {
		t.Fatal("debian 10 accepted")
	}
	for _, w := range []string{"debian 10 (buster) is no longer supported", "Debian's mirror", "bake on debian 11 or newer"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
}

func TestParseOSReleaseQuoting(t *testing.T) {
	kv := ParseOSRelease("# comment\nA=\"x \\\"y\\\" \\$z\"\nB='lit\\n'\nC=plain\nbroken line\n")
	want := map[string]string{"A": `x "y" $z`, "B": `lit\n`, "C": "plain"}
	for k, v := range want {
		if kv[k] != v {
			t.Errorf("%s = %q, want %q", k, kv[k], v)
		}
	}
	if len(kv) != len(want) {
		t.Errorf("parsed %v, want only %v", kv, want)
	}
}
