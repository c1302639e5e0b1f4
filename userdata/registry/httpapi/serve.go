package httpapi

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/jitsi-packer/packer-plugin-jitsi/internal/credfile"
)

// ShutdownTimeout bounds the graceful shutdown of Serve: requests in flight
// get this long to finish.
const ShutdownTimeout = 10 * time.Second

// Serve runs h on ln until ctx ends, then shuts down gracefully. With a
// certificate and key (PEM files) it serves HTTPS (TLS ≥ 1.2); they are
// loaded before the first request (LoadCertificate), so a bad pair fails at
// once.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, certFile, keyFile string) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      time.Minute, // a claim may wait out a leader election
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          log.New(io.Discard, "", 0), // TLS handshake noise from scanners
	}
	if certFile != "" || keyFile != "" {
		pair, err := LoadCertificate(certFile, keyFile)
		if err != nil {
			return fmt.Errorf("serve API: %w", err)
		}
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	done := make(chan error, 1)
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		defer cancel()
		done <- srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve API: %w", err)
	}
	if err := <-done; err != nil {
		return fmt.Errorf("shut API down: %w", err)
	}
	return nil
}

// LoadCertificate loads the API's certificate and key (PEM files). The key
// must be readable by its owner only (credfile's rule).
func LoadCertificate(certFile, keyFile string) (tls.Certificate, error) {
	if certFile == "" || keyFile == "" {
		return tls.Certificate{}, fmt.Errorf("load certificate: give both the certificate and the key, or neither")
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("load certificate: %w", err)
	}
	keyPEM, err := credfile.Read(keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("load key: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("load certificate %s with key %s: %w", certFile, keyFile, err)
	}
	return pair, nil
}
