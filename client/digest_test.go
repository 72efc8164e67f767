package client_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"testing"

	"github.com/customerkey/customerkey/client"
)

func TestParseDigest(t *testing.T) {
	sum := sha256.Sum256([]byte("x"))
	b64 := base64.StdEncoding.EncodeToString(sum[:])
	for h, want := range map[string][]byte{
		"sha-256=:" + b64 + ":":                 sum[:],
		"sha-512=:AAAA:, SHA-256=:" + b64 + ":": sum[:],
		"":                                      nil,
		"sha-256=:AAAA:":                        nil, // not 32 bytes
		"sha-256=:not base64:":                  nil,
		"md5=:" + b64 + ":":                     nil,
	} {
		if got := client.ParseDigest(h); !bytes.Equal(got, want) {
			t.Errorf("ParseDigest(%q) = %x, want %x", h, got, want)
		}
	}
}

func FuzzParseDigest(f *testing.F) {
	f.Add("sha-256=:" + base64.StdEncoding.EncodeToString(make([]byte, 32)) + ":")
	f.Add("sha-512=:x:,sha-256=::")
	f.Fuzz(func(t *testing.T, h string) {
		if got := client.ParseDigest(h); got != nil && len(got) != sha256.Size {
			t.Fatalf("ParseDigest(%q) gave %d bytes", h, len(got))
		}
	})
}
