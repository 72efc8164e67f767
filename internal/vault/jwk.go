package vault

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// b64 is a byte field in Azure's JSON: emitted as unpadded base64url;
// accepted padded or unpadded, in the URL or the standard alphabet.
type b64 []byte

func (b b64) MarshalJSON() ([]byte, error) {
	return json.Marshal(base64.RawURLEncoding.EncodeToString(b))
}

func (b *b64) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("want a base64url string")
	}
	v, err := decodeB64(s)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

func decodeB64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	s = strings.NewReplacer("+", "-", "/", "_").Replace(s)
	v, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not valid base64url: %v", err)
	}
	return v, nil
}

// jsonWebKey is the JWK of the keys API. Responses carry public parts only.
type jsonWebKey struct {
	Kid    string   `json:"kid,omitempty"`
	Kty    string   `json:"kty"`
	KeyOps []string `json:"key_ops,omitempty"`
	N      b64      `json:"n,omitempty"`
	E      b64      `json:"e,omitempty"`
	D      b64      `json:"d,omitempty"`
	DP     b64      `json:"dp,omitempty"`
	DQ     b64      `json:"dq,omitempty"`
	QI     b64      `json:"qi,omitempty"`
	P      b64      `json:"p,omitempty"`
	Q      b64      `json:"q,omitempty"`
	K      b64      `json:"k,omitempty"`
	KeyHSM b64      `json:"key_hsm,omitempty"`
	Crv    string   `json:"crv,omitempty"`
	X      b64      `json:"x,omitempty"`
	Y      b64      `json:"y,omitempty"`
}

// attributesIn are key attributes as a client sends them.
type attributesIn struct {
	Enabled   *bool  `json:"enabled"`
	NotBefore *int64 `json:"nbf"`
	Expires   *int64 `json:"exp"`
	// Exportable is only read to be refused (see refuseKeyRelease).
	Exportable *bool `json:"exportable"`
}

// attributesOut are key attributes as the vault reports them. Times are
// integer Unix seconds.
type attributesOut struct {
	Enabled         bool   `json:"enabled"`
	NotBefore       *int64 `json:"nbf,omitempty"`
	Expires         *int64 `json:"exp,omitempty"`
	Created         int64  `json:"created"`
	Updated         int64  `json:"updated"`
	RecoveryLevel   string `json:"recoveryLevel"`
	RecoverableDays int    `json:"recoverableDays"`
	Exportable      bool   `json:"exportable"`
}

type keyBundle struct {
	Key        jsonWebKey        `json:"key"`
	Attributes attributesOut     `json:"attributes"`
	Tags       map[string]string `json:"tags,omitempty"`

	// DeletedKey fields.
	RecoveryID         string `json:"recoveryId,omitempty"`
	DeletedDate        int64  `json:"deletedDate,omitempty"`
	ScheduledPurgeDate int64  `json:"scheduledPurgeDate,omitempty"`
}

type keyItem struct {
	Kid        string            `json:"kid"`
	Attributes attributesOut     `json:"attributes"`
	Tags       map[string]string `json:"tags,omitempty"`
	Managed    bool              `json:"managed,omitempty"`

	RecoveryID         string `json:"recoveryId,omitempty"`
	DeletedDate        int64  `json:"deletedDate,omitempty"`
	ScheduledPurgeDate int64  `json:"scheduledPurgeDate,omitempty"`
}

type keyOperationParams struct {
	Alg   string `json:"alg"`
	Value *b64   `json:"value"`
}

type keyOperationResult struct {
	Kid   string `json:"kid"`
	Value b64    `json:"value"`
}
