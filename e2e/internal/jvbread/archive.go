package jvbread

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// archiveName is the class data sharing archive in a reader's directory: the
// classes one reading loads, dumped once after the build. It halves each
// JVM's start-up CPU and changes nothing the reader reads; a JVM that cannot
// use it (another JDK) warns and starts without it.
const archiveName = "classes.jsa"

// sampleBridge makes the archive's dump run load what real readings load:
// both files, a MUC entry with Smack's configuration, a static mapping.
var sampleBridge = map[string][]byte{
	"/etc/jitsi/videobridge/config": []byte(`JAVA_SYS_PROPS="-Dconfig.file=/etc/jitsi/videobridge/jvb.conf` +
		` -Dnet.java.sip.communicator.SC_HOME_DIR_LOCATION=/etc/jitsi -Dnet.java.sip.communicator.SC_HOME_DIR_NAME=videobridge"` + "\nJVB_OPTS=\"--apis=rest\"\n"),
	"/etc/jitsi/videobridge/jvb.conf": []byte(`videobridge.apis.xmpp-client.configs.s { hostname = h.example, domain = auth.h.example,` +
		` username = jvb, password = p, muc_jids = "b@internal.auth.h.example", muc_nickname = n, disable_certificate_verification = true }
ice4j.harvest.mapping.static-mappings = [ { local-address = "10.0.0.1", public-address = "192.0.2.1" } ]
`),
	"/etc/jitsi/videobridge/sip-communicator.properties": []byte("org.ice4j.ice.harvest.STUN_MAPPING_HARVESTER_ADDRESSES=stun.example\\:3478\n"),
}

// makeArchive dumps the archive into dir (atomically), reading sampleBridge.
func (r *Reader) makeArchive(ctx context.Context) error {
	root, err := os.MkdirTemp("", "jvbread-archive-")
	if err != nil {
		return fmt.Errorf("create archive scratch root: %w", err)
	}
	defer os.RemoveAll(root)
	if err := layOut(root, sampleBridge); err != nil {
		return err
	}
	final := filepath.Join(r.Dir, archiveName)
	tmp := final + ".tmp"
	os.Remove(tmp)
	cmd := exec.CommandContext(ctx, r.java, "-cp", r.classpath, "fixture.jvbreader.LauncherKt",
		"--root", root, "--create-class-archive", tmp)
	cmd.Env = launcherEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("dump the class archive: %w\n%s", err, tail(string(out), 20))
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("install the class archive: %w", err)
	}
	return nil
}
