// Command mkrelease makes a packer-plugin-jitsi release in the layout Packer
// installs (see package release): for each platform a zip holding
// packer-plugin-jitsi_v<version>_x5.0_<os>_<arch>, and the SHA256SUMS file.
// `make release VERSION=x.y.z` runs it from the repository root after
// building the agents with that version; it needs the Makefile's
// CGO_LDFLAGS in its environment.
//
// Usage:
//
//	go run ./internal/release/mkrelease -version X.Y.Z [-out DIR] [-json] [PLATFORM...]
//
// PLATFORMs are linux/amd64 and linux/arm64 (the default: both). A foreign
// platform needs Debian's cross compiler, its libdqlite-dev and
// qemu-user-static to run the checks (`make deps-release`).
//
// Examples:
//
//	make release VERSION=0.2.0
//	go run ./internal/release/mkrelease -version 0.2.0 -out /tmp/rel linux/amd64
//
// SOURCE_DATE_EPOCH, when set, is the zip entries' time (default
// 1980-01-01). -preflight only checks that the release can be made
// (`make release` runs it before building the agents). Exit codes: 0 done,
// 1 failure, 2 bad arguments.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/internal/release"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mkrelease", flag.ContinueOnError)
	fs.SetOutput(stderr)
	version := fs.String("version", "", "release version, MAJOR.MINOR.PATCH (required)")
	out := fs.String("out", "release", "release directory (replaced as a whole)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	check := fs.Bool("preflight", false, "only check that the release can be made (arguments, tools, libraries); build nothing")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mkrelease -version X.Y.Z [-out DIR] [-json] [-preflight] [linux/amd64] [linux/arm64]")
		fmt.Fprintln(stderr, "example: go run ./internal/release/mkrelease -version 0.2.0 linux/amd64")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	var bad []error
	if err := release.CheckVersion(*version); err != nil {
		bad = append(bad, fmt.Errorf("-version: %w", err))
	}
	var platforms []release.Platform
	for _, a := range fs.Args() {
		p, err := release.ParsePlatform(a)
		if err != nil {
			bad = append(bad, err)
			continue
		}
		platforms = append(platforms, p)
	}
	mtime, err := sourceDateEpoch()
	if err != nil {
		bad = append(bad, err)
	}
	if len(bad) > 0 {
		fmt.Fprintln(stderr, "mkrelease:", errors.Join(bad...))
		return 2
	}
	root, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(stderr, "mkrelease:", err)
		return 1
	}

	opts := release.Options{
		Root: root, Version: *version, Platforms: platforms, Out: *out,
		Env: os.Environ(), Mtime: mtime, Log: stderr, CheckAgentVersion: true,
	}
	if *check {
		if err := release.Preflight(opts); err != nil {
			fmt.Fprintln(stderr, "mkrelease:", err)
			return 1
		}
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	results, err := release.Make(ctx, opts)
	if err != nil {
		fmt.Fprintln(stderr, "mkrelease:", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(results); err != nil {
			fmt.Fprintln(stderr, "mkrelease:", err)
			return 1
		}
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "PLATFORM\tZIP\tZIP MB\tBINARY MB\tBUILD\tGLIBC ≥\tSHARED LIBRARIES")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.1f\t%s\t%s\t%s\n", r.Platform, r.Zip, mb(r.ZipBytes), mb(r.BinaryBytes),
			r.Build.Round(time.Second), r.Glibc, strings.Join(r.Needed, " "))
	}
	tw.Flush()
	fmt.Fprintf(stdout, "%s/%s written in %s\n", *out, release.SumsName(*version), time.Since(start).Round(time.Second))
	return 0
}

func mb(n int64) float64 { return float64(n) / (1 << 20) }

// sourceDateEpoch is SOURCE_DATE_EPOCH (reproducible-builds.org) as a
// time, or the zero time (release.Epoch) when unset.
func sourceDateEpoch() (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return time.Time{}, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < release.Epoch.Unix() {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: want seconds since 1970, from 1980 on (zip times start there)", s)
	}
	return time.Unix(n, 0).UTC(), nil
}
