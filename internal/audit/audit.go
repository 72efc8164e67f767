// Package audit keeps each tenant's audit log (SPEC R8): every key access
// by the service and every admin action, appended to a per-tenant chain in
// which each record carries the SHA-256 of its fields and of the record
// before it. Changing, removing or reordering a record breaks the chain
// from that record on, and Verify names the first record that fails.
package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/store"
)

// Record is one audit record.
type Record = store.AuditRecord

// domain separates audit hashes from every other hash of the system.
const domain = "customerkey audit v1\x00"

// Hash returns the chain hash of r: SHA-256 over the domain string, then
// r.Prev, Tenant, Seq, Time (Unix nanoseconds), Actor, Action, Target,
// KeyID, Reason and Outcome, each string and byte field preceded by its
// length as a big-endian uint32 and each number as a big-endian int64
// (docs/format.md).
func Hash(r Record) []byte {
	h := sha256.New()
	h.Write([]byte(domain))
	field := func(b []byte) {
		h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(b))))
		h.Write(b)
	}
	field(r.Prev)
	field([]byte(r.Tenant))
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(r.Seq)))
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(r.Time.UnixNano())))
	for _, s := range []string{r.Actor, r.Action, r.Target, r.KeyID, r.Reason, r.Outcome} {
		field([]byte(s))
	}
	return h.Sum(nil)
}

// Seal makes r the record after last in its chain.
func Seal(last, r Record) Record {
	r.Seq = last.Seq + 1
	r.Prev = last.Hash
	r.Hash = Hash(r)
	return r
}

// TamperError says which record of a chain fails and why.
type TamperError struct {
	Seq    int64
	Reason string
}

func (e *TamperError) Error() string {
	return fmt.Sprintf("audit record %d: %s", e.Seq, e.Reason)
}

// Verify checks records, a run of one tenant's chain in order that starts
// at its first record. It returns nil or a *TamperError for the first
// record that is not what the chain says it must be.
func Verify(records []Record) error {
	var last Record
	for i, r := range records {
		seq := last.Seq + 1
		switch {
		case i > 0 && r.Tenant != last.Tenant:
			return &TamperError{r.Seq, fmt.Sprintf("belongs to tenant %q, the chain to %q", r.Tenant, last.Tenant)}
		case r.Seq != seq:
			return &TamperError{seq, fmt.Sprintf("missing: found record %d in its place (records removed or reordered)", r.Seq)}
		case !bytes.Equal(r.Prev, last.Hash):
			return &TamperError{r.Seq, "does not link to the record before it (that record was changed or removed)"}
		case !bytes.Equal(r.Hash, Hash(r)):
			return &TamperError{r.Seq, "its content does not match its hash (the record was changed)"}
		}
		last = r
	}
	return nil
}

// Log appends to the audit log in a store.
type Log struct {
	st     store.AuditLog
	now    func() time.Time
	logger *slog.Logger
}

// New returns a Log on st.
func New(st store.AuditLog, now func() time.Time, logger *slog.Logger) *Log {
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Log{st: st, now: now, logger: logger}
}

// Append adds r (Tenant, Actor, Action, Target, KeyID, Reason, Outcome) to
// its tenant's chain, stamped with the time.
func (l *Log) Append(ctx context.Context, r Record) (Record, error) {
	r.Time = l.now().UTC()
	out, err := l.st.AppendAudit(ctx, r.Tenant, func(last Record) Record { return Seal(last, r) })
	if err != nil {
		// The caller's action went ahead; losing its record must be loud.
		l.logger.Error("audit: record lost", "tenant", r.Tenant, "action", r.Action, "target", r.Target, "err", err)
	}
	return out, err
}

// Read returns up to limit records of a tenant's chain after seq.
func (l *Log) Read(ctx context.Context, tenant string, after int64, limit int) ([]Record, error) {
	return l.st.ListAudit(ctx, tenant, after, limit)
}

// Find returns up to n records of the given actions that come after seq
// in a tenant's chain, reading at most scan records of the chain: a search
// for rare actions answers in bounded time. next is the sequence number to
// go on after (the last record read); end reports that the chain's end was
// reached.
func (l *Log) Find(ctx context.Context, tenant string, after int64, actions []string, n, scan int) (out []Record, next int64, end bool, err error) {
	const batch = 1000
	next = after
	for read := 0; read < scan && len(out) < n; {
		ask := min(batch, scan-read)
		rs, err := l.st.ListAudit(ctx, tenant, next, ask)
		if err != nil {
			return nil, 0, false, err
		}
		for _, r := range rs {
			next = r.Seq
			read++
			if slices.Contains(actions, r.Action) {
				if out = append(out, r); len(out) == n {
					return out, next, false, nil
				}
			}
		}
		if len(rs) < ask {
			return out, next, true, nil
		}
	}
	return out, next, false, nil
}

// Last returns the last record of a tenant's chain (zero if none).
func (l *Log) Last(ctx context.Context, tenant string) (Record, error) {
	return l.st.LastAudit(ctx, tenant)
}

// KeyringEvent records a keyring event; it is the keyring's Audit hook.
// The actor is the workload whose keyring it is.
func (l *Log) KeyringEvent(workload string) func(keyring.Event) {
	return func(e keyring.Event) {
		outcome := "ok"
		if e.Err != nil {
			outcome = "error: " + e.Err.Error()
		}
		actor := workload + " (initiator: " + e.Initiator.String() + ")"
		l.Append(context.Background(), Record{Tenant: e.Tenant, Actor: actor, Action: e.Action, Target: e.DEP, KeyID: e.KeyURI, Reason: e.Reason, Outcome: outcome})
	}
}
