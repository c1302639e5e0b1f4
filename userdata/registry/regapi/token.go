package regapi

import (
	"fmt"
	"strings"

	"github.com/jitsi-packer/packer-plugin-jitsi/internal/credfile"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
)

// MinTokenLen is the shortest bearer token accepted (e.g. `openssl rand -hex 32`
// makes 64 characters).
const MinTokenLen = node.MinTokenLen

// LoadToken reads a bearer token from a file: surrounding white space (the
// trailing newline) is dropped. The file must not be readable by group or
// others (credfile's rule, as for ssh keys).
func LoadToken(path string) (string, error) {
	data, err := credfile.Read(path)
	if err != nil {
		return "", fmt.Errorf("read token: %w", err)
	}
	tok := strings.TrimSpace(string(data))
	if err := CheckToken(tok); err != nil {
		return "", fmt.Errorf("read token %s: %w", path, err)
	}
	return tok, nil
}

// CheckToken says whether tok is acceptable as a bearer token.
func CheckToken(tok string) error {
	if len(tok) < MinTokenLen {
		return fmt.Errorf("the token is %d characters long: use at least %d (e.g. openssl rand -hex 32)", len(tok), MinTokenLen)
	}
	for _, c := range tok {
		if c <= ' ' || c > '~' {
			return fmt.Errorf("the token has a space, control or non-ASCII character: use printable ASCII")
		}
	}
	return nil
}
