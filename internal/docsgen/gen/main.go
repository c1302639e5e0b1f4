// Command gen regenerates docs-partials/ and .web-docs/ from the Config field
// comments and docs/ (see package docsgen). Run it from the repository root:
//
//	go run ./internal/docsgen/gen
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/jitsi-packer/packer-plugin-jitsi/internal/docsgen"
)

func main() {
	if err := docsgen.Generate(context.Background(), ".", "."); err != nil {
		fmt.Fprintln(os.Stderr, "docsgen:", err)
		os.Exit(1)
	}
}
