package agent

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

// logger writes "jitsi-node: …" lines with every registered secret
// replaced, whatever the message (a program's stderr, an error chain).
type logger struct {
	mu      sync.Mutex
	w       io.Writer
	secrets []string
}

func newLogger(w io.Writer) *logger {
	if w == nil {
		w = os.Stderr
	}
	return &logger{w: w}
}

// minSecret: shorter values are not redacted (they would blank out words).
const minSecret = 4

// secret registers values that must never be shown.
func (l *logger) secret(values ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, v := range values {
		if len(v) >= minSecret {
			l.secrets = append(l.secrets, v)
		}
	}
	// Longest first, so a secret holding another is replaced whole.
	sort.Slice(l.secrets, func(i, j int) bool { return len(l.secrets[i]) > len(l.secrets[j]) })
}

// redact replaces every registered secret in s.
func (l *logger) redact(s string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, v := range l.secrets {
		s = strings.ReplaceAll(s, v, "[redacted]")
	}
	return s
}

func (l *logger) printf(format string, a ...any) {
	msg := l.redact(fmt.Sprintf(format, a...))
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "jitsi-node: %s\n", strings.TrimRight(msg, "\n"))
}

// Reason turns a message into a registry reason: secrets redacted, one line
// of printable UTF-8, at most regapi.MaxReasonBytes.
func (l *logger) reason(s string) string { return Reason(l.redact(s)) }

// Reason makes s acceptable as a node's state reason (the registry's
// rule): invalid UTF-8 is dropped, every non-printing character becomes a
// space, and it is cut on a character boundary to regapi.MaxReasonBytes.
func Reason(s string) string {
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(s, "") {
		if !unicode.IsGraphic(r) || r == utf8.RuneError {
			r = ' '
		}
		if b.Len()+utf8.RuneLen(r) > regapi.MaxReasonBytes {
			break
		}
		b.WriteRune(r)
	}
	return strings.TrimSpace(b.String())
}

// Redact replaces every secret the agent has seen in s.
func (a *Agent) Redact(s string) string { return a.log.redact(s) }
