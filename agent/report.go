package agent

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/jitsi"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

// registryClient is a client of the node's registry with credential.
func (a *Agent) registryClient(link *node.RegistryLink, credential string) (*regapi.Client, error) {
	opts := []regapi.ClientOption{regapi.WithRetryFor(a.opts.RegistryAttempt)}
	if link.CA != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(link.CA)) {
			return nil, fmt.Errorf("registry CA: holds no PEM certificate")
		}
		opts = append(opts, regapi.WithRootCAs(pool))
	}
	c, err := regapi.NewClient(link.URL, credential, opts...)
	if err != nil {
		return nil, fmt.Errorf("registry client: %v", a.log.redact(err.Error()))
	}
	return c, nil
}

// reportWith sends the node's state with credential link.Credential. A
// report that does not arrive is logged, never fatal: the node's own log
// and AppliedState/FailedState tell the same.
func (a *Agent) reportWith(ctx context.Context, link *node.RegistryLink, st regapi.State, why string) {
	if link == nil || link.Credential == "" {
		return
	}
	c, err := a.registryClient(link, link.Credential)
	if err != nil {
		a.log.printf("registry: could not report %s: %v", st, err)
		return
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 3*a.opts.RegistryAttempt)
	defer cancel()
	n, err := c.SendReport(ctx, regapi.Report{State: st, Reason: a.log.reason(why), ImageID: a.imageID()})
	if err != nil {
		a.log.printf("registry: could not report %s: %v", st, err)
		return
	}
	a.log.printf("registry: %s %s of %s is %s", n.Role, n.Nickname, n.Shard, n.State)
}

// imageID is the build id of the image this node booted, from the stamp
// the jitsi provisioner baked in (jitsi.ImageStampFile); "" for an image
// baked before stamps. The agent sends it with its claim and its reports,
// so that the registry links the node to its image.
func (a *Agent) imageID() string {
	data, err := a.fs.ReadFile(jitsi.ImageStampFile)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			a.log.printf("image stamp: %v", err)
		}
		return ""
	}
	s, err := regapi.ParseImageStamp(data)
	if err != nil {
		a.log.printf("%s: %v: the registry will not know this node's image", jitsi.ImageStampFile, err)
		return ""
	}
	return s.BuildID
}
