package vault

import (
	"strings"
	"time"
)

// SetSnapshotMaxAge sets how long vault nodes over one database keep
// their snapshot; it returns a func that restores it.
func SetSnapshotMaxAge(d time.Duration) func() {
	was := snapshotMaxAge
	snapshotMaxAge = d
	return func() { snapshotMaxAge = was }
}

// BestRole is bestRole, for tests.
var BestRole = bestRole

// Widening is widening, for tests.
var Widening = widening

// CachedKeys counts the parsed private keys s holds whose ID begins with
// prefix ("vault/name/").
func CachedKeys(s *Server, prefix string) int {
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	n := 0
	for id := range s.keys.m {
		if strings.HasPrefix(id, strings.ToLower(prefix)) {
			n++
		}
	}
	return n
}
