package xmppc

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// A server that accepts and stays silent (a qemu hostfwd whose guest is
// still booting) must not hang Dial past its context.
func TestDialGivesUpOnSilentServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err = Dial(ctx, Account{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, Domain: "auth.x.test", Username: "jvb", Password: "p"})
	if err == nil {
		t.Fatal("Dial to a silent server succeeded")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Dial returned after %s, want about 2s (its context)", d)
	}
}

func TestDialRefusedConnectionNamesTheEndpoint(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().(*net.TCPAddr)
	l.Close()
	_, err = Dial(context.Background(), Account{Host: "127.0.0.1", Port: addr.Port, Domain: "auth.x.test", Username: "jvb", Password: "secret-value"})
	if err == nil || !strings.Contains(err.Error(), addr.String()) || strings.Contains(err.Error(), "secret-value") {
		t.Errorf("error = %v: want the endpoint named and no password", err)
	}
}
