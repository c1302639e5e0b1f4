// Package system is the node agent's side effects, each behind a small
// interface or a type rooted at a configurable directory, so the agent's
// logic runs in tests without a VM:
//
//   - Runner runs programs (systemctl, journalctl, apt-get, dpkg-query,
//     debconf-set-selections, prosodyctl, …). Secrets travel on stdin only:
//     never in argv or the environment, which other users can read.
//   - FS reads and writes files under a root ("/" on a node), atomically and
//     with the owner and mode the packages give them.
//   - Systemd drives units through a Runner.
//   - Clock tells time and sleeps, so retries and bounds are testable.
package system
