package envelope

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Alg says what wrapped the key in a Record.
type Alg byte

const (
	// AlgCustomerKey: RSA-OAEP-256 by a customer key in a vault; KeyID is
	// the key URI with its version.
	AlgCustomerKey Alg = 1
	// AlgAvailabilityKey: AES-256-GCM by the DEP's availability key; KeyID
	// is the availability key's ID.
	AlgAvailabilityKey Alg = 2
	// AlgDEPKey: AES-256-GCM by a DEP key (or TIK); KeyID is the DEP ID.
	AlgDEPKey Alg = 3
	// AlgContainerKey: AES-256-GCM by a container key; KeyID is the
	// container key's ID.
	AlgContainerKey Alg = 4
)

func (a Alg) String() string {
	switch a {
	case AlgCustomerKey:
		return "customer-key/RSA-OAEP-256"
	case AlgAvailabilityKey:
		return "availability-key/A256GCM"
	case AlgDEPKey:
		return "dep-key/A256GCM"
	case AlgContainerKey:
		return "container-key/A256GCM"
	}
	return fmt.Sprintf("alg(%d)", byte(a))
}

// Record is a wrapped key: which format, which algorithm, the ID of the key
// that wrapped it, and the wrapped bytes.
//
//	"ckk" ‖ version(1)=1 ‖ alg(1) ‖ u16 len ‖ key ID (UTF-8) ‖ u32 len ‖ data
type Record struct {
	Alg   Alg
	KeyID string
	Data  []byte
}

const (
	recordMagic   = "ckk"
	recordVersion = 1
	maxKeyID      = 1024
	maxRecordData = 4096 // RSA-4096 is 512 bytes; GCM of a key is 60
)

// Marshal encodes the record.
func (r Record) Marshal() []byte {
	out := make([]byte, 0, len(recordMagic)+2+2+len(r.KeyID)+4+len(r.Data))
	return r.append(out)
}

func (r Record) append(out []byte) []byte {
	out = append(out, recordMagic...)
	out = append(out, recordVersion, byte(r.Alg))
	out = binary.BigEndian.AppendUint16(out, uint16(len(r.KeyID)))
	out = append(out, r.KeyID...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(r.Data)))
	return append(out, r.Data...)
}

var errRecord = errors.New("envelope: malformed wrapped key")

// ParseRecord decodes a record; the whole input must be one record.
func ParseRecord(b []byte) (Record, error) {
	r, rest, err := parseRecord(b)
	if err == nil && len(rest) != 0 {
		err = fmt.Errorf("%w: %d trailing bytes", errRecord, len(rest))
	}
	return r, err
}

func parseRecord(b []byte) (Record, []byte, error) {
	var r Record
	if len(b) < len(recordMagic)+2+2 || string(b[:len(recordMagic)]) != recordMagic {
		return r, nil, fmt.Errorf("%w: bad magic", errRecord)
	}
	b = b[len(recordMagic):]
	if b[0] != recordVersion {
		return r, nil, fmt.Errorf("%w: format version %d, want %d", errRecord, b[0], recordVersion)
	}
	r.Alg = Alg(b[1])
	if r.Alg < AlgCustomerKey || r.Alg > AlgContainerKey {
		return r, nil, fmt.Errorf("%w: unknown algorithm %d", errRecord, b[1])
	}
	b = b[2:]
	n := int(binary.BigEndian.Uint16(b))
	b = b[2:]
	if n == 0 || n > maxKeyID || len(b) < n+4 || !utf8.Valid(b[:n]) {
		return r, nil, fmt.Errorf("%w: bad key ID", errRecord)
	}
	r.KeyID, b = string(b[:n]), b[n:]
	m := binary.BigEndian.Uint32(b)
	b = b[4:]
	if m == 0 || m > maxRecordData || uint32(len(b)) < m {
		return r, nil, fmt.Errorf("%w: bad length", errRecord)
	}
	r.Data = append([]byte(nil), b[:m]...)
	return r, b[m:], nil
}

// context encodes the strings a wrapped key or ciphertext is bound to, each
// length-prefixed so that no two different contexts encode alike.
func context(label string, parts ...string) []byte { return appendContext(nil, label, parts...) }

func appendContext(out []byte, label string, parts ...string) []byte {
	out = append(out, "customerkey "...)
	out = append(out, label...)
	for _, p := range parts {
		out = binary.BigEndian.AppendUint16(out, uint16(len(p)))
		out = append(out, p...)
	}
	return out
}

// wrap seals key k under kek as a record bound to aad.
func wrap(kek *Key, alg Alg, kid string, aad []byte, k *Key) (Record, error) {
	if kid == "" || len(kid) > maxKeyID {
		return Record{}, fmt.Errorf("envelope: key ID must be 1-%d bytes", maxKeyID)
	}
	return Record{Alg: alg, KeyID: kid, Data: kek.seal(nil, k.b[:], aadWith(alg, kid, aad))}, nil
}

func unwrap(kek *Key, r Record, want Alg, aad []byte) (*Key, error) {
	if r.Alg != want {
		return nil, fmt.Errorf("envelope: key wrapped by %s, want %s", r.Alg, want)
	}
	b, err := kek.open(r.Data, aadWith(r.Alg, r.KeyID, aad))
	if err != nil {
		return nil, err
	}
	defer clear(b)
	return KeyFromBytes(b)
}

// aadWith prefixes the record's own header fields, so a record cannot be
// relabelled with another algorithm or key ID.
func aadWith(alg Alg, kid string, aad []byte) []byte {
	out := append([]byte{recordVersion, byte(alg)}, context("kid", kid)...)
	return append(out, aad...)
}
