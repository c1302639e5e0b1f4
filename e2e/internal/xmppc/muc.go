package xmppc

import (
	"context"
	"encoding/xml"
	"fmt"
	"maps"
	"sort"
	"time"

	"mellium.im/xmpp/jid"
)

// Namespaces of the presence payloads read and written here.
const (
	nsMUC     = "http://jabber.org/protocol/muc"
	nsMUCUser = "http://jabber.org/protocol/muc#user"
	// nsColibri is where a videobridge puts its stats (drain, shutdown,
	// stress) in its brewery presence, which is how jicofo learns them.
	nsColibri = "http://jitsi.org/protocol/colibri"
)

// Occupant is one member of a room as its presence shows it.
type Occupant struct {
	Nick string
	// Stats are the colibri stats of the occupant's presence (name → value).
	Stats map[string]string
}

type stat struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type inPresence struct {
	From string `xml:"from,attr"`
	Type string `xml:"type,attr"`
	X    *struct {
		Status []struct {
			Code int `xml:"code,attr"`
		} `xml:"status"`
	} `xml:"http://jabber.org/protocol/muc#user x"`
	Stats *struct {
		Stat []stat `xml:"stat"`
	} `xml:"http://jitsi.org/protocol/colibri stats"`
	Error *struct {
		Type       string `xml:"type,attr"`
		Conditions []struct {
			XMLName xml.Name
		} `xml:",any"`
	} `xml:"error"`
}

func (p inPresence) selfPresence() bool {
	if p.X == nil {
		return false
	}
	for _, s := range p.X.Status {
		if s.Code == 110 {
			return true
		}
	}
	return false
}

func (p inPresence) errorCondition() string {
	if p.Error == nil {
		return ""
	}
	for _, c := range p.Error.Conditions {
		if c.XMLName.Local != "text" {
			return c.XMLName.Local
		}
	}
	return p.Error.Type
}

type outPresence struct {
	XMLName xml.Name `xml:"jabber:client presence"`
	To      string   `xml:"to,attr"`
	Type    string   `xml:"type,attr,omitempty"`
	MUC     *struct {
		XMLName xml.Name `xml:"http://jabber.org/protocol/muc x"`
	}
	Stats *struct {
		XMLName xml.Name `xml:"http://jitsi.org/protocol/colibri stats"`
		Stat    []stat   `xml:"stat"`
	}
}

func statsElement(stats map[string]string) *struct {
	XMLName xml.Name `xml:"http://jitsi.org/protocol/colibri stats"`
	Stat    []stat   `xml:"stat"`
} {
	if len(stats) == 0 {
		return nil
	}
	names := make([]string, 0, len(stats))
	for n := range stats {
		names = append(names, n)
	}
	sort.Strings(names)
	el := &struct {
		XMLName xml.Name `xml:"http://jitsi.org/protocol/colibri stats"`
		Stat    []stat   `xml:"stat"`
	}{}
	for _, n := range names {
		el.Stat = append(el.Stat, stat{Name: n, Value: stats[n]})
	}
	return el
}

// room is what the client knows of one joined (or joining) room.
type room struct {
	nick      string
	joined    chan error // gets the join's outcome once
	occupants map[string]Occupant
}

// update applies a presence from the room (called with Client.mu held).
func (r *room) update(nick string, p inPresence) {
	switch {
	case p.Type == "error":
		cond := p.errorCondition()
		err := fmt.Errorf("room refused %q: %s", r.nick, cond)
		if cond == "conflict" {
			err = fmt.Errorf("join as %q: %w", r.nick, ErrNicknameConflict)
		}
		r.finish(err)
	case p.Type == "unavailable":
		delete(r.occupants, nick)
		if nick == r.nick || p.selfPresence() {
			r.finish(fmt.Errorf("left the room before the join completed"))
		}
	case p.Type == "":
		o := Occupant{Nick: nick, Stats: map[string]string{}}
		if p.Stats != nil {
			for _, s := range p.Stats.Stat {
				o.Stats[s.Name] = s.Value
			}
		}
		r.occupants[nick] = o
		if p.selfPresence() || nick == r.nick {
			r.finish(nil)
		}
	}
}

// finish reports the join's outcome once.
func (r *room) finish(err error) {
	if r.joined != nil {
		r.joined <- err
		r.joined = nil
	}
}

// Join enters room (a bare JID such as jvbbrewery@internal.auth.meet.example.org)
// as nick with the given colibri stats in its presence, and returns once the
// room has confirmed it (the server sends every present occupant first).
func (c *Client) Join(ctx context.Context, roomJID, nick string, stats map[string]string) error {
	rj, err := jid.Parse(roomJID)
	if err != nil {
		return fmt.Errorf("join room %q: %w", roomJID, err)
	}
	full, err := rj.Bare().WithResource(nick)
	if err != nil {
		return fmt.Errorf("join room %s as %q: bad nickname: %w", roomJID, nick, err)
	}
	done := make(chan error, 1)
	c.mu.Lock()
	c.rooms[rj.Bare().String()] = &room{nick: nick, joined: done, occupants: map[string]Occupant{}}
	c.mu.Unlock()
	p := outPresence{To: full.String(), Stats: statsElement(stats)}
	p.MUC = &struct {
		XMLName xml.Name `xml:"http://jabber.org/protocol/muc x"`
	}{}
	if err := c.send(ctx, p); err != nil {
		return fmt.Errorf("join room %s as %q: %w", roomJID, nick, err)
	}
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("join room %s: %w", roomJID, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("join room %s as %q: no answer: %w", roomJID, nick, ctx.Err())
	}
}

// SetStats re-sends the presence in a joined room with new stats.
func (c *Client) SetStats(ctx context.Context, roomJID string, stats map[string]string) error {
	full, err := c.occupantJID(roomJID)
	if err != nil {
		return err
	}
	return c.send(ctx, outPresence{To: full, Stats: statsElement(stats)})
}

// Leave exits a joined room.
func (c *Client) Leave(ctx context.Context, roomJID string) error {
	full, err := c.occupantJID(roomJID)
	if err != nil {
		return err
	}
	return c.send(ctx, outPresence{To: full, Type: "unavailable"})
}

func (c *Client) occupantJID(roomJID string) (string, error) {
	rj, err := jid.Parse(roomJID)
	if err != nil {
		return "", fmt.Errorf("room %q: %w", roomJID, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.rooms[rj.Bare().String()]
	if r == nil {
		return "", fmt.Errorf("room %s: not joined", roomJID)
	}
	return rj.Bare().String() + "/" + r.nick, nil
}

// Occupants is a copy of the room's current occupants by nickname (this
// client's own included).
func (c *Client) Occupants(roomJID string) map[string]Occupant {
	rj, err := jid.Parse(roomJID)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.rooms[rj.Bare().String()]
	if r == nil {
		return nil
	}
	out := make(map[string]Occupant, len(r.occupants))
	for n, o := range r.occupants {
		out[n] = Occupant{Nick: o.Nick, Stats: maps.Clone(o.Stats)}
	}
	return out
}

// WaitOccupants polls the room's occupants until cond holds, ctx ends or the
// session does; it returns the last occupants seen either way.
func (c *Client) WaitOccupants(ctx context.Context, roomJID string, cond func(map[string]Occupant) bool) (map[string]Occupant, error) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		occ := c.Occupants(roomJID)
		if cond(occ) {
			return occ, nil
		}
		select {
		case <-ctx.Done():
			return occ, ctx.Err()
		case <-c.done:
			return occ, fmt.Errorf("xmpp session ended while waiting: %v", c.Err())
		case <-tick.C:
		}
	}
}
