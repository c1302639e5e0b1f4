// Package cloudinit is the typed subset of cloud-init's #cloud-config that the
// project emits. Documents are built from these structs and marshalled with
// yaml.v3, never from text templates, so no value can change the document's
// structure.
package cloudinit

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"io/fs"

	"gopkg.in/yaml.v3"
)

// Header is the first line cloud-init requires of a cloud-config document.
const Header = "#cloud-config\n"

// Config is a #cloud-config document. Field order is output order.
type Config struct {
	Hostname       string      `yaml:"hostname,omitempty"`
	FQDN           string      `yaml:"fqdn,omitempty"`
	PreferFQDN     bool        `yaml:"prefer_fqdn_over_hostname,omitempty"`
	ManageEtcHosts bool        `yaml:"manage_etc_hosts,omitempty"`
	WriteFiles     []WriteFile `yaml:"write_files,omitempty"`
	// RunCmd entries are argv lists (no shell parsing on the node).
	RunCmd [][]string `yaml:"runcmd,omitempty"`
}

// WriteFile is one write_files entry.
type WriteFile struct {
	Path    string `yaml:"path"`
	Content string `yaml:"content"`
	Owner   string `yaml:"owner"`
	// Permissions is a quoted octal string such as "0640" (see Permissions).
	Permissions string `yaml:"permissions"`
	// Encoding of Content: "" for plain text, EncodingGzipBase64 for
	// Compressed content.
	Encoding string `yaml:"encoding,omitempty"`
	// Defer writes the file in cloud-init's final stage, after packages and
	// the users that own the file exist.
	Defer bool `yaml:"defer,omitempty"`
}

// EncodingGzipBase64 is cloud-init's gzip-then-base64 content encoding.
const EncodingGzipBase64 = "gz+b64"

// Compressed returns data gzipped (best compression, no name or time in the
// header, so the same data always gives the same bytes) and base64-encoded,
// for a WriteFile with Encoding EncodingGzipBase64. Large files keep
// user-data under cloud providers' limits (16 KiB on EC2).
func Compressed(data []byte) string {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // the level is valid
	zw.Write(data)                                           // writes to a bytes.Buffer do not fail
	zw.Close()
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

// Permissions formats a mode as cloud-init expects: four octal digits in a string.
func Permissions(m fs.FileMode) string { return fmt.Sprintf("%04o", m.Perm()) }

// Marshal renders the document: the #cloud-config header, then YAML with
// two-space indentation. The same Config always yields the same bytes.
func (c Config) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(Header)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("marshal cloud-config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("marshal cloud-config: %w", err)
	}
	return buf.Bytes(), nil
}
