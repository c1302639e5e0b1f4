package cli

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/jitsi-packer/packer-plugin-jitsi/internal/credfile"
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/node"
)

// specFlags are the flags that describe a node, shared by every command that
// issues or renders one.
type specFlags struct {
	role, fqdn, secretFile, nickname, format, shard string
	nat, publicIP, localIP                          string
	stun, extraShards                               listFlag
	localBridge                                     bool
	cert, certPath, keyPath, email                  string
	group, nodeRegistryURL, nodeRegistryCA          string
	allowWeakSecret                                 bool
	// generated, when set (issue --generate-secret), is the secret to use
	// instead of reading --secret-file.
	generated string
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func (f *specFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.role, "role", "", "node role: jms or jvb (required)")
	fs.StringVar(&f.fqdn, "jms-fqdn", "", "DNS name of the JMS, e.g. meet.example.org (required)")
	fs.StringVar(&f.secretFile, "secret-file", "", "file holding the JMS's bridge secret; - reads stdin (required)")
	fs.BoolVar(&f.allowWeakSecret, "allow-weak-secret", false, fmt.Sprintf("accept a secret estimated below %d bits (it is all that guards the JMS's XMPP bridge account)", node.MinSecretBits))
	fs.StringVar(&f.nickname, "nickname", "", "jvb: unique brewery nickname, e.g. jvb-001")
	fs.StringVar(&f.format, "format", "", "jvb: config format, modern (jvb.conf) or legacy (sip-communicator.properties) (default modern)")
	fs.StringVar(&f.shard, "shard", "", "jvb: id of the bridge's shard entry (default \""+node.DefaultShardID+"\")")
	fs.StringVar(&f.nat, "nat", "", "jvb: auto (find the public address at boot: cloud metadata, then STUN) or none (a private-only deployment) (default auto)")
	fs.StringVar(&f.publicIP, "public-ip", "", "jvb: public address to advertise behind NAT (a static mapping; wins over --nat auto)")
	fs.StringVar(&f.localIP, "local-ip", "", "jvb: private address the public one maps to (default: detected at boot)")
	fs.Var(&f.stun, "stun", "jvb: STUN server host:port (repeatable): asked at boot with --nat auto, and given to the bridge")
	fs.Var(&f.extraShards, "extra-shard", "jvb: another JMS this bridge serves, as id=ID,jms-fqdn=FQDN,secret-file=FILE (repeatable)")
	fs.BoolVar(&f.localBridge, "local-bridge", false, "jms: keep the JMS's own videobridge running")
	fs.StringVar(&f.cert, "cert", "", "jms: certificate: self-signed, own or letsencrypt (default self-signed)")
	fs.StringVar(&f.certPath, "cert-path", "", "jms: certificate path on the JMS (--cert own)")
	fs.StringVar(&f.keyPath, "key-path", "", "jms: key path on the JMS (--cert own)")
	fs.StringVar(&f.email, "email", "", "jms: e-mail for Let's Encrypt (--cert letsencrypt)")
	fs.StringVar(&f.group, "group", "", "jvb: user-data shared by an autoscaling group NAME: each bridge claims its nickname from the registry at boot")
	fs.StringVar(&f.nodeRegistryURL, "node-registry-url", "", "registry API URL as the nodes reach it; nodes report their state there with a credential of their own (needed with --group)")
	fs.StringVar(&f.nodeRegistryCA, "node-registry-ca", "", "PEM file of the CA (or self-signed certificate) the nodes trust for --node-registry-url")
}

