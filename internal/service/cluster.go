package service

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/customerkey/customerkey/internal/keystore"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/vault"
)

// What the first node of a cluster records of its secrets (SPEC S1):
// never a secret, only what tells one apart from another.
const (
	clusterSigningKey    = "signing-key"    // SHA-256 of the Ed25519 public key, hex
	clusterOperatorToken = "operator-token" // the token's hash, as the tokens table keeps it
	clusterKeystore      = "keystore"       // a check value sealed under the current KEK version
)

// keystoreCheck is the plaintext sealed as the keystore's check value,
// and its associated data.
var keystoreCheck = []byte("customerkey keystore check v1")

// keystoreRecord is the keystore's check value as the database keeps it.
type keystoreRecord struct {
	Version keystore.Version `json:"version"`
	Sealed  string           `json:"sealed"` // base64
}

// SigningKeyFingerprint is what identifies a signing key: the SHA-256 of
// its Ed25519 public key, in hex.
func SigningKeyFingerprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:])
}

// checkCluster records this node's secrets in the database on the first
// start of a cluster and, on every later start of any node, refuses a
// node whose secrets are not the ones recorded (SPEC S1).
func (s *Service) checkCluster(ctx context.Context, signer ed25519.PrivateKey) error {
	st := s.st
	want := SigningKeyFingerprint(signer.Public().(ed25519.PublicKey))
	got, err := st.RecordClusterSecret(ctx, clusterSigningKey, want)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if got != want {
		return fieldErr("signer.key", "give this node the signing key every node of the cluster has (signer.key or signer.keyFile)",
			"this node's signing key (public key SHA-256 %s) is not the cluster's (%s, recorded in the database by its first node)", short(want), short(got))
	}
	if s.keks != nil {
		return s.checkKeystore(ctx)
	}
	return nil
}

// checkKeystore compares this node's keystore with the cluster's: the
// check value the first node sealed must open with it. A node whose
// keystore is another, or older than the cluster's, refuses to start. When
// the recorded version was destroyed (a purge rotated the shared keystore
// since) or is older than the current one, the check is sealed again under
// the current version.
func (s *Service) checkKeystore(ctx context.Context) error {
	cur, err := s.keks.Current(ctx)
	if err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	mine, err := s.sealCheck(ctx, cur)
	if err != nil {
		return err
	}
	stored, err := s.st.RecordClusterSecret(ctx, clusterKeystore, mine)
	if err != nil || stored == mine {
		return err
	}
	if s.freshKeystore { // this node made a keystore, but the cluster has one
		if s.cfg.Keystore.PKCS11 == nil {
			os.Remove(s.keystoreFile()) // leave no keystore of its own behind
		}
		return fieldErr(s.keystoreField(), "give this node the keystore every node of the cluster shares: the same PKCS#11 token (keystore.pkcs11), or a current copy of the cluster's keystore file",
			"this node's keystore (%s) is new and empty, but the cluster already has its keystore", s.keystoreFile())
	}
	var rec keystoreRecord
	sealed, derr := []byte(nil), json.Unmarshal([]byte(stored), &rec)
	if derr == nil {
		sealed, derr = base64.StdEncoding.DecodeString(rec.Sealed)
	}
	if derr != nil {
		return fmt.Errorf("cluster: the keystore's check value in the database is damaged: %v", derr)
	}
	notOurs := func(why string) error {
		return fieldErr(s.keystoreField(), "give this node the keystore every node of the cluster shares: the same PKCS#11 token (keystore.pkcs11), or a current copy of the cluster's keystore file",
			"this node's keystore is not the cluster's: %s", why)
	}
	if rec.Version > cur {
		return notOurs(fmt.Sprintf("the cluster's keystore is at key-encryption key version %d, this node's only at %d", rec.Version, cur))
	}
	plain, err := s.keks.Open(ctx, rec.Version, sealed, keystoreCheck)
	switch {
	case errors.Is(err, keystore.ErrDestroyed): // a purge rotated past it
	case err != nil:
		return notOurs(fmt.Sprintf("the check value the first node sealed under key-encryption key version %d does not open with it", rec.Version))
	case !bytes.Equal(plain, keystoreCheck):
		return notOurs("the check value opens to something else")
	case rec.Version == cur:
		return nil
	}
	if err := s.st.ReplaceClusterSecret(ctx, clusterKeystore, stored, mine); err != nil && !errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("cluster: %w", err)
	}
	return nil
}

// checkOperatorToken refuses an operator token that is not the cluster's,
// before the node stores it.
func (s *Service) checkOperatorToken(ctx context.Context, hash string) error {
	got, err := s.st.RecordClusterSecret(ctx, clusterOperatorToken, hash)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if got != hash {
		return fieldErr("operator.token", "give this node the operator token every node of the cluster has (operator.token or operator.tokenFile)",
			"this node's operator token is not the cluster's (the database records another one's hash)")
	}
	return nil
}

func (s *Service) sealCheck(ctx context.Context, v keystore.Version) (string, error) {
	sealed, err := s.keks.Seal(ctx, v, keystoreCheck, keystoreCheck)
	if err != nil {
		return "", fmt.Errorf("keystore: seal its check value: %w", err)
	}
	b, err := json.Marshal(keystoreRecord{Version: v, Sealed: base64.StdEncoding.EncodeToString(sealed)})
	return string(b), err
}

func (s *Service) keystoreField() string {
	if s.cfg.Keystore.PKCS11 != nil {
		return "keystore.pkcs11"
	}
	return "keystore.file"
}

func (s *Service) keystoreFile() string {
	if p := s.cfg.Keystore.PKCS11; p != nil {
		return "token " + p.TokenLabel
	}
	if s.cfg.Keystore.File != "" {
		return s.cfg.Keystore.File
	}
	return filepath.Join(s.cfg.DataDir, KeystoreFile)
}

func short(fp string) string {
	if len(fp) > 16 {
		return fp[:16]
	}
	return fp
}

// provisioned makes sure a file a node of many needs was provisioned: a
// shared node creates no secret file of its own (SPEC S1).
func provisioned(field, file, what string) error {
	if _, err := os.Stat(file); err != nil {
		return fieldErr(field, "provision "+what+" to every node (the same file on each), or give it inline as ${ENV}", "%s: %v", file, errors.Unwrap(err))
	}
	return nil
}

// sharedCA makes sure a node of many serving its own listener without a
// configured certificate has the cluster's CA in its data dir: each node
// then issues its own certificate from it, and clients trust one CA.
func (s *Service) sharedCA() error {
	ca := filepath.Join(s.cfg.DataDir, vault.CAFile)
	if _, err := os.Stat(ca); err != nil {
		return fieldErr("service.tls", "give each node a certificate (service.tls.certFile and keyFile), or copy the cluster's CA ("+vault.CAFile+" and its key "+strconv.Quote("ca-key.pem")+") into every node's dataDir",
			"a node of many makes no CA of its own, and %s has none", s.cfg.DataDir)
	}
	return nil
}
