package jitsi

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

func TestKeyringArmouredEqualsBinary(t *testing.T) {
	armoured, err := os.ReadFile("test-fixtures/repo-key.asc")
	if err != nil {
		t.Fatal(err)
	}
	binary, err := os.ReadFile("test-fixtures/repo-key.gpg")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Keyring(armoured)
	if err != nil {
		t.Fatalf("Keyring(armoured): %v", err)
	}
	if !bytes.Equal(got, binary) {
		t.Fatalf("dearmoured key differs from gpg --export (%d vs %d bytes)", len(got), len(binary))
	}
	same, err := Keyring(binary)
	if err != nil || !bytes.Equal(same, binary) {
		t.Fatalf("Keyring(binary) = %d bytes, %v; want the input unchanged", len(same), err)
	}
	// CRLF line ends and text around the armour (as web pages serve it) are fine.
	crlf := "Jitsi key:\r\n" + strings.ReplaceAll(string(armoured), "\n", "\r\n") + "\r\nend\r\n"
	if got, err := Keyring([]byte(crlf)); err != nil || !bytes.Equal(got, binary) {
		t.Fatalf("Keyring(CRLF armour) = %v", err)
	}
}

func TestKeyringRejects(t *testing.T) {
	armoured, _ := os.ReadFile("test-fixtures/repo-key.asc")
	noEnd := strings.Split(string(armoured), "-----END")[0]
	cases := map[string]struct {
		in   []byte
		want string
	}{
		"empty":          {nil, "is empty"},
		"text":           {[]byte("hello"), "is not an OpenPGP key"},
		"secret binary":  {[]byte{0x94, 0x01, 0x02}, "is a private key"},
		"secret new fmt": {[]byte{0xc5, 0x01, 0x02}, "is a private key"},
		"signature":      {[]byte{0x88, 0x01, 0x02}, "packet type 2, not a public key"},
		"no end":         {[]byte(noEnd), "armour has no END line"},
		"message":        {[]byte("-----BEGIN PGP MESSAGE-----\n\nAA==\n-----END PGP MESSAGE-----\n"), "is a PGP message"},
		"bad base64":     {[]byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n!!!!\n-----END PGP PUBLIC KEY BLOCK-----\n"), "decode armour"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Keyring(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Keyring = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestCRC24(t *testing.T) {
	// RFC 4880's CRC-24 of the empty input is its init value.
	if got := crc24(nil); got != 0xB704CE {
		t.Fatalf("crc24(nil) = %06x", got)
	}
	if crc24([]byte("a")) == crc24([]byte("b")) {
		t.Fatal("crc24 does not depend on its input")
	}
}
