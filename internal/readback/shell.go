package readback

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"
)

// ShellAssignments runs data with a POSIX shell interpreter that can execute
// nothing (no external commands, no files) and returns the variables it set.
func ShellAssignments(data string) (map[string]string, error) {
	file, err := syntax.NewParser(syntax.Variant(syntax.LangPOSIX)).Parse(strings.NewReader(data), "config")
	if err != nil {
		return nil, fmt.Errorf("shell: %w", err)
	}
	deny := func(ctx context.Context, args []string) error {
		return fmt.Errorf("shell: the file runs a command (%s)", args[0])
	}
	r, err := interp.New(
		interp.Env(expand.ListEnviron()),
		interp.StdIO(nil, io.Discard, io.Discard),
		interp.ExecHandlers(func(next interp.ExecHandlerFunc) interp.ExecHandlerFunc { return deny }),
		interp.OpenHandler(func(ctx context.Context, path string, flag int, perm os.FileMode) (io.ReadWriteCloser, error) {
			return nil, fmt.Errorf("shell: the file opens %s", path)
		}),
	)
	if err != nil {
		return nil, err
	}
	if err := r.Run(context.Background(), file); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for name, v := range r.Vars {
		if v.Kind == expand.String {
			out[name] = v.Str
		}
	}
	return out, nil
}
