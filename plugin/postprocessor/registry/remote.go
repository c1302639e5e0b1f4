package registry

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"net/url"
	"os"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
)

// prepareRemote checks the registry_url settings and reads the token (kept
// in memory, registered with Packer's log filter, never printed).
func (c *Config) prepareRemote(add func(string, ...any)) {
	u, err := url.Parse(c.RegistryURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		add("registry_url: %q is not an http(s) URL; use e.g. https://registry.example.org:8443", c.RegistryURL)
	} else if u.User != nil {
		add("registry_url: must not carry credentials; put the token in registry_token_file")
	}
	if c.RegistryTokenFile == "" {
		add("registry_token_file: required with registry_url: a file (mode 0600) holding the API's operator token")
	} else if tok, err := regapi.LoadToken(c.RegistryTokenFile); err != nil {
		add("registry_token_file: %v", err)
	} else {
		c.token = tok
		packersdk.LogSecretFilter.Set(tok)
	}
	if c.RegistryCAFile != "" {
		if _, err := os.Stat(c.RegistryCAFile); err != nil {
			add("registry_ca_file: %v", err)
		}
	}
}
