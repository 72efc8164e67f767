package vault

import "time"

// SetSnapshotMaxAge sets how long vault nodes over one database keep
// their snapshot; it returns a func that restores it.
func SetSnapshotMaxAge(d time.Duration) func() {
	was := snapshotMaxAge
	snapshotMaxAge = d
	return func() { snapshotMaxAge = was }
}

// BestRole is bestRole, for tests.
var BestRole = bestRole
