package jitsi

import "strings"

// WebServer is the web server a JMS image serves Jitsi Meet with. Which one
// jitsi-meet-web-config configures depends only on what is installed when
// it runs: nginx when nginx is there (Jitsi's default), Apache when only
// Apache is (debian/jitsi-meet-web-config.postinst), so the bake installs
// exactly one of them before the Jitsi packages.
type WebServer string

const (
	// WebNginx is Jitsi's default: jitsi-meet-turnserver then configures
	// coturn, the TURN server prosody advertises.
	WebNginx WebServer = "nginx"
	// WebApache is the seed procedure's web server (Shibboleth, say): the
	// node agent configures coturn for prosody's external services itself.
	WebApache WebServer = "apache"
)

// DefaultWebServer is the web server of a JMS image when none is named.
const DefaultWebServer = WebNginx

// WebServers lists the web servers a JMS image can have, default first.
var WebServers = []WebServer{WebNginx, WebApache}

// WebServerList is the human list of WebServers for error messages.
func WebServerList() string {
	names := make([]string, len(WebServers))
	for i, w := range WebServers {
		names[i] = string(w)
	}
	return strings.Join(names, ", ")
}

// Valid reports whether w is one of WebServers.
func (w WebServer) Valid() bool { return w == WebNginx || w == WebApache }

// Package is w's Debian package.
func (w WebServer) Package() string {
	if w == WebApache {
		return PkgApache
	}
	return PkgNginx
}

// Service is w's systemd service.
func (w WebServer) Service() string {
	if w == WebApache {
		return SvcApache
	}
	return SvcNginx
}

// Web servers and the TURN server of a JMS.
const (
	PkgNginx  = "nginx"
	SvcNginx  = "nginx"
	PkgCoturn = "coturn"
	SvcCoturn = "coturn"
)

// JMSPackages are installed by a JMS's first boot, once debconf holds the
// node's FQDN and secrets (their postinsts bake both in): with nginx, the
// TURN package too (jitsi-meet only recommends it, and first boot installs
// without recommends).
func JMSPackages(w WebServer) []string {
	p := []string{PkgMeetProsody, PkgJicofo, PkgMeet}
	if w == WebNginx {
		p = append(p, PkgMeetTurn)
	}
	return p
}

// JMSServices are (re)started on a JMS once its packages are configured,
// prosody first (the bridge account is set on the running server).
func JMSServices(w WebServer) []string {
	return []string{SvcProsody, SvcJicofo, w.Service(), SvcCoturn}
}
