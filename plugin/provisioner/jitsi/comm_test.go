package jitsi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
)

// recordingComm is packersdk.MockCommunicator that keeps the whole command
// plan (MockCommunicator remembers only the last call) and answers each
// command from respond.
type recordingComm struct {
	packersdk.MockCommunicator

	mu      sync.Mutex
	events  []string          // "run: CMD" and "upload: PATH" in order
	files   map[string]string // upload path → content
	modes   map[string]os.FileMode
	respond func(cmd string) (stdout, stderr string, exit int)
}

func newRecordingComm(respond func(cmd string) (string, string, int)) *recordingComm {
	return &recordingComm{files: map[string]string{}, modes: map[string]os.FileMode{}, respond: respond}
}

func (c *recordingComm) Start(ctx context.Context, rc *packersdk.RemoteCmd) error {
	c.mu.Lock()
	c.events = append(c.events, "run: "+rc.Command)
	c.mu.Unlock()
	stdout, stderr, exit := c.respond(rc.Command)
	c.MockCommunicator.StartStdout = stdout
	c.MockCommunicator.StartStderr = stderr
	c.MockCommunicator.StartExitStatus = exit
	return c.MockCommunicator.Start(ctx, rc)
}

func (c *recordingComm) Upload(path string, r io.Reader, fi *os.FileInfo) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, "upload: "+path)
	c.files[path] = string(data)
	if fi != nil {
		c.modes[path] = (*fi).Mode()
	}
	return nil
}

// machine answers like a supported machine where every step succeeds and the
// versions step reports the role's packages.
func machine(osRelease string, versionsOut string) func(string) (string, string, int) {
	return func(cmd string) (string, string, int) {
		switch {
		case cmd == OSReleaseCommand:
			return osRelease, "", 0
		case cmd == ArchCommand:
			return "x86_64\n", "", 0
		case strings.HasSuffix(cmd, " "+StepAgent):
			return "jitsi-provision: agent: installed\njitsi-node-version 0.1.0-test\n", "", 0
		case strings.HasSuffix(cmd, " "+StepVersions):
			return versionsOut, "", 0
		case strings.HasPrefix(cmd, "bash "):
			step := cmd[strings.LastIndex(cmd, " ")+1:]
			return fmt.Sprintf("jitsi-provision: %s: done\n", step), "", 0
		}
		return "", "", 0
	}
}

// lockedBuffer is an io.Writer safe for the UI's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// testUI is a real BasicUi writing stdout and stderr lines into one buffer.
func testUI() (packersdk.Ui, *lockedBuffer) {
	out := &lockedBuffer{}
	return &packersdk.BasicUi{Reader: strings.NewReader(""), Writer: out, ErrorWriter: out, PB: &packersdk.NoopProgressTracker{}}, out
}

func prepared(t *testing.T, raw map[string]interface{}) *Provisioner {
	t.Helper()
	var p Provisioner
	if err := p.Prepare(raw); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	return &p
}
