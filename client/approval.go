package client

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"slices"
	"strings"
	"time"
)

// Officers sign purges (SPEC T7). Each authorised officer designated at
// onboarding registers an Ed25519 public key; an approval of a purge is
// that officer's Ed25519 signature over the purge's canonical statement
// (PurgeStatement.Message, docs/format.md "Purge approvals"). The service
// checks it against the officer's registered key, and the crypto-shred
// certificate carries it, so anyone can check it again.
//
//	p, _ := c.Purge(ctx, "Contoso", "Contoso-EXO-DEP-1")
//	st, _ := p.Statement("cso@contoso.com")
//	p, err = c.ApprovePurge(ctx, "Contoso", p.DEP, client.ApprovePurgeRequest{
//		Officer: "cso@contoso.com", Signature: client.SignPurge(key, st)})

// PurgeApprovalContext is the domain separation string at the head of
// every signed purge statement: a signature over it cannot be taken for a
// signature over anything else (a token, an audit head, a certificate).
const PurgeApprovalContext = "customerkey purge approval v1"

// PurgeStatement is what an officer signs to approve a purge: who
// approves, and the purge request as the service stores it.
type PurgeStatement struct {
	Officer     string    // the approving officer's address (signed in lower case)
	Tenant      string    // the tenant's ID
	DEP         string    // the DEP's GUID
	DEPName     string    // the DEP's name
	Reason      string    // -PermanentDataPurgeReason
	Contact     string    // -PermanentDataPurgeContact
	RequestedBy string    // who requested the purge
	Requested   time.Time // when (signed to the millisecond, UTC)
	Containers  []string  // the containers to delete, by ID (signed sorted)
}

// statementTime is how the request time is signed: UTC, milliseconds.
const statementTime = "2006-01-02T15:04:05.000Z"

// Message is the statement's canonical bytes, what is signed:
//
//	"customerkey purge approval v1" 0x00
//	field(officer) field(tenant) field(dep) field(depName) field(reason)
//	field(contact) field(requestedBy) field(requested)
//	uint32(n) field(container_1) ... field(container_n)
//
// where field(s) is uint32(len(s)) followed by the bytes of s, every
// uint32 big-endian, officer is in lower case, requested is
// "2006-01-02T15:04:05.000Z" in UTC, and the containers are sorted
// bytewise.
func (s PurgeStatement) Message() []byte {
	var b bytes.Buffer
	b.WriteString(PurgeApprovalContext)
	b.WriteByte(0)
	field := func(v string) {
		b.Write(binary.BigEndian.AppendUint32(nil, uint32(len(v))))
		b.WriteString(v)
	}
	for _, v := range []string{strings.ToLower(s.Officer), s.Tenant, s.DEP, s.DEPName, s.Reason, s.Contact, s.RequestedBy, s.Requested.UTC().Format(statementTime)} {
		field(v)
	}
	cs := slices.Clone(s.Containers)
	slices.Sort(cs)
	b.Write(binary.BigEndian.AppendUint32(nil, uint32(len(cs))))
	for _, c := range cs {
		field(c)
	}
	return b.Bytes()
}

// Statement is what officer signs to approve this purge request.
func (p PurgeRequest) Statement(officer string) (PurgeStatement, error) {
	at, err := time.Parse(time.RFC3339Nano, p.Requested)
	if err != nil {
		return PurgeStatement{}, errors.New("the purge request has no request time to sign")
	}
	if p.Tenant == "" || p.DEP == "" || p.Containers == nil {
		return PurgeStatement{}, errors.New("the purge request does not say what it deletes: the service is older than signed approvals")
	}
	return PurgeStatement{Officer: officer, Tenant: p.Tenant, DEP: p.DEP, DEPName: p.Name, Reason: p.Reason, Contact: p.Contact,
		RequestedBy: p.RequestedBy, Requested: at, Containers: p.Containers}, nil
}

// SignPurge is an officer's approval: the base64 Ed25519 signature of
// key over the statement's canonical bytes.
func SignPurge(key ed25519.PrivateKey, s PurgeStatement) string {
	return base64.StdEncoding.EncodeToString(ed25519.Sign(key, s.Message()))
}

