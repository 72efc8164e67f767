// Package wycheproof gives tests the Wycheproof test vectors
// (github.com/C2SP/wycheproof) as a Go module, at a pinned version, through
// the module proxy and checksum database like any dependency. The module
// declares a lower-case path that the proxy does not serve, so it cannot be
// a go.mod requirement; `go mod download` of the exact version works and
// verifies its checksum.
package wycheproof

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// Module and Version pin the vectors (the version tink-go uses).
const (
	Module  = "github.com/C2SP/wycheproof"
	Version = "v0.0.0-20250901140545-b51abcfb8daf"
)

var (
	once sync.Once
	dir  string
	derr error
)

// Load decodes testvectors/NAME into v. Without the module (no network and
// an empty module cache) the test is skipped, saying why.
func Load(t testing.TB, name string, v any) {
	t.Helper()
	once.Do(func() {
		out, err := exec.Command("go", "mod", "download", "-json", Module+"@"+Version).Output()
		if err != nil {
			derr = err
			return
		}
		var info struct{ Dir, Error string }
		if err := json.Unmarshal(out, &info); err != nil || info.Dir == "" {
			derr = err
			return
		}
		dir = info.Dir
	})
	if dir == "" {
		t.Skipf("Wycheproof vectors (%s@%s) not available: %v", Module, Version, derr)
	}
	data, err := os.ReadFile(filepath.Join(dir, "testvectors", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// Hex is a byte string written in hex in the vectors.
type Hex []byte

func (h *Hex) UnmarshalText(b []byte) error {
	v, err := hex.DecodeString(string(b))
	*h = v
	return err
}

// Case holds the fields every test case has.
type Case struct {
	ID      int      `json:"tcId"`
	Comment string   `json:"comment"`
	Result  string   `json:"result"` // valid, invalid, acceptable
	Flags   []string `json:"flags"`
}
