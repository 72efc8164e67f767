package lifecycle

import (
	"github.com/customerkey/customerkey/internal/shred"
	"github.com/customerkey/customerkey/internal/store"
)

// certApprovals are the officers' approvals as the crypto-shred
// certificate states them: each with its signature and the officer's
// public key, so anyone can check it against the request the certificate
// states (SPEC T7; shred.Verify).
func certApprovals(as []store.PurgeApproval) []shred.Approval {
	out := make([]shred.Approval, 0, len(as))
	for _, a := range as {
		ap := shred.Approval{Officer: a.Officer, At: a.At, SubmittedBy: a.SubmittedBy}
		if len(a.Signature) > 0 {
			ap.Signature, ap.PublicKey, ap.Fingerprint = shred.Encode(a.Signature), shred.Encode(a.PublicKey), shred.Fingerprint(a.PublicKey)
			kr := a.KeyRegistered
			ap.KeyRegistered = &kr
		}
		out = append(out, ap)
	}
	return out
}
