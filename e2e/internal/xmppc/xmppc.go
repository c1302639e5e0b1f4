// Package xmppc is the small XMPP client of the e2e tier: the stand-in
// videobridge (a test fixture) logs in and sits in the brewery with it, and
// the e2e checks use the same code to look at who is in the brewery. It is
// built on mellium.im/xmpp (STARTTLS, SCRAM, resource binding) and speaks the
// part of XEP-0045 (multi-user chat) a bridge needs: join under a nickname,
// update presence, leave, and track the other occupants' presence.
package xmppc

import (
	"context"
	"crypto/tls"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
)

// Account says where the XMPP server is and who logs in.
type Account struct {
	// Host and Port are the TCP endpoint (a bridge's HOSTNAME / hostname).
	Host string
	Port int
	// Domain is the XMPP domain of the account, auth.<JMS FQDN> for a bridge.
	Domain   string
	Username string
	Password string
	// Resource is the bound resource; empty lets the server choose.
	Resource string
	// InsecureTLS skips certificate verification (Jitsi's
	// disable_certificate_verification, set in production for prosody's
	// self-signed certificates).
	InsecureTLS bool
	// Anonymous logs in with SASL ANONYMOUS, as a Jitsi Meet client does on
	// the JMS's own domain; Username and Password are then unused.
	Anonymous bool
}

// JID is the account's bare address.
func (a Account) JID() string { return a.Username + "@" + a.Domain }

// Errors a caller tells apart with errors.Is.
var (
	// ErrNotAuthorized: the server refused the credentials (SASL
	// not-authorized): a wrong secret, or an account never registered.
	ErrNotAuthorized = errors.New("SASL not-authorized")
	// ErrNicknameConflict: another occupant already has the nickname.
	ErrNicknameConflict = errors.New("nickname already in use in the room (XEP-0045 conflict)")
)

// Client is one logged-in XMPP session.
type Client struct {
	s    *xmpp.Session
	acct Account

	mu    sync.Mutex
	rooms map[string]*room // by bare room JID
	done  chan struct{}
	err   error
}

// Dial connects to a.Host:a.Port, negotiates STARTTLS, logs in with SCRAM and
// binds a resource. Errors name the account and endpoint, never the password.
func Dial(ctx context.Context, a Account) (*Client, error) {
	addr := net.JoinHostPort(a.Host, strconv.Itoa(a.Port))
	user := a.Username
	mechanisms := []sasl.Mechanism{sasl.ScramSha256, sasl.ScramSha1}
	if a.Anonymous {
		user, mechanisms = "", []sasl.Mechanism{sasl.Anonymous}
	}
	origin, err := jid.New(user, a.Domain, a.Resource)
	if err != nil {
		return nil, fmt.Errorf("log in as %s: bad address: %w", a.JID(), err)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect to XMPP server %s: %w", addr, err)
	}
	tlsCfg := &tls.Config{ServerName: a.Domain, InsecureSkipVerify: a.InsecureTLS, MinVersion: tls.VersionTLS12} // #nosec G402 -- Jitsi's disable_certificate_verification, off unless asked
	// SCRAM only: the -PLUS variants need channel binding data that prosody
	// 0.12 and Go's TLS 1.3 do not agree on.
	// mellium does not bound stream negotiation by ctx: a server that
	// accepts and stays silent (a qemu hostfwd whose guest is still booting)
	// would hang it. The connection's deadline does.
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	s, err := xmpp.NewClientSession(ctx, origin, conn,
		xmpp.StartTLS(tlsCfg),
		xmpp.SASL("", a.Password, mechanisms...),
		xmpp.BindResource(),
	)
	stop()
	if err == nil {
		err = conn.SetDeadline(time.Time{})
	}
	if err != nil {
		_ = conn.Close()
		if saslCondition(err) == "not-authorized" {
			return nil, fmt.Errorf("log in as %s at %s: %w (the password, i.e. the JMS's JVB secret, is wrong, or the account was never registered; the server said %q)", a.JID(), addr, ErrNotAuthorized, err.Error())
		}
		return nil, fmt.Errorf("log in as %s at %s: %w", a.JID(), addr, err)
	}
	c := &Client{s: s, acct: a, rooms: map[string]*room{}, done: make(chan struct{})}
	go c.serve()
	return c, nil
}

// Addr is the full JID the server bound.
func (c *Client) Addr() string { return c.s.LocalAddr().String() }

// Done is closed when the session ends; Err then says why.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err is why the session ended (nil while it runs or after Close).
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close ends the session (the server sends unavailable presence to every room).
func (c *Client) Close() error {
	err := c.s.Close()
	if cerr := c.s.Conn().Close(); err == nil && !errors.Is(cerr, net.ErrClosed) {
		err = cerr
	}
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
	}
	return err
}

func (c *Client) serve() {
	err := c.s.Serve(xmpp.HandlerFunc(c.handle))
	c.mu.Lock()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		c.err = fmt.Errorf("xmpp session of %s: %w", c.acct.JID(), err)
	}
	ended := errors.New("xmpp session ended")
	if c.err != nil {
		ended = c.err
	}
	for _, r := range c.rooms {
		r.finish(ended)
	}
	c.mu.Unlock()
	close(c.done)
}

// handle reads every stanza; only presence matters here. IQs left unanswered
// get service-unavailable from the session, as XMPP requires.
func (c *Client) handle(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	if start.Name.Local != "presence" {
		return nil
	}
	var p inPresence
	// t holds the inner tokens and the end element, not the start.
	if err := xml.NewTokenDecoder(xmlstream.MultiReader(xmlstream.Token(*start), t)).Decode(&p); err != nil {
		return fmt.Errorf("decode presence: %w", err)
	}
	from, err := jid.Parse(p.From)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if r := c.rooms[from.Bare().String()]; r != nil {
		r.update(from.Resourcepart(), p)
	}
	return nil
}

// saslCondition is the condition element of a SASL <failure/> (RFC 6120
// §6.5), or "". mellium's error type is internal; its XML form is not.
func saslCondition(err error) string {
	var x interface{ TokenReader() xml.TokenReader }
	if !errors.As(err, &x) {
		return ""
	}
	r, depth := x.TokenReader(), 0
	for {
		tok, err := r.Token()
		if err != nil {
			return ""
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 2 && t.Name.Local != "text" {
				return t.Name.Local
			}
		case xml.EndElement:
			depth--
		}
	}
}

// send encodes v onto the stream.
func (c *Client) send(ctx context.Context, v any) error {
	return c.s.Encode(ctx, v)
}