// VerifyPurge reports whether sig is pub's signature over the statement.
func VerifyPurge(pub ed25519.PublicKey, s PurgeStatement, sig []byte) bool {
	return len(pub) == ed25519.PublicKeySize && len(sig) == ed25519.SignatureSize && ed25519.Verify(pub, s.Message(), sig)
}

// DecodeSignature reads a base64 Ed25519 signature.
func DecodeSignature(s string) ([]byte, error) {
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, errors.New("want an Ed25519 signature, base64 (64 bytes)")
	}
	return sig, nil
}

// sshEd25519 is the OpenSSH name of Ed25519 keys.
const sshEd25519 = "ssh-ed25519"

// ParseOfficerKey reads an officer's Ed25519 public key in any of the
// forms `ck officer register` accepts: an OpenSSH authorized_keys line
// ("ssh-ed25519 AAAA... comment"), PEM (SubjectPublicKeyInfo, as
// `openssl pkey -pubout` writes it), or the 32 bytes in base64. It
// refuses every other kind of key.
func ParseOfficerKey(text string) (ed25519.PublicKey, error) {
	text = strings.TrimSpace(text)
	if blk, _ := pem.Decode([]byte(text)); blk != nil {
		if blk.Type != "PUBLIC KEY" {
			return nil, errors.New("the PEM block is " + blk.Type + ", not a PUBLIC KEY: give the public key, never the private one")
		}
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if pk, ok := k.(ed25519.PublicKey); ok && err == nil {
			return pk, nil
		}
		return nil, errors.New("the PEM key is not an Ed25519 public key")
	}
	if f := strings.Fields(text); len(f) >= 2 && strings.HasPrefix(f[0], "ssh-") {
		if f[0] != sshEd25519 {
			return nil, errors.New("an SSH key of type " + f[0] + ": only ssh-ed25519 keys sign approvals")
		}
		wire, err := base64.StdEncoding.DecodeString(f[1])
		if err != nil {
			return nil, errors.New("the ssh-ed25519 key is not base64")
		}
		return parseSSHWire(wire)
	}
	raw, err := base64.StdEncoding.DecodeString(text)
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, errors.New("want an Ed25519 public key: an ssh-ed25519 line, PEM, or 32 bytes in base64")
	}
	return ed25519.PublicKey(raw), nil
}

// parseSSHWire reads the SSH wire form of an Ed25519 public key:
// string("ssh-ed25519") string(32 key bytes), nothing after.
func parseSSHWire(b []byte) (ed25519.PublicKey, error) {
	next := func() ([]byte, bool) {
		if len(b) < 4 {
			return nil, false
		}
		n := binary.BigEndian.Uint32(b)
		if uint64(n) > uint64(len(b)-4) {
			return nil, false
		}
		v := b[4 : 4+n]
		b = b[4+n:]
		return v, true
	}
	name, ok := next()
	if !ok || string(name) != sshEd25519 {
		return nil, errors.New("the ssh-ed25519 line does not hold an ssh-ed25519 key")
	}
	key, ok := next()
	if !ok || len(key) != ed25519.PublicKeySize || len(b) != 0 {
		return nil, errors.New("the ssh-ed25519 key is malformed")
	}
	return ed25519.PublicKey(bytes.Clone(key)), nil
}

func sshWire(pub ed25519.PublicKey) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(sshEd25519)))
	b = append(b, sshEd25519...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(pub)))
	return append(b, pub...)
}

// AuthorizedKey is pub as an OpenSSH authorized_keys line, with comment.
func AuthorizedKey(pub ed25519.PublicKey, comment string) string {
	line := sshEd25519 + " " + base64.StdEncoding.EncodeToString(sshWire(pub))
	if comment = strings.Join(strings.Fields(comment), "_"); comment != "" {
		line += " " + comment
	}
	return line
}

// KeyFingerprint is pub's fingerprint as `ssh-keygen -l` prints it:
// "SHA256:" and the unpadded base64 of the SHA-256 of the SSH wire form.
func KeyFingerprint(pub ed25519.PublicKey) string {
	h := sha256.Sum256(sshWire(pub))
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(h[:])
}
