package audit

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/customerkey/customerkey/client"
)

// Head is the service's signed statement of where a tenant's chain ended
// at a time. The chain links every record to the one before, so records
// cut from the end of a copy leave a valid chain; a head kept from earlier
// shows the cut: the copy must reach the head's record with its hash.
type Head = client.AuditHead

const headDomain = "customerkey audit head v1\x00"

// headMessage is what a head's signature covers: the domain string, then
// Tenant and Hash each preceded by its length (big-endian uint32), Seq and
// Time (Unix nanoseconds) as big-endian int64.
func headMessage(h Head) []byte {
	b := []byte(headDomain)
	b = binary.BigEndian.AppendUint32(b, uint32(len(h.Tenant)))
	b = append(b, h.Tenant...)
	b = binary.BigEndian.AppendUint64(b, uint64(h.Seq))
	b = binary.BigEndian.AppendUint32(b, uint32(len(h.Hash)))
	b = append(b, h.Hash...)
	return binary.BigEndian.AppendUint64(b, uint64(h.Time.UnixNano()))
}

// SignHead states that tenant's chain ends at last (zero: empty) at now.
func SignHead(key ed25519.PrivateKey, tenant string, last Record, now time.Time) Head {
	h := Head{Tenant: tenant, Seq: last.Seq, Hash: last.Hash, Time: now.UTC(), PublicKey: key.Public().(ed25519.PublicKey)}
	h.Signature = ed25519.Sign(key, headMessage(h))
	return h
}

// ErrHeadSignature: the head was changed or another key signed it.
var ErrHeadSignature = errors.New("audit: the head's signature does not verify with the service's key")

// VerifyHead checks the head's signature with the service's public key.
func VerifyHead(h Head, pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, headMessage(h), h.Signature) {
		return ErrHeadSignature
	}
	return nil
}

// CheckHead checks that records, a whole chain that Verify accepts, reach
// the head: its record h.Seq is there with h.Hash. A chain that ends
// before is cut short; one with another hash there was rewritten.
func CheckHead(records []Record, h Head) error {
	if h.Seq == 0 {
		return nil
	}
	if len(records) > 0 && records[0].Tenant != h.Tenant {
		return fmt.Errorf("audit: the head is of tenant %q, the chain of %q", h.Tenant, records[0].Tenant)
	}
	if int64(len(records)) < h.Seq {
		return &TamperError{int64(len(records)) + 1, fmt.Sprintf("missing: the chain ends at record %d but the service's signed head of %s says it reached record %d (records removed from the end)",
			len(records), h.Time.Format(time.RFC3339), h.Seq)}
	}
	if r := records[h.Seq-1]; !bytes.Equal(r.Hash, h.Hash) {
		return &TamperError{h.Seq, "its hash is not the one in the service's signed head (the chain was rewritten)"}
	}
	return nil
}
