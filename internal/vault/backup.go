package vault

import (
	"bytes"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/customerkey/customerkey/internal/store"
)

// A key backup is opaque to clients. Layout:
//
//	"CKVaultKeyBackupV1" || uint16 len || subscription ID || seal(backup key, JSON, aad)
//
// where aad is the magic and the subscription ID, and the JSON holds every
// version with its private key (PKCS#8), attributes and IDs. The backup key
// is derived from the vault master key, so only a vault server sharing that
// master key can restore it, and only into a vault of the same subscription.
var backupMagic = []byte("CKVaultKeyBackupV1")

type backupVersion struct {
	Version   string            `json:"version"`
	Seq       int64             `json:"seq"`
	Kty       string            `json:"kty"`
	Size      int               `json:"size"`
	Ops       []string          `json:"ops"`
	Enabled   bool              `json:"enabled"`
	NotBefore *time.Time        `json:"nbf,omitempty"`
	Expires   *time.Time        `json:"exp,omitempty"`
	Created   time.Time         `json:"created"`
	Updated   time.Time         `json:"updated"`
	Tags      map[string]string `json:"tags,omitempty"`
	PKCS8     []byte            `json:"pkcs8"`
}

type backupContent struct {
	Name     string          `json:"name"`
	Vault    string          `json:"vault"`
	Versions []backupVersion `json:"versions"`
}

func backupAAD(sub string) []byte { return append(append([]byte{}, backupMagic...), sub...) }

func (s *Server) backupKey(c *call, v store.Vault, name string) error {
	c.key = name
	if err := s.authorize(c, v, opBackup); err != nil {
		return err
	}
	latest, err := s.liveKey(c, v, name, "")
	if err != nil {
		return err
	}
	c.version = ""
	versions, err := s.st.ListKeyVersions(c.r.Context(), v.Name, latest.Name, 0, 1<<30)
	if err != nil {
		return err
	}
	content := backupContent{Name: latest.Name, Vault: v.Name}
	for _, kv := range versions {
		der, err := unseal(s.mk.keys, kv.Sealed, keyAAD(kv.Vault, kv.Name, kv.Version))
		if err != nil {
			return err
		}
		content.Versions = append(content.Versions, backupVersion{Version: kv.Version, Seq: kv.Seq, Kty: kv.Kty, Size: kv.Size, Ops: kv.Ops, Enabled: kv.Enabled,
			NotBefore: kv.NotBefore, Expires: kv.Expires, Created: kv.Created, Updated: kv.Updated, Tags: kv.Tags, PKCS8: der})
	}
	plain, err := json.Marshal(content)
	for _, bv := range content.Versions {
		clear(bv.PKCS8)
	}
	if err != nil {
		return err
	}
	var blob bytes.Buffer
	blob.Write(backupMagic)
	binary.Write(&blob, binary.BigEndian, uint16(len(v.SubscriptionID)))
	blob.WriteString(v.SubscriptionID)
	blob.Write(seal(s.mk.backup, plain, backupAAD(v.SubscriptionID)))
	clear(plain)
	c.reply(http.StatusOK, map[string]b64{"value": blob.Bytes()})
	return nil
}

var errBadBackup = badParam("the backup blob is corrupt or was not made by this vault server; use a file written by Backup (ck vault key backup)")

func parseBackup(blob []byte) (sub string, sealed []byte, err error) {
	if !bytes.HasPrefix(blob, backupMagic) || len(blob) < len(backupMagic)+2 {
		return "", nil, errBadBackup
	}
	rest := blob[len(backupMagic):]
	n := int(binary.BigEndian.Uint16(rest))
	if len(rest) < 2+n {
		return "", nil, errBadBackup
	}
	return string(rest[2 : 2+n]), rest[2+n:], nil
}

func (s *Server) restoreKey(c *call, v store.Vault) error {
	if err := s.authorize(c, v, opRestore); err != nil {
		return err
	}
	var p struct {
		Value *b64 `json:"value"`
	}
	if err := c.decode(&p, false); err != nil {
		return err
	}
	if p.Value == nil || len(*p.Value) == 0 {
		return badParam("value is required: the backup blob (base64url)")
	}
	sub, sealed, err := parseBackup(*p.Value)
	if err != nil {
		return err
	}
	if sub != v.SubscriptionID {
		return badParam("this backup was taken in another subscription: a key backup can be restored only into a vault of the same subscription (backup: %s, vault %s: %s)", sub, v.Name, v.SubscriptionID)
	}
	plain, err := unseal(s.mk.backup, sealed, backupAAD(sub))
	if err != nil {
		return errBadBackup
	}
	var content backupContent
	err = json.Unmarshal(plain, &content)
	clear(plain)
	if err != nil || validKeyName(content.Name) != nil || len(content.Versions) == 0 {
		return errBadBackup
	}
	c.key = content.Name
	var versions []store.KeyVersion
	for _, bv := range content.Versions {
		if err := checkKty(bv.Kty, v); err != nil {
			return err
		}
		k, err := x509.ParsePKCS8PrivateKey(bv.PKCS8)
		priv, ok := k.(*rsaPrivateKey)
		if err != nil || !ok {
			return errBadBackup
		}
		kv := store.KeyVersion{Vault: v.Name, Name: content.Name, Version: bv.Version, Seq: bv.Seq, Kty: bv.Kty, Size: bv.Size, Ops: bv.Ops, Enabled: bv.Enabled,
			NotBefore: bv.NotBefore, Expires: bv.Expires, Created: bv.Created, Updated: bv.Updated, Tags: bv.Tags,
			N: priv.N.Bytes(), E: bigE(priv.E)}
		kv.Sealed = seal(s.mk.keys, bv.PKCS8, keyAAD(v.Name, content.Name, bv.Version))
		clear(bv.PKCS8)
		versions = append(versions, kv)
	}
	err = s.st.RestoreKey(c.r.Context(), v.Name, content.Name, versions)
	if errors.Is(err, store.ErrConflict) {
		return conflict("KeyAlreadyExists", "There was a conflict restoring the key %s: a key of that name exists in vault %s (live or soft-deleted). Restore into another vault of the subscription, or delete and purge the existing key first.", content.Name, v.Name)
	}
	if err != nil {
		return err
	}
	latest := versions[0]
	for _, kv := range versions {
		if kv.Seq > latest.Seq {
			latest = kv
		}
	}
	c.version = latest.Version
	return s.replyBundle(c, v, latest)
}