// spec builds the node spec; it reads secret files but does not validate.
func (f *specFlags) spec(env Env) (node.Spec, error) {
	s := node.Spec{
		Role:        node.Role(f.role),
		JMSFQDN:     f.fqdn,
		Nickname:    f.nickname,
		ShardID:     f.shard,
		Format:      node.Format(f.format),
		NAT:         node.NAT{Mode: node.NATMode(f.nat), PublicAddress: f.publicIP, LocalAddress: f.localIP, STUNServers: f.stun},
		LocalBridge: f.localBridge,
		Cert:        node.Cert{Choice: node.CertChoice(f.cert), CertPath: f.certPath, KeyPath: f.keyPath, Email: f.email},
	}
	switch {
	case f.generated != "":
		s.Secret = f.generated
	case f.secretFile == "":
		return s, usageErrorf("--secret-file is required: the JMS's secret is read from a file (or - for stdin), never from a flag")
	default:
		secret, err := readSecret(env, "--secret-file", f.secretFile)
		if err != nil {
			return s, err
		}
		if err := f.checkStrength("--secret-file", secret); err != nil {
			return s, err
		}
		s.Secret = secret
	}
	s.Group = f.group
	if f.nodeRegistryCA != "" && f.nodeRegistryURL == "" {
		return s, usageErrorf("--node-registry-ca is the CA of --node-registry-url: give the URL too")
	}
	if f.nodeRegistryURL != "" {
		// The credential is minted by issue (one per node, or the group's
		// token), which records its hash.
		s.Registry = &node.RegistryLink{URL: f.nodeRegistryURL}
		if f.nodeRegistryCA != "" {
			pem, err := os.ReadFile(f.nodeRegistryCA)
			if err != nil {
				return s, usageErrorf("--node-registry-ca: %w", err)
			}
			s.Registry.CA = string(pem)
		}
	}
	for i, raw := range f.extraShards {
		sh, err := parseExtraShard(env, raw)
		if err != nil {
			return s, usageErrorf("--extra-shard #%d: %w", i+1, err)
		}
		if err := f.checkStrength(fmt.Sprintf("--extra-shard #%d", i+1), sh.Secret); err != nil {
			return s, err
		}
		s.ExtraShards = append(s.ExtraShards, sh)
	}
	return s, nil
}

func parseExtraShard(env Env, raw string) (node.Shard, error) {
	var sh node.Shard
	var file string
	for _, part := range strings.Split(raw, ",") {
		k, v, ok := strings.Cut(part, "=")
		switch {
		case !ok:
			return sh, fmt.Errorf("%q is not key=value: write id=ID,jms-fqdn=FQDN,secret-file=FILE", part)
		case k == "id":
			sh.ID = v
		case k == "jms-fqdn":
			sh.JMSFQDN = v
		case k == "secret-file":
			file = v
		default:
			return sh, fmt.Errorf("unknown key %q: use id, jms-fqdn and secret-file", k)
		}
	}
	if file == "" || file == "-" {
		return sh, fmt.Errorf("secret-file=FILE is required (stdin is reserved for --secret-file)")
	}
	secret, err := readSecret(env, "--extra-shard secret-file", file)
	if err != nil {
		return sh, err
	}
	sh.Secret = secret
	return sh, nil
}

// checkStrength refuses a secret estimated weaker than node.MinSecretBits,
// unless --allow-weak-secret, and says why. It never shows the secret.
func (f *specFlags) checkStrength(flagName, secret string) error {
	bits := node.SecretBits(secret)
	if f.allowWeakSecret || bits >= node.MinSecretBits || secret == "" {
		return nil
	}
	return usageErrorf("%s: the secret is too weak (estimated %.0f bits, under %d): it is the password of the JMS's jvb XMPP account, "+
		"the only thing between the internet and the JMS's XMPP server. Make a strong one with --generate-secret FILE "+
		"(or e.g. openssl rand -hex 32), or accept this one with --allow-weak-secret", flagName, bits, node.MinSecretBits)
}

// maxSecretFile bounds what is read from a secret file.
const maxSecretFile = 64 << 10

// readSecret reads a secret or token from a file ("-" = stdin) and removes
// one trailing newline, which editors and `echo` add. A file its group or
// others may read is refused (credfile's rule): the secret must be taken as
// leaked, and the operator learns it now.
func readSecret(env Env, flagName, path string) (string, error) {
	var b []byte
	if path == "-" {
		var err error
		if b, err = io.ReadAll(io.LimitReader(env.Stdin, maxSecretFile+1)); err != nil {
			return "", fmt.Errorf("read %s from stdin: %w", flagName, err)
		}
	} else {
		var err error
		if b, err = credfile.Read(path); err != nil {
			return "", usageErrorf("%s: %w", flagName, err)
		}
	}
	if len(b) > maxSecretFile {
		return "", usageErrorf("%s %s: larger than %d bytes; it should hold only the secret", flagName, path, maxSecretFile)
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	return string(b), nil
}
