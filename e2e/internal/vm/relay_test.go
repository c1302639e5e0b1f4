package vm

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
)

func TestRelayCopiesBothWaysToLoopback(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		b, _ := io.ReadAll(c)
		_, _ = c.Write(bytes.ToUpper(b))
		c.Close()
	}()
	var out bytes.Buffer
	if code := relay(l.Addr().String(), strings.NewReader("hello guest"), &out); code != 0 {
		t.Fatalf("relay exit %d", code)
	}
	if out.String() != "HELLO GUEST" {
		t.Errorf("relayed %q, want HELLO GUEST", out.String())
	}
}

func TestRelayRefusesAnythingButLoopback(t *testing.T) {
	for _, addr := range []string{"10.0.2.2:80", "192.0.2.1:80", "example.org:80", "localhost:80", "garbage"} {
		if code := relay(addr, strings.NewReader(""), io.Discard); code != 2 {
			t.Errorf("relay(%q) = %d, want 2 (refused without dialing)", addr, code)
		}
	}
}
