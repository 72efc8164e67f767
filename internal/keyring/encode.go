package keyring

import (
	"encoding/json"
	"fmt"

	"github.com/customerkey/customerkey/internal/envelope"
)

// storedKeys is how a DEP's wrapped keys are kept: each record in its
// envelope byte format.
type storedKeys struct {
	CustomerKeys      [2][]byte   `json:"customerKeys"`
	Former            [2][]string `json:"former,omitzero"`
	AvailabilityKeyID string      `json:"availabilityKeyId"`
	Availability      []byte      `json:"availability"`
}

// MarshalKeys encodes the DEP's wrapped keys for storage.
func (d DEP) MarshalKeys() []byte {
	s := storedKeys{AvailabilityKeyID: d.AvailabilityKeyID, Availability: d.Availability.Marshal()}
	if d.Kind != ServiceManaged {
		s.CustomerKeys = [2][]byte{d.CustomerKeys[0].Marshal(), d.CustomerKeys[1].Marshal()}
		s.Former = d.Former
	}
	b, _ := json.Marshal(s)
	return b
}

// UnmarshalKeys restores the wrapped keys of a stored DEP into d.
func (d *DEP) UnmarshalKeys(b []byte) error {
	var s storedKeys
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("DEP %s: stored keys: %w", d.ID, err)
	}
	for i, raw := range s.CustomerKeys {
		if d.Kind == ServiceManaged {
			break
		}
		r, err := envelope.ParseRecord(raw)
		if err != nil || r.Alg != envelope.AlgCustomerKey {
			return fmt.Errorf("DEP %s: customer key record %d is corrupt", d.ID, i+1)
		}
		d.CustomerKeys[i] = r
	}
	r, err := envelope.ParseRecord(s.Availability)
	if err != nil || r.Alg != envelope.AlgAvailabilityKey {
		return fmt.Errorf("DEP %s: availability key record is corrupt", d.ID)
	}
	d.Availability, d.AvailabilityKeyID, d.Former = r, s.AvailabilityKeyID, s.Former
	return nil
}
