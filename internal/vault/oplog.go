package vault

import (
	"context"
	"log/slog"
	"time"

	"github.com/customerkey/customerkey/internal/store"
)

// opLog writes the operation log off the request path with group commit:
// handlers enqueue entries (blocking when the queue is full, never
// dropping), one goroutine writes them in batches, each batch in one
// transaction. Readers call flush first, so they see every entry enqueued
// before they asked. close drains the queue. An entry is lost only if the
// process dies in the few milliseconds between a response and its batch.
type opLog struct {
	st      store.OpLog
	log     *slog.Logger
	ch      chan store.Op
	flushes chan chan struct{}
	done    chan struct{}
}

const (
	opQueue = 8192
	opBatch = 512
)

func newOpLog(st store.OpLog, log *slog.Logger) *opLog {
	l := &opLog{st: st, log: log, ch: make(chan store.Op, opQueue), flushes: make(chan chan struct{}), done: make(chan struct{})}
	go l.run()
	return l
}

func (l *opLog) add(op store.Op) { l.ch <- op }

// flush returns once every entry added before the call is stored.
func (l *opLog) flush(ctx context.Context) {
	ack := make(chan struct{})
	select {
	case l.flushes <- ack:
	case <-l.done:
		return
	case <-ctx.Done():
		return
	}
	select {
	case <-ack:
	case <-ctx.Done():
	}
}

// close stores what is queued and stops the writer.
func (l *opLog) close() {
	close(l.ch)
	<-l.done
}

func (l *opLog) run() {
	defer close(l.done)
	batch := make([]store.Op, 0, opBatch)
	for {
		select {
		case op, ok := <-l.ch:
			if !ok {
				return
			}
			batch = append(batch[:0], op)
			open := l.drain(&batch, opBatch)
			l.write(batch)
			if !open {
				return
			}
		case ack := <-l.flushes:
			for {
				batch = batch[:0]
				open := l.drain(&batch, opBatch)
				if len(batch) == 0 {
					break
				}
				l.write(batch)
				if !open {
					break
				}
			}
			close(ack)
		}
	}
}

// drain moves queued entries into batch without waiting, up to max; it
// reports false once the queue is closed and empty.
func (l *opLog) drain(batch *[]store.Op, max int) bool {
	for len(*batch) < max {
		select {
		case op, ok := <-l.ch:
			if !ok {
				return false
			}
			*batch = append(*batch, op)
		default:
			return true
		}
	}
	return true
}

// write stores a batch, retrying a failing database a few times.
func (l *opLog) write(batch []store.Op) {
	var err error
	for attempt := range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = l.st.AppendOps(ctx, batch)
		cancel()
		if err == nil {
			return
		}
		time.Sleep(time.Duration(attempt+1) * 100 * time.Millisecond)
	}
	l.log.Error("vault: operation log write failed; entries lost", "entries", len(batch), "err", err)
}
