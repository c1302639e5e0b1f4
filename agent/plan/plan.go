// Package plan tells what a node's first boot will do, from the user-data
// this project made for it, before any machine boots: the node and its
// shards, every file cloud-init and the node agent write (owner, mode and the
// keys each sets), the Debian packages and debconf answers of a JMS, the
// services (re)started and enabled, the registry claim and reports, and the
// NAT mode with what is only decided at boot.
//
// It computes this with the node agent's own code: the user-data's node.yaml
// and secrets.yaml are read by agent.ReadNodeConfig, the files come from the
// role model (jitsi.BridgeFiles, jitsi.AgentUnits, jitsi.DebconfSeed) and the
// order of services, the NAT decision and the agent's records from the pure
// functions of package agent that apply itself follows. A test runs the
// agent's apply on the same user-data in a scratch root and checks that it
// writes exactly the files the plan lists.
//
// Secrets — shard secrets, the JMS secret, registry credentials and group
// tokens — are never in a plan: their values read "***" (Setting.Secret);
// only a keyed digest, kept in memory for Diff, tells whether one changed.
//
// # JSON (packer-plugin-jitsi plan --json)
//
// The field names below are stable; new fields may be added.
//
//	source                 where the user-data was read from
//	node                   role, jms_fqdn, nickname ("" for a group bridge: claimed at boot),
//	                       group, format (jvb), hostname (set by cloud-init; a group bridge's at claim)
//	shards[]               id, jms_fqdn, xmpp_server (host:port), account (jvb@auth.…), brewery (MUC JID)
//	registry               null, or url, custom_ca, credential ("node" or "group"), claim ("issued":
//	                       the nickname was given at issue; "group": claimed at boot), reports[]
//	nat                    null (a JMS), or mode (auto|static|none), local_address, public_address
//	                       ("" = found at boot), stun_servers[], at_boot (what boot decides)
//	files[]                path, owner, mode (octal string), written_by (cloud-init|jitsi-node),
//	                       kind (file|link|record), target (links), purpose, when (if not always),
//	                       settings[] of {key, value, secret, at_boot}
//	debconf[]              a JMS's debconf answers: {key ("package question type"), value, secret}
//	packages[]             a JMS's packages, installed from the image's apt cache when missing
//	commands[]             {run, stdin, when}: programs apply runs (stdin never shown)
//	services[]             {unit, action, if_present, note}, in the order apply handles them
//	at_boot[]              what only the boot can tell, one sentence each
package plan

// Plan is what a node's first boot will do.
type Plan struct {
	Source   string    `json:"source,omitempty"`
	Node     Node      `json:"node"`
	Shards   []Shard   `json:"shards,omitempty"`
	Registry *Registry `json:"registry"`
	NAT      *NAT      `json:"nat"`
	Files    []File    `json:"files"`
	Debconf  []Setting `json:"debconf,omitempty"`
	Packages []string  `json:"packages,omitempty"`
	Commands []Command `json:"commands,omitempty"`
	Services []Service `json:"services"`
	AtBoot   []string  `json:"at_boot,omitempty"`
}

// Node is the node the user-data configures.
type Node struct {
	Role     string `json:"role"`
	JMSFQDN  string `json:"jms_fqdn"`
	Nickname string `json:"nickname,omitempty"`
	Group    string `json:"group,omitempty"`
	Format   string `json:"format,omitempty"`
	Hostname string `json:"hostname,omitempty"`
}

// Shard is one JMS a bridge serves.
type Shard struct {
	ID         string `json:"id"`
	JMSFQDN    string `json:"jms_fqdn"`
	XMPPServer string `json:"xmpp_server"`
	Account    string `json:"account"`
	Brewery    string `json:"brewery"`
}

// Registry is what the node does with the registry.
type Registry struct {
	URL      string `json:"url"`
	CustomCA bool   `json:"custom_ca"`
	// Credential is the kind the user-data carries: "node" (its own
	// credential) or "group" (its group's token). Never the value.
	Credential string `json:"credential"`
	// Claim is "issued" (the nickname was given at issue) or "group" (the
	// bridge claims an identity in Node.Group at boot).
	Claim   string   `json:"claim"`
	Reports []string `json:"reports"`
}

// NAT is how a bridge advertises its public address.
type NAT struct {
	Mode          string   `json:"mode"`
	LocalAddress  string   `json:"local_address,omitempty"`
	PublicAddress string   `json:"public_address,omitempty"`
	STUNServers   []string `json:"stun_servers,omitempty"`
	AtBoot        string   `json:"at_boot,omitempty"`
}

// File is one file written at first boot.
type File struct {
	Path      string    `json:"path"`
	Owner     string    `json:"owner"`
	Mode      string    `json:"mode"`
	WrittenBy string    `json:"written_by"`
	Kind      string    `json:"kind"`
	Target    string    `json:"target,omitempty"`
	Purpose   string    `json:"purpose,omitempty"`
	When      string    `json:"when,omitempty"`
	Settings  []Setting `json:"settings,omitempty"`
}

// Kinds of File.
const (
	KindFile   = "file"   // a config file or unit
	KindLink   = "link"   // a symlink (an enabled unit)
	KindRecord = "record" // the agent's own record under /var/lib/jitsi-node
	KindCopy   = "copy"   // a copy of a file the node makes at boot (a certificate, a key)
)

// Setting is one key a file (or debconf) sets.
type Setting struct {
	Key   string `json:"key"`
	Value string `json:"value"`
	// Secret: Value is "***"; the value itself is never in a plan.
	Secret bool `json:"secret,omitempty"`
	// AtBoot says what boot fills in (Value then names it in <…>).
	AtBoot string `json:"at_boot,omitempty"`
	// digest is a keyed hash of a secret's value, for Diff (never printed).
	digest string
}

// Masked is how a secret value reads in a plan.
const Masked = "***"

// Command is a program apply runs.
type Command struct {
	Run   string `json:"run"`
	Stdin string `json:"stdin,omitempty"`
	When  string `json:"when,omitempty"`
}

// Service is what apply does with one systemd unit.
type Service struct {
	Unit      string `json:"unit"`
	Action    string `json:"action"`
	IfPresent bool   `json:"if_present,omitempty"`
	Note      string `json:"note,omitempty"`
}
