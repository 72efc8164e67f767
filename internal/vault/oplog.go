package vault

import (
	"context"
	"log/slog"
	"time"

	"github.com/customerkey/customerkey/internal/store"
)

// opLog writes the operation log (SPEC V11) off the request path with
// group commit: handlers enqueue entries (blocking when the queue is full,
// never dropping), one goroutine writes them in batches, each batch in one
// transaction. A batch waits up to opLinger after its first entry for
// more (a transaction per entry cost a single caller's unwrap ~30 µs of
// CPU). Readers call flush first, so they see every entry enqueued before
// they asked. close drains the queue. An entry is lost only if the
// process dies in the few milliseconds (opLinger and a write) between a
// response and its batch.
type opLog struct {
	st      store.OpLog
	log     *slog.Logger
	ch      chan store.Op
	flushes chan chan struct{}
	done    chan struct{}
}

const (
	opQueue  = 8192
	opBatch  = 512
	opLinger = 5 * time.Millisecond
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
			open, ack := l.linger(&batch)
			l.write(batch)
			if ack != nil {
				l.flushAll(&batch)
				close(ack)
			}
			if !open {
				return
			}
		case ack := <-l.flushes:
			l.flushAll(&batch)
			close(ack)
		}
	}
}

// linger adds to batch what arrives within opLinger, up to opBatch. It
// stops early when the queue is closed (open false) or a reader asks for
// a flush (ack, to close once everything queued is written).
func (l *opLog) linger(batch *[]store.Op) (open bool, ack chan struct{}) {
	t := time.NewTimer(opLinger)
	defer t.Stop()
	for len(*batch) < opBatch {
		select {
		case op, ok := <-l.ch:
			if !ok {
				return false, nil
			}
			*batch = append(*batch, op)
		case ack := <-l.flushes:
			return true, ack
		case <-t.C:
			return true, nil
		}
	}
	return true, nil
}

// flushAll writes everything queued now.
func (l *opLog) flushAll(batch *[]store.Op) {
	for {
		*batch = (*batch)[:0]
		open := l.drain(batch, opBatch)
		if len(*batch) == 0 {
			return
		}
		l.write(*batch)
		if !open {
			return
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

// pruneBatch is how many entries one statement of a pruning deletes.
const pruneBatch = 10000

// pruneOps deletes the operation log's entries older than the retention,
// at once and then every hour, until ctx ends. Every vault node does it;
// the deletes are idempotent.
func (s *Server) pruneOps(ctx context.Context) {
	for {
		if _, err := s.pruneOpsOnce(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Warn("vault: operation log not pruned; the next hour tries again", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Hour):
		}
	}
}

// pruneOpsOnce deletes the entries older than the retention and says how
// many.
func (s *Server) pruneOpsOnce(ctx context.Context) (int, error) {
	now := s.now()
	before := now.Add(-s.cfg.OpLogRetention)
	total := 0
	for {
		// An entry stamped more than a minute after this node's time came
		// from a clock that ran fast: it does not hold the prune up.
		n, err := s.cfg.Store.PruneOps(ctx, before, now.Add(time.Minute), pruneBatch)
		total += n
		if err != nil || n < pruneBatch {
			if total > 0 {
				s.cfg.Logger.Info("vault: operation log pruned", "entries", total, "before", before.Format(time.RFC3339), "retention", s.cfg.OpLogRetention.String())
			}
			return total, err
		}
	}
}
