// Package cloudinit is the typed subset of cloud-init's #cloud-config that the
// project emits. Documents are built from these structs and marshalled with
// yaml.v3, never from text templates, so no value can change the document's
// structure.
package cloudinit

import (
	"fmt"
	"io/fs"

	"github.com/jitsi-packer/packer-plugin-jitsi/internal/yamldoc"
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
	// RunCmd entries are lines of the /bin/sh script cloud-init runs in
	// its final stage. They hold no secret (the script file and the
	// process list are readable on the node).
	RunCmd []string `yaml:"runcmd,omitempty"`
}

// WriteFile is one write_files entry.
type WriteFile struct {
	Path    string `yaml:"path"`
	Content string `yaml:"content"`
	// Owner is "user:group"; empty means cloud-init's default, root:root.
	Owner string `yaml:"owner,omitempty"`
	// Permissions is a quoted octal string such as "0640" (see Permissions).
	Permissions string `yaml:"permissions"`
}

// Permissions formats a mode as cloud-init expects: four octal digits in a string.
func Permissions(m fs.FileMode) string { return fmt.Sprintf("%04o", m.Perm()) }

// Marshal renders the document: the #cloud-config header, then YAML with
// two-space indentation. The same Config always yields the same bytes.
func (c Config) Marshal() ([]byte, error) { return c.MarshalWith(yamldoc.NewWriter()) }

// MarshalWith is Marshal on w (a node's documents share one encoder).
func (c Config) MarshalWith(w *yamldoc.Writer) ([]byte, error) {
	out, err := w.Marshal(Header, c)
	if err != nil {
		return nil, fmt.Errorf("marshal cloud-config: %w", err)
	}
	return out, nil
}
