// Package logtest holds what tests share to read what a server logs or
// prints while it runs.
package logtest

import (
	"bytes"
	"sync"
)

// Buffer collects writes from many goroutines (a slog handler's, a
// server command's) and gives back what it holds so far.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *Buffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// String is what was written so far.
func (w *Buffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// Reset empties it.
func (w *Buffer) Reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b.Reset()
}
