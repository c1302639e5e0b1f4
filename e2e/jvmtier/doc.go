// Package jvmtier is the e2e host tier in which Jitsi's own libraries read
// what the project writes on a videobridge: its tests render node specs, lay
// the bridge's files out as the node would have them, and run the
// jvb-config-reader TEST FIXTURE (e2e/fixture/jvb-config-reader, built on
// jicoco-config, jitsi-metaconfig, jicoco-mucclient and ice4j from Maven
// Central) to compare what the bridge would read with the spec. It runs in
// `go test ./...`; without java and mvn it skips, unless JITSI_JVM_TIER=1
// (set by `make test`), which makes that a failure.
package jvmtier
