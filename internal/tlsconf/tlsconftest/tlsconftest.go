// Package tlsconftest checks that a listener serves tlsconf's policy: a
// normal client connects; a client offering only TLS 1.0/1.1, only CBC
// suites or only RSA key exchange fails the handshake.
package tlsconftest

import (
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/tlsconf"
)

// Client is one kind of client and whether its handshake must succeed.
type Client struct {
	Name   string
	Config *tls.Config // ServerName and InsecureSkipVerify are set by Check
	OK     bool
}

// Clients are the cases Check tries, as data.
var Clients = []Client{
	{"default client", &tls.Config{}, true},
	{"TLS 1.2 only, AEAD suites", &tls.Config{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12, CipherSuites: tlsconf.CipherSuites}, true},
	{"TLS 1.3 only", &tls.Config{MinVersion: tls.VersionTLS13}, true},
	{"TLS 1.1 at most", &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}, false},
	{"TLS 1.0 only", &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10}, false},
	{"CBC suites only", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
		tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256}}, false},
	{"RSA key exchange only", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{
		tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_256_GCM_SHA384, tls.TLS_RSA_WITH_AES_128_CBC_SHA}}, false},
}

// Check dials addr (host:port) once per client of Clients, sending
// serverName, and fails t when a handshake's outcome is not the expected one.
func Check(t testing.TB, addr, serverName string) {
	t.Helper()
	for _, c := range Clients {
		cfg := c.Config.Clone()
		cfg.ServerName, cfg.InsecureSkipVerify = serverName, true
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, cfg)
		if err == nil {
			st := conn.ConnectionState()
			conn.Close()
			if !c.OK {
				t.Errorf("%s: %s connected (version %s, suite %s), want a failed handshake", addr, c.Name, tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
			}
		} else if c.OK {
			t.Errorf("%s: %s: %v, want a handshake", addr, c.Name, err)
		}
	}
}
