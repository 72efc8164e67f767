package vaulttest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Loopback listeners for tests of what the service dials (SPEC T4): they
// listen on 127.0.0.1 only, count what they accept, and play what a
// tenant might point a key URI at in the provider's network.

// ListenerKind is what a test Listener does with a connection.
type ListenerKind int

const (
	// Silent accepts and says nothing until the client gives up.
	Silent ListenerKind = iota
	// PlainTCP answers in plain text (an HTTP response without TLS) and
	// hangs up.
	PlainTCP
	// WrongTLS speaks TLS with a self-signed certificate for another
	// name.
	WrongTLS
)

// Listener is a loopback listener that counts accepted connections.
type Listener struct {
	Port    int
	accepts atomic.Int64
	ln      net.Listener
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   map[net.Conn]bool
}

// Accepts is the number of connections accepted so far.
func (l *Listener) Accepts() int { return int(l.accepts.Load()) }

// Close stops the listener and hangs up its connections (the test's
// cleanup does too).
func (l *Listener) Close() {
	l.ln.Close()
	l.mu.Lock()
	for c := range l.conns {
		c.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
}

// Listen starts a listener of kind on 127.0.0.1:port (0: a free port)
// until the test ends.
func Listen(t testing.TB, kind ListenerKind, port int) *Listener {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	var cfg *tls.Config
	if kind == WrongTLS {
		cfg = &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}}
	}
	l := &Listener{Port: ln.Addr().(*net.TCPAddr).Port, ln: ln, conns: map[net.Conn]bool{}}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			l.accepts.Add(1)
			l.mu.Lock()
			l.conns[c] = true
			l.mu.Unlock()
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				defer func() {
					c.Close()
					l.mu.Lock()
					delete(l.conns, c)
					l.mu.Unlock()
				}()
				c.SetDeadline(time.Now().Add(30 * time.Second))
				switch kind {
				case Silent:
					io.Copy(io.Discard, c) // until the client hangs up
				case PlainTCP:
					c.Read(make([]byte, 1024))
					io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
				case WrongTLS:
					tc := tls.Server(c, cfg)
					tc.Handshake()
					io.Copy(io.Discard, tc)
				}
			}()
		}
	}()
	t.Cleanup(l.Close)
	return l
}

// ClosedPort is a loopback port nothing listens on (one was, a moment ago).
func ClosedPort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

func selfSigned(t testing.TB) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "wrong.example"}, DNSNames: []string{"wrong.example"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
