package main

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/customerkey/customerkey/vaultclient"
)

// stubService serves h over TLS and writes a connection file for it; it
// stands in for a service that answers what a test needs it to, such as
// what a database edited behind the real service's back would hold.
func stubService(t *testing.T, h http.HandlerFunc) (config string) {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(vaultclient.Config{CAFile: ca, ManagementURL: srv.URL, ServiceURL: srv.URL, ServiceToken: "operator-token"})
	if err != nil {
		t.Fatal(err)
	}
	config = filepath.Join(dir, "dev.json")
	if err := os.WriteFile(config, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return config
}

// reply writes v as the JSON answer.
func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// ck runs ck with args as main does, and returns what it wrote.
func ck(args ...string) (stdout, stderr string, code int) {
	var so, se bytes.Buffer
	code = runIO(args, &so, &se)
	return so.String(), se.String(), code
}
