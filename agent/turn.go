package agent

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"strings"

	"github.com/jitsi-packer/packer-plugin-jitsi/agent/system"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
)

// turnSecret returns the node's TURN secret, made at its first boot and
// kept root-only; made reports whether this run made it.
func (a *Agent) turnSecret() (secret string, made bool, err error) {
	data, err := a.fs.ReadFile(jitsi.TurnSecretState)
	switch {
	case err == nil:
		secret = strings.TrimSpace(string(data))
		if p := jitsi.TurnSecretProblem(secret); p != "" {
			return "", false, fmt.Errorf("%s: the TURN secret %s: remove the file to make a new one", jitsi.TurnSecretState, p)
		}
		a.log.secret(secret)
		return secret, false, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", false, fmt.Errorf("read the TURN secret: %w", err)
	}
	secret, err = randomString(jitsi.TurnSecretAlphabet, jitsi.TurnSecretLength)
	if err != nil {
		return "", false, fmt.Errorf("make the TURN secret: %w", err)
	}
	a.log.secret(secret)
	if _, err := a.fs.Write(system.File{Path: jitsi.TurnSecretState, Owner: jitsi.RootOwner, Mode: stateModeSecret, Content: []byte(secret + "\n")}); err != nil {
		return "", false, err
	}
	return secret, true, nil
}

// randomString draws n characters of alphabet uniformly (crypto/rand).
func randomString(alphabet string, n int) (string, error) {
	out := make([]byte, n)
	max := big.NewInt(int64(len(alphabet)))
	for i := range out {
		k, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", err
		}
		out[i] = alphabet[k.Int64()]
	}
	return string(out), nil
}

// forgetDebconfTurnSecret resets jitsi-meet-prosody's turn-secret question
// once the packages have read it: it is a string question, kept in the
// world-readable config.dat, and the save after a change keeps the
// previous file as config.dat-old, so it is reset until neither holds it.
func (a *Agent) forgetDebconfTurnSecret(ctx context.Context, secret string) error {
	for try := 0; try < 3; try++ {
		if _, err := a.run.Run(ctx, system.Cmd{Name: "debconf-communicate", Args: []string{jitsi.PkgMeetProsody},
			Stdin: []byte("RESET " + jitsi.QTurnSecret + "\n")}); err != nil {
			return fmt.Errorf("reset debconf %s: %w", jitsi.QTurnSecret, err)
		}
		if left := a.filesHolding(secret, jitsi.DebconfConfigDBs); len(left) == 0 {
			return nil
		}
	}
	return fmt.Errorf("reset debconf %s: %s still holds the TURN secret", jitsi.QTurnSecret,
		strings.Join(a.filesHolding(secret, jitsi.DebconfConfigDBs), ", "))
}

// filesHolding lists the files of paths whose content holds secret.
func (a *Agent) filesHolding(secret string, paths []string) []string {
	var out []string
	for _, p := range paths {
		if data, err := a.fs.ReadFile(p); err == nil && bytes.Contains(data, []byte(secret)) {
			out = append(out, p)
		}
	}
	return out
}

// applyTurn makes coturn serve TURN with the node's secret and its own
// copies of the web certificate, and closes prosody's vhost config (it
// holds the secret as external_service_secret; the package makes it
// world-readable). It returns what changed.
func (a *Agent) applyTurn(ctx context.Context, s node.Spec, secret string) ([]string, error) {
	var changed []string
	host := jitsi.ProsodyHostConfig(s.JMSFQDN)
	if data, err := a.fs.ReadFile(host); err == nil {
		d, err := a.fs.Write(system.File{Path: host, Owner: jitsi.ProsodyOwner, Mode: 0o640, Content: data})
		if err != nil {
			return nil, err
		}
		if d.Changed() {
			a.log.printf("%s: %s (it holds the TURN secret)", host, d)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read prosody's vhost config: %w", err)
	}
	if !a.fs.Exists(jitsi.TurnServerConfig) {
		return nil, fmt.Errorf("%s is missing: the image has no %s; bake it again", jitsi.TurnServerConfig, jitsi.PkgCoturn)
	}
	crtPath, keyPath := jitsi.WebCert(s)
	crt, err := a.fs.ReadFile(crtPath)
	if err != nil {
		return nil, fmt.Errorf("read the web certificate for coturn: %w", err)
	}
	key, err := a.fs.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("read the web certificate's key for coturn: %w", err)
	}
	files, err := jitsi.TurnFiles(s.JMSFQDN, secret, crt, key)
	if err != nil {
		return nil, err
	}
	written, err := a.writeFiles(files)
	if err != nil {
		return nil, err
	}
	if len(written) > 0 {
		changed = append(changed, "TURN server")
		a.log.printf("coturn: TURN on %d/udp and TLS %d/tcp for %s (%s)", jitsi.TurnPort, jitsi.TurnsPort, s.JMSFQDN, strings.Join(written, ", "))
	}
	return changed, nil
}
