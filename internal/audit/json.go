package audit

import (
	"encoding/hex"

	"github.com/customerkey/customerkey/client"
)

// JSON is a record as the API returns it: hashes in hex.
func JSON(r Record) client.AuditRecord {
	return client.AuditRecord{Tenant: r.Tenant, Seq: r.Seq, Time: r.Time, Actor: r.Actor, Action: r.Action, Target: r.Target,
		KeyID: r.KeyID, Reason: r.Reason, Outcome: r.Outcome, Prev: hex.EncodeToString(r.Prev), Hash: hex.EncodeToString(r.Hash)}
}

// FromJSON is a record of the API (or of an export) as the chain hashes
// it, for verification.
func FromJSON(r client.AuditRecord) (Record, error) {
	prev, err := hex.DecodeString(r.Prev)
	if err != nil {
		return Record{}, err
	}
	h, err := hex.DecodeString(r.Hash)
	if err != nil {
		return Record{}, err
	}
	if len(prev) == 0 {
		prev = nil
	}
	return Record{Tenant: r.Tenant, Seq: r.Seq, Time: r.Time, Actor: r.Actor, Action: r.Action, Target: r.Target,
		KeyID: r.KeyID, Reason: r.Reason, Outcome: r.Outcome, Prev: prev, Hash: h}, nil
}
