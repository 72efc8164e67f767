// Package keyfile reads and creates the 256-bit master key files of the
// vault and the service: 64 hex characters, mode 0600.
package keyfile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Load reads the key in path; if create is set and the file does not
// exist, it writes a new random key first. Callers should clear the bytes
// once they have derived what they need.
func Load(path string, create bool) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && create {
		raw := make([]byte, 32)
		rand.Read(raw)
		err = os.WriteFile(path, []byte(hex.EncodeToString(raw)+"\n"), 0o600)
		clear(raw)
		if err != nil {
			return nil, fmt.Errorf("create key file %s: %w", path, err)
		}
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	raw, err := hex.DecodeString(strings.TrimSpace(string(data)))
	clear(data)
	if err != nil || len(raw) != 32 {
		return nil, fmt.Errorf("key file %s: want 64 hex characters (32 bytes)", path)
	}
	return raw, nil
}
