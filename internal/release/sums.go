package release

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Sum is one line of a SHA256SUMS file.
type Sum struct {
	SHA256 string // lower-case hex
	File   string // a file name in the same directory
}

// FormatSums renders sums as sha256sum does ("<hex>  <file>\n"), sorted by
// file name. Every line ends in a newline: Packer's getter drops a last
// line without one.
func FormatSums(sums []Sum) []byte {
	sorted := append([]Sum(nil), sums...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].File < sorted[j].File })
	var b bytes.Buffer
	for _, s := range sorted {
		fmt.Fprintf(&b, "%s  %s\n", s.SHA256, s.File)
	}
	return b.Bytes()
}

// ParseSums reads a SHA256SUMS file: every line "<64 hex>  <file>" (or
// sha256sum's binary marker "<64 hex> *<file>"), file names plain (no
// directory), each once. It reports every bad line at once.
func ParseSums(data []byte) ([]Sum, error) {
	var sums []Sum
	var errs []error
	seen := map[string]bool{}
	if len(data) > 0 && !bytes.HasSuffix(data, []byte("\n")) {
		errs = append(errs, errors.New("the last line does not end in a newline: Packer would ignore it"))
	}
	for i, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if line == "" && len(data) == 0 {
			break
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			errs = append(errs, fmt.Errorf("line %d: want \"<sha256>  <file>\", got %q", i+1, line))
			continue
		}
		sum, file := strings.ToLower(f[0]), strings.TrimPrefix(f[1], "*")
		if b, err := hex.DecodeString(sum); err != nil || len(b) != sha256.Size {
			errs = append(errs, fmt.Errorf("line %d: %q is not a SHA-256 in hex", i+1, f[0]))
			continue
		}
		if file != filepath.Base(file) || file == "." || file == ".." {
			errs = append(errs, fmt.Errorf("line %d: %q is not a plain file name", i+1, file))
			continue
		}
		if seen[file] {
			errs = append(errs, fmt.Errorf("line %d: %s is listed twice", i+1, file))
			continue
		}
		seen[file] = true
		sums = append(sums, Sum{SHA256: sum, File: file})
	}
	if len(sums) == 0 && len(errs) == 0 {
		errs = append(errs, errors.New("no checksums in it"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("parse checksums: %w", err)
	}
	return sums, nil
}

// SumFile is the SHA-256 of a file, in hex.
func SumFile(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("checksum %s: %w", path, err)
	}
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:]), nil
}

// VerifySums checks a release directory against its SHA256SUMS file at
// sumsPath: every listed file exists and has its sum, and every zip of the
// directory is listed. It reports every mismatch at once.
func VerifySums(sumsPath string) ([]Sum, error) {
	data, err := os.ReadFile(sumsPath)
	if err != nil {
		return nil, fmt.Errorf("verify release: %w", err)
	}
	sums, err := ParseSums(data)
	if err != nil {
		return nil, fmt.Errorf("verify release %s: %w", sumsPath, err)
	}
	dir := filepath.Dir(sumsPath)
	var errs []error
	listed := map[string]bool{}
	for _, s := range sums {
		listed[s.File] = true
		got, err := SumFile(filepath.Join(dir, s.File))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if got != s.SHA256 {
			errs = append(errs, fmt.Errorf("%s: sha256 %s, the checksum file says %s", s.File, got, s.SHA256))
		}
	}
	zips, err := filepath.Glob(filepath.Join(dir, "*.zip"))
	if err != nil {
		return nil, fmt.Errorf("verify release: %w", err)
	}
	for _, z := range zips {
		if !listed[filepath.Base(z)] {
			errs = append(errs, fmt.Errorf("%s: not listed in %s", filepath.Base(z), filepath.Base(sumsPath)))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("verify release %s: %w", sumsPath, err)
	}
	return sums, nil
}
