package jvbread

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Input is a bridge's files and boot-time facts.
type Input struct {
	// Files maps absolute node paths (e.g. /etc/jitsi/videobridge/jvb.conf)
	// to contents. The bridge reads /etc/jitsi/videobridge/{config,jvb.conf,
	// sip-communicator.properties} (config is the unit's EnvironmentFile).
	Files map[string][]byte
	// Env is what the unit's drop-ins add to the service's environment
	// (Environment= lines). It goes on the fixture's command line: no secrets.
	Env map[string]string
	// LocalAddresses are the node's interface addresses (health rule input).
	LocalAddresses []string
	// ShowPasswords makes the report carry passwords in clear, not only their SHA-256.
	ShowPasswords bool
}

// Read lays in.Files out under a private scratch root, starts the fixture as
// the package starts the bridge, and returns what Jitsi's libraries read. A
// bridge that would not start is a Result with Fatal set, not an error.
func (r *Reader) Read(ctx context.Context, in Input) (*Result, error) {
	root, err := os.MkdirTemp("", "jvbread-")
	if err != nil {
		return nil, fmt.Errorf("create scratch root: %w", err)
	}
	defer os.RemoveAll(root)
	if err := layOut(root, in.Files); err != nil {
		return nil, err
	}
	args := []string{"-XX:TieredStopAtLevel=1"}
	if r.archive != "" {
		args = append(args, "-XX:SharedArchiveFile="+r.archive)
	}
	args = append(args, "-cp", r.classpath, "fixture.jvbreader.LauncherKt", "--root", root)
	if r.archive != "" {
		args = append(args, "--class-archive", r.archive)
	}
	names := make([]string, 0, len(in.Env))
	for k := range in.Env {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		args = append(args, "--env", k+"="+in.Env[k])
	}
	for _, a := range in.LocalAddresses {
		args = append(args, "--local-address", a)
	}
	if in.ShowPasswords {
		args = append(args, "--show-passwords")
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, r.java, args...)
	cmd.Env = launcherEnv()
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("run jvb-config-reader: %w\n%s", err, tail(stderr.String(), 30))
	}
	var res Result
	dec := json.NewDecoder(&stdout)
	dec.DisallowUnknownFields() // the fixture and this package change together
	if err := dec.Decode(&res); err != nil {
		return nil, fmt.Errorf("decode jvb-config-reader's report: %w\n%s", err, tail(stderr.String(), 30))
	}
	return &res, nil
}

// layOut writes files under root (directories 0700, files 0600: they hold secrets).
func layOut(root string, files map[string][]byte) error {
	var bad []string
	for p := range files {
		if !path.IsAbs(p) || path.Clean(p) != p || p == "/" {
			bad = append(bad, fmt.Sprintf("%q", p))
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return errors.New("lay out bridge files: paths must be absolute and clean: " + strings.Join(bad, ", "))
	}
	for p, data := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o700); err != nil {
			return fmt.Errorf("lay out bridge files: %w", err)
		}
		if err := os.WriteFile(full, data, 0o600); err != nil {
			return fmt.Errorf("lay out bridge files: %w", err)
		}
	}
	return nil
}

// launcherEnv is the fixture launcher's own environment (the bridge's is built
// by the launcher). It hands non-ASCII values on in its locale's charset.
func launcherEnv() []string { return []string{"LANG=C.UTF-8", "PATH=" + os.Getenv("PATH")} }
