package jitsi

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Keyring turns a repository signing key, ASCII-armoured (as Jitsi publishes
// it) or binary, into the binary OpenPGP keyring apt's signed-by reads on
// every supported release. Doing it here keeps gnupg off the image.
// It refuses anything whose first packet is not a public key, private keys
// in particular.
func Keyring(data []byte) ([]byte, error) {
	bin := data
	if bytes.Contains(data, []byte("-----BEGIN PGP ")) {
		var err error
		if bin, err = dearmor(data); err != nil {
			return nil, err
		}
	}
	if err := checkPublicKey(bin); err != nil {
		return nil, err
	}
	return bin, nil
}

const armorPublicKey = "PUBLIC KEY BLOCK"

// dearmor decodes RFC 4880 section 6 ASCII armour and checks its CRC-24.
func dearmor(data []byte) ([]byte, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 4<<20)
	var (
		kind     string
		inBody   bool
		inHeader bool
		body     strings.Builder
		crc      string
	)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " \t\r")
		switch {
		case kind == "" && strings.HasPrefix(line, "-----BEGIN PGP ") && strings.HasSuffix(line, "-----"):
			kind = strings.TrimSuffix(strings.TrimPrefix(line, "-----BEGIN PGP "), "-----")
			if kind != armorPublicKey {
				return nil, fmt.Errorf("is a PGP %s, not the repository's public key", strings.ToLower(kind))
			}
			inHeader = true
		case kind == "":
			// text before the armour
		case strings.HasPrefix(line, "-----END PGP "):
			if !inBody && !inHeader {
				return nil, errors.New("armour has no body")
			}
			raw, err := base64.StdEncoding.DecodeString(body.String())
			if err != nil {
				return nil, fmt.Errorf("decode armour: %w", err)
			}
			if crc != "" {
				want, err := base64.StdEncoding.DecodeString(crc)
				if err != nil || len(want) != 3 {
					return nil, errors.New("armour checksum is malformed")
				}
				got := crc24(raw)
				if want[0] != byte(got>>16) || want[1] != byte(got>>8) || want[2] != byte(got) {
					return nil, errors.New("armour checksum does not match: the key file is damaged")
				}
			}
			return raw, nil
		case inHeader:
			// "Key: value" header lines end at the first blank line; armour
			// without headers starts its body right away.
			if line == "" {
				inHeader, inBody = false, true
			} else if !strings.Contains(line, ": ") {
				inHeader, inBody = false, true
				body.WriteString(line)
			}
		case inBody && strings.HasPrefix(line, "=") && len(line) == 5:
			crc = line[1:]
		case inBody:
			body.WriteString(line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read armour: %w", err)
	}
	return nil, errors.New("armour has no END line")
}

// crc24 is the OpenPGP armour checksum (RFC 4880 section 6.1).
func crc24(data []byte) uint32 {
	crc := uint32(0xB704CE)
	for _, b := range data {
		crc ^= uint32(b) << 16
		for i := 0; i < 8; i++ {
			crc <<= 1
			if crc&0x1000000 != 0 {
				crc ^= 0x1864CFB
			}
		}
	}
	return crc & 0xFFFFFF
}

// OpenPGP packet tags (RFC 4880 section 4.3).
const (
	tagSecretKey = 5
	tagPublicKey = 6
)

// checkPublicKey checks that bin starts with a public-key packet.
func checkPublicKey(bin []byte) error {
	if len(bin) == 0 {
		return errors.New("is empty; give the repository's OpenPGP public key")
	}
	b := bin[0]
	if b&0x80 == 0 {
		return errors.New("is not an OpenPGP key (neither armoured nor binary)")
	}
	tag := int(b & 0x3f) // new packet format
	if b&0x40 == 0 {
		tag = int(b>>2) & 0x0f // old packet format
	}
	switch tag {
	case tagPublicKey:
		return nil
	case tagSecretKey:
		return errors.New("is a private key; give the repository's public key")
	default:
		return fmt.Errorf("starts with OpenPGP packet type %d, not a public key", tag)
	}
}
