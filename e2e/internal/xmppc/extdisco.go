package xmppc

import (
	"context"
	"encoding/xml"
	"fmt"
	"strconv"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// nsExtDisco is XEP-0215 (External Service Discovery) version 2, which
// prosody's mod_external_services answers and Jitsi Meet clients ask.
const nsExtDisco = "urn:xmpp:extdisco:2"

// Service is one external service (STUN or TURN server) the XMPP server
// advertises, with the credentials it made for this client, if any.
type Service struct {
	Type      string `xml:"type,attr"` // stun, turn, turns
	Transport string `xml:"transport,attr"`
	Host      string `xml:"host,attr"`
	Port      int    `xml:"port,attr"`
	Username  string `xml:"username,attr"`
	Password  string `xml:"password,attr"`
	// Expires is when the credentials stop working (XEP-0082 date-time).
	Expires    string `xml:"expires,attr"`
	Restricted bool   `xml:"restricted,attr"`
}

// String names the service without its credentials.
func (s Service) String() string {
	return s.Type + ":" + s.Host + ":" + strconv.Itoa(s.Port) + "/" + s.Transport
}

// ExternalServices asks the client's own server (its domain) for the
// external services it advertises: a XEP-0215 services request, what a Jitsi
// Meet client sends to learn its STUN and TURN servers.
func (c *Client) ExternalServices(ctx context.Context) ([]Service, error) {
	to, err := jid.Parse(c.acct.Domain)
	if err != nil {
		return nil, fmt.Errorf("external services of %s: %w", c.acct.Domain, err)
	}
	var reply struct {
		XMLName  xml.Name  `xml:"urn:xmpp:extdisco:2 services"`
		Services []Service `xml:"service"`
	}
	req := xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: nsExtDisco, Local: "services"}})
	if err := c.s.UnmarshalIQElement(ctx, req, stanza.IQ{Type: stanza.GetIQ, To: to}, &reply); err != nil {
		return nil, fmt.Errorf("external services of %s (XEP-0215): %w", c.acct.Domain, err)
	}
	return reply.Services, nil
}
