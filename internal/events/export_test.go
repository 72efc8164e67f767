package events

import "time"

// SetRetryFor sets how long Tell tries; it returns a func that restores it.
func SetRetryFor(d time.Duration) func() {
	was := retryFor
	retryFor = d
	return func() { retryFor = was }
}
