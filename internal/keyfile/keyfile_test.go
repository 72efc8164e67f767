package keyfile

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "k")
	if _, err := Load(path, false); err == nil {
		t.Fatal("a missing key file loaded without create")
	}
	a, err := Load(path, true)
	if err != nil || len(a) != 32 {
		t.Fatalf("create: %v", err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
	b, err := Load(path, true)
	if err != nil || !bytes.Equal(a, b) {
		t.Fatal("the key changed on reload")
	}
	for _, bad := range []string{"zz", "00", string(bytes.Repeat([]byte("0"), 66))} {
		os.WriteFile(path, []byte(bad), 0o600)
		if _, err := Load(path, true); err == nil {
			t.Fatalf("%q accepted as a key", bad)
		}
	}
}
