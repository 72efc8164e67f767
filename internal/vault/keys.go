package vault

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/customerkey/customerkey/internal/store"
)

// APIVersions are the keys API versions the vault accepts.
var APIVersions = []string{"7.2", "7.3", "7.4", "7.5", "7.6", "2025-07-01", "2026-01-01-preview"}

const latestAPIVersion = "2025-07-01"

var (
	keyNameRE   = regexp.MustCompile(`^[0-9a-zA-Z-]{1,127}$`)
	keyVerRE    = regexp.MustCompile(`^[0-9a-fA-F]{32}$`)
	rsaKeyOps   = []string{"encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"}
	keySizes    = []int{2048, 3072, 4096}
	maxPageSize = 25
)

// serveVault handles the Azure Key Vault keys API for one vault.
func (s *Server) serveVault(c *call, name string) {
	c.op, c.vault = "VaultRequest", name
	if err := s.observe(c); err != nil {
		c.fail(err)
		return
	}
	v, verr := s.vault(c, name)
	tenant := ""
	if verr == nil && v.DeletedAt == nil {
		tenant = v.TenantID // a live vault's challenge names its tenant, as Azure's does
	}
	// The challenge comes before anything else, and before the body is read.
	if !c.authenticate(tenant, false) {
		return
	}
	switch {
	case verr != nil:
		c.fail(verr)
		return
	case v.DeletedAt != nil && c.tenant != v.TenantID:
		// A soft-deleted vault is its own tenant's to know of: to anyone
		// else it is a name that does not exist.
		c.fail(notFound("VaultNotFound", "vault %q not found", name))
		return
	case v.DeletedAt != nil:
		c.fail(notFound("VaultNotFound", "vault %q is deleted; it can be recovered until %s", v.Name, v.PurgeAt.Format(time.RFC3339)))
		return
	case v.Region != c.region.Name:
		c.fail(notFound("VaultNotFound", "vault %q is in region %s and is served at %s, not here (%s)", v.Name, v.Region, s.VaultURL(v.Name, v.Region), c.region.Name))
		return
	}
	apiVersion := c.r.URL.Query().Get("api-version")
	if apiVersion == "" {
		c.fail(badParam("the api-version query parameter is required; the latest supported is %s", latestAPIVersion))
		return
	}
	if !slices.Contains(APIVersions, apiVersion) {
		c.fail(badParam("The specified version (%s) is not recognized. Consider using the latest supported version (%s).", apiVersion, latestAPIVersion))
		return
	}
	if !keysWrite(c.r) {
		if err := s.routeKeys(c, v); err != nil {
			c.fail(err)
		}
		return
	}
	// A write may change a key the snapshot holds: it is off while the
	// write runs, and every other vault node drops its own.
	s.snap.write(func() {
		if err := s.routeKeys(c, v); err != nil {
			c.fail(err)
		}
	})
	// A write refused with a 4xx changed nothing (and a principal without
	// the right must not make every node reload); after a 5xx it may have.
	if c.status < 400 || c.status >= 500 {
		s.publishAccess(c.r.Context(), c.op)
	}
}

// keysWrite says whether a keys API request may change a key: anything but
// a read, a backup and the cryptographic operations.
func keysWrite(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return false
	case http.MethodPost:
		path := strings.ToLower(strings.TrimSuffix(r.URL.Path, "/"))
		switch path[strings.LastIndexByte(path, '/')+1:] {
		case "wrapkey", "unwrapkey", "encrypt", "decrypt", "sign", "verify", "release", "backup":
			return false
		}
	}
	return true
}

// observe drops the snapshot when another vault node recorded an event
// this one has not seen (vault nodes over one PostgreSQL: one read of the
// last event's sequence per request). A request that cannot tell fails.
func (s *Server) observe(c *call) error {
	if s.shared == nil {
		return nil
	}
	head, err := s.shared.Head(c.r.Context())
	if err != nil {
		return fmt.Errorf("reading the last event's sequence: %w", err)
	}
	s.snap.observe(head, time.Now())
	return nil
}

func (s *Server) routeKeys(c *call, v store.Vault) error {
	segs := strings.Split(strings.TrimPrefix(c.r.URL.Path, "/"), "/")
	m := c.r.Method
	lower := func(i int) string { return strings.ToLower(segs[i]) }
	switch {
	case len(segs) == 1 && lower(0) == "keys" && m == http.MethodGet:
		return s.listKeys(c, v, false)
	case len(segs) == 1 && lower(0) == "deletedkeys" && m == http.MethodGet:
		return s.listKeys(c, v, true)
	case len(segs) == 2 && lower(0) == "keys":
		n := segs[1]
		switch {
		case strings.EqualFold(n, "restore") && m == http.MethodPost:
			return s.restoreKey(c, v)
		case m == http.MethodPut:
			return s.importKey(c, v, n)
		case m == http.MethodDelete:
			return s.deleteKey(c, v, n)
		case m == http.MethodGet:
			return s.getKey(c, v, n, "")
		case m == http.MethodPatch:
			return s.updateKey(c, v, n, "")
		}
	case len(segs) == 3 && lower(0) == "keys":
		n, x := segs[1], lower(2)
		switch {
		case m == http.MethodPost && x == "create":
			return s.createKey(c, v, n)
		case m == http.MethodPost && x == "rotate":
			return s.rotateKey(c, v, n)
		case m == http.MethodPost && x == "backup":
			return s.backupKey(c, v, n)
		case m == http.MethodPost:
			return s.cryptoOp(c, v, n, "", x)
		case m == http.MethodGet && x == "versions":
			return s.listVersions(c, v, n)
		case m == http.MethodGet && x == "rotationpolicy":
			return s.getRotationPolicy(c, v, n)
		case x == "rotationpolicy":
			return refuseRotationPolicy(c, m, n)
		case m == http.MethodGet && x == "attestation": // GetKeyAttestation with no version
			return refuseAttestation(c, n, "")
		case m == http.MethodGet:
			return s.getKey(c, v, n, segs[2])
		case m == http.MethodPatch:
			return s.updateKey(c, v, n, segs[2])
		}
	case len(segs) == 4 && lower(0) == "keys" && m == http.MethodPost:
		return s.cryptoOp(c, v, segs[1], segs[2], lower(3))
	case len(segs) == 4 && lower(0) == "keys" && m == http.MethodGet && lower(3) == "attestation":
		return refuseAttestation(c, segs[1], segs[2])
	case len(segs) == 2 && lower(0) == "deletedkeys" && m == http.MethodGet:
		return s.getDeletedKey(c, v, segs[1])
	case len(segs) == 2 && lower(0) == "deletedkeys" && m == http.MethodDelete:
		return s.purgeKey(c, v, segs[1])
	case len(segs) == 3 && lower(0) == "deletedkeys" && lower(2) == "recover" && m == http.MethodPost:
		return s.recoverKey(c, v, segs[1])
	}
	return notFound("NotFound", "the keys API has no operation %s %s", m, c.r.URL.Path)
}

// authorize checks the caller's right to op on vault v under the vault's
// permission model. It runs on every request, so removed access takes
// effect on the next call (the snapshot is dropped by every management
// write, on every vault node: snapshot).
func (s *Server) authorize(c *call, v store.Vault, op keyOp) error {
	c.op = op.Name
	ctx := c.r.Context()
	if v.PermissionModel == store.ModelRBAC {
		ras, err := s.snap.roleAssignments(ctx, s.st, v.Name)
		if err != nil {
			return err
		}
		for _, ra := range ras {
			if !strings.EqualFold(ra.Principal, c.principal) {
				continue
			}
			role, _ := LookupRole(ra.Role)
			if op.grantedBy(role) {
				return nil
			}
		}
		return forbidden("ForbiddenByRbac", "Caller is not authorized to perform action on resource. Caller: %s; Action: '%s'; Resource: vault '%s' (location %s); Assignment: (not found). Grant a role that allows it, e.g.: ck vault role assign %s --role \"Key Vault Crypto Service Encryption User\" --assignee %s",
			c.principal, op.Action, v.Name, v.Region, v.Name, c.principal)
	}
	aps, err := s.snap.accessPolicies(ctx, s.st, v.Name)
	if err != nil {
		return err
	}
	for _, ap := range aps {
		if strings.EqualFold(ap.Principal, c.principal) && (slices.Contains(ap.Permissions, op.Permission) || slices.Contains(ap.Permissions, "all")) {
			return nil
		}
	}
	return forbidden("ForbiddenByPolicy", "The user, group or application '%s' does not have keys %s permission on key vault '%s;location=%s'. Grant it with: ck vault access-policy set %s --%s %s --key-permissions %s",
		c.principal, op.Permission, v.Name, v.Region, v.Name, principalFlag(c), c.principal, op.Permission)
}

func principalFlag(c *call) string {
	if c.claims != nil && c.claims.Kind == store.PrincipalService {
		return "spn"
	}
	return "upn"
}

func validKeyName(name string) error {
	if !keyNameRE.MatchString(name) {
		return badParam("key name %q is invalid: use 1-127 characters, letters, digits and dashes only", name)
	}
	return nil
}

func keyNotFound(name string) *apiError {
	return notFound("KeyNotFound", "A key with (name/id) %s was not found in this key vault. If you recently deleted this key you may be able to recover it using the correct recovery command.", name)
}

// keyState loads a key's versionless state. Deleted keys past their purge
// date are purged on the way.
func (s *Server) keyState(c *call, v store.Vault, name string) (store.Key, error) {
	k, err := s.st.Key(c.r.Context(), v.Name, name)
	if err == nil && k.PurgeAt != nil && !s.now().Before(*k.PurgeAt) {
		if err = s.st.PurgeKey(c.r.Context(), v.Name, name); err == nil {
			s.keys.drop(v.Name + "/" + name + "/")
			s.cfg.Logger.Info("vault: key purged at the end of its retention period", "vault", v.Name, "key", name)
			err = store.ErrNotFound
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		return k, keyNotFound(name)
	}
	return k, err
}

// liveKey loads a version ("" = latest) of a key that is not deleted, in
// one query. A deleted key past its purge date is purged on the way.
func (s *Server) liveKey(c *call, v store.Vault, name, version string) (store.KeyVersion, error) {
	c.key, c.version = name, version
	if err := validKeyName(name); err != nil {
		return store.KeyVersion{}, err
	}
	if version != "" && !keyVerRE.MatchString(version) {
		return store.KeyVersion{}, badParam("key version %q is invalid: a version is 32 hexadecimal characters", version)
	}
	kv, err := s.snap.keyVersion(c.r.Context(), s.st, v.Name, name, version)
	if errors.Is(err, store.ErrNotFound) {
		if version != "" {
			name += "/" + version
		}
		return kv, keyNotFound(name)
	}
	if err != nil {
		return kv, err
	}
	if kv.KeyDeletedAt != nil {
		if _, err := s.keyState(c, v, name); err != nil { // purges it if its time has come
			return kv, err
		}
		return kv, keyNotFound(name)
	}
	c.key, c.version = kv.Name, kv.Version
	return kv, nil
}

func unix(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	u := t.Unix()
	return &u
}

func (s *Server) attributes(c *call, v store.Vault, kv store.KeyVersion) (attributesOut, error) {
	retention, err := s.retentionState(c, v.SubscriptionID)
	if err != nil {
		return attributesOut{}, err
	}
	return attributesOut{Enabled: kv.Enabled, NotBefore: unix(kv.NotBefore), Expires: unix(kv.Expires), Created: kv.Created.Unix(), Updated: kv.Updated.Unix(),
		RecoveryLevel: recoveryLevel(v, retention), RecoverableDays: v.RetentionDays}, nil
}

func (s *Server) kid(v store.Vault, name, version string) string {
	id := s.VaultURL(v.Name, v.Region) + "/keys/" + name
	if version != "" {
		id += "/" + version
	}
	return id
}

func (s *Server) bundle(c *call, v store.Vault, kv store.KeyVersion) (keyBundle, error) {
	attrs, err := s.attributes(c, v, kv)
	return keyBundle{
		Key:        jsonWebKey{Kid: s.kid(v, kv.Name, kv.Version), Kty: kv.Kty, KeyOps: kv.Ops, N: kv.N, E: kv.E},
		Attributes: attrs,
		Tags:       kv.Tags,
	}, err
}

func (s *Server) replyBundle(c *call, v store.Vault, kv store.KeyVersion) error {
	b, err := s.bundle(c, v, kv)
	if err != nil {
		return err
	}
	c.reply(http.StatusOK, b)
	return nil
}

// ---- create, import, rotate ----

type createKeyParams struct {
	Kty            string            `json:"kty"`
	KeySize        *int              `json:"key_size"`
	PublicExponent *int              `json:"public_exponent"`
	KeyOps         []string          `json:"key_ops"`
	Attributes     *attributesIn     `json:"attributes"`
	Tags           map[string]string `json:"tags"`
	Crv            string            `json:"crv"`
	ReleasePolicy  json.RawMessage   `json:"release_policy"` // refused
}

func checkKty(kty string, v store.Vault) error {
	switch kty {
	case "RSA", "RSA-HSM":
	case "":
		return badParam("kty is required: use RSA or RSA-HSM")
	case "EC", "EC-HSM":
		return badParam("kty %q is not supported: elliptic-curve keys cannot wrap or unwrap, which Customer Key needs; use RSA or RSA-HSM", kty)
	default:
		return badParam("kty %q is not supported by the built-in vault: use RSA or RSA-HSM", kty)
	}
	if kty == "RSA-HSM" && v.SKU != "premium" {
		return badParam("RSA-HSM (HSM-protected) keys need a premium vault; vault %q is %s. Use RSA, or create the key in a premium vault", v.Name, v.SKU)
	}
	return nil
}

func checkOps(ops []string) ([]string, error) {
	if ops == nil {
		return slices.Clone(rsaKeyOps), nil
	}
	var out []string
	for _, op := range ops {
		i := slices.IndexFunc(rsaKeyOps, func(k string) bool { return strings.EqualFold(k, op) })
		if i < 0 {
			return nil, badParam("key operation %q is not valid for an RSA key: use any of %s", op, strings.Join(rsaKeyOps, ", "))
		}
		if !slices.Contains(out, rsaKeyOps[i]) {
			out = append(out, rsaKeyOps[i])
		}
	}
	return out, nil
}

func checkTags(tags map[string]string) error {
	if len(tags) > 15 {
		return badParam("a key can have at most 15 tags, not %d", len(tags))
	}
	for k, v := range tags {
		if k == "" || len(k) > 512 || len(v) > 256 {
			return badParam("tag %q is invalid: names are 1-512 characters and values at most 256", k)
		}
	}
	return nil
}

// newVersion builds the attributes of a new key version from client input.
func (s *Server) newVersion(v store.Vault, name, kty string, size int, ops []string, a *attributesIn, tags map[string]string) (store.KeyVersion, error) {
	now := s.now().Truncate(time.Second)
	kv := store.KeyVersion{Vault: v.Name, Name: name, Version: newVersionID(), Kty: kty, Size: size, Ops: ops, Enabled: true, Created: now, Updated: now, Tags: tags}
	if err := applyAttributes(&kv, a); err != nil {
		return kv, err
	}
	return kv, checkTags(tags)
}

// applyAttributes sets what a client gave of enabled, nbf and exp, and
// checks the window.
func applyAttributes(kv *store.KeyVersion, a *attributesIn) error {
	if a != nil {
		if a.Enabled != nil {
			kv.Enabled = *a.Enabled
		}
		if a.NotBefore != nil {
			t := time.Unix(*a.NotBefore, 0).UTC()
			kv.NotBefore = &t
		}
		if a.Expires != nil {
			t := time.Unix(*a.Expires, 0).UTC()
			kv.Expires = &t
		}
	}
	if kv.NotBefore != nil && kv.Expires != nil && !kv.Expires.After(*kv.NotBefore) {
		return badParam("attributes: exp (%s) must be after nbf (%s)", kv.Expires.Format(time.RFC3339), kv.NotBefore.Format(time.RFC3339))
	}
	return nil
}

func newVersionID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return fmt.Sprintf("%x", b)
}

// storePrivate seals the private key and stores the new version.
func (s *Server) storePrivate(c *call, kv store.KeyVersion, priv *rsa.PrivateKey) (store.KeyVersion, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return kv, err
	}
	kv.N, kv.E = priv.N.Bytes(), bigE(priv.E)
	kv.Sealed = seal(s.mk.keys, der, keyAAD(kv.Vault, kv.Name, kv.Version))
	clear(der)
	kv, err = s.st.AddKeyVersion(c.r.Context(), kv)
	if errors.Is(err, store.ErrConflict) {
		return kv, conflict("ObjectIsDeletedButRecoverable", "Key %s is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the key can only be recovered or purged.", kv.Name)
	}
	c.key, c.version = kv.Name, kv.Version
	return kv, err
}

func (s *Server) refuseIfDeleted(c *call, v store.Vault, name string) error {
	k, err := s.keyState(c, v, name)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return nil
	}
	if err != nil {
		return err
	}
	if k.DeletedAt != nil {
		return conflict("ObjectIsDeletedButRecoverable", "Key %s is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the key can only be recovered or purged.", k.Name)
	}
	return nil
}

func (s *Server) createKey(c *call, v store.Vault, name string) error {
	c.key = name
	if err := s.authorize(c, v, opCreate); err != nil {
		return err
	}
	var p createKeyParams
	if err := c.decode(&p, false); err != nil {
		return err
	}
	if err := validKeyName(name); err != nil {
		return err
	}
	if err := refuseKeyRelease(p.Attributes, p.ReleasePolicy); err != nil {
		return err
	}
	if err := checkKty(p.Kty, v); err != nil {
		return err
	}
	size := 2048
	if p.KeySize != nil {
		size = *p.KeySize
	}
	if !slices.Contains(keySizes, size) {
		return badParam("key_size %d is not supported: RSA keys are 2048, 3072 or 4096 bits", size)
	}
	if p.PublicExponent != nil && *p.PublicExponent != 65537 {
		return badParam("public_exponent %d is not supported: the vault uses 65537", *p.PublicExponent)
	}
	ops, err := checkOps(p.KeyOps)
	if err != nil {
		return err
	}
	kv, err := s.newVersion(v, name, p.Kty, size, ops, p.Attributes, p.Tags)
	if err != nil {
		return err
	}
	if err := s.refuseIfDeleted(c, v, name); err != nil {
		return err
	}
	priv, err := rsa.GenerateKey(rand.Reader, size)
	if err != nil {
		return err
	}
	if kv, err = s.storePrivate(c, kv, priv); err != nil {
		return err
	}
	return s.replyBundle(c, v, kv)
}

type importKeyParams struct {
	Key           *jsonWebKey       `json:"key"`
	HSM           *bool             `json:"Hsm"`
	Attributes    *attributesIn     `json:"attributes"`
	Tags          map[string]string `json:"tags"`
	ReleasePolicy json.RawMessage   `json:"release_policy"` // refused
}

func (s *Server) importKey(c *call, v store.Vault, name string) error {
	c.key = name
	if err := s.authorize(c, v, opImport); err != nil {
		return err
	}
	var p importKeyParams
	if err := c.decode(&p, false); err != nil {
		return err
	}
	if err := validKeyName(name); err != nil {
		return err
	}
	if p.Key == nil {
		return badParam("key is required: a JSON Web Key with the RSA private key (n, e, d, p, q)")
	}
	if err := refuseKeyRelease(p.Attributes, p.ReleasePolicy); err != nil {
		return err
	}
	kty := p.Key.Kty
	if kty == "RSA" && p.HSM != nil && *p.HSM {
		kty = "RSA-HSM"
	}
	if err := checkKty(kty, v); err != nil {
		return err
	}
	priv, err := privateFromJWK(p.Key)
	if err != nil {
		return err
	}
	ops, err := checkOps(p.Key.KeyOps)
	if err != nil {
		return err
	}
	kv, err := s.newVersion(v, name, kty, priv.N.BitLen(), ops, p.Attributes, p.Tags)
	if err != nil {
		return err
	}
	if err := s.refuseIfDeleted(c, v, name); err != nil {
		return err
	}
	if kv, err = s.storePrivate(c, kv, priv); err != nil {
		return err
	}
	return s.replyBundle(c, v, kv)
}

func privateFromJWK(k *jsonWebKey) (*rsa.PrivateKey, error) {
	if len(k.N) == 0 || len(k.E) == 0 {
		return nil, badParam("key: n and e are required")
	}
	if len(k.D) == 0 || len(k.P) == 0 || len(k.Q) == 0 {
		if len(k.KeyHSM) > 0 {
			return nil, badParam("key: HSM key-transfer blobs (key_hsm) are not supported by the built-in vault; import the RSA private key as a JWK (n, e, d, p, q)")
		}
		return nil, badParam("key: the JWK has no private key (d, p, q); the vault unwraps with the key, so import needs its private part")
	}
	e := new(big.Int).SetBytes(k.E)
	if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 {
		return nil, badParam("key: public exponent e is out of range")
	}
	priv := &rsa.PrivateKey{
		PublicKey: rsa.PublicKey{N: new(big.Int).SetBytes(k.N), E: int(e.Int64())},
		D:         new(big.Int).SetBytes(k.D),
		Primes:    []*big.Int{new(big.Int).SetBytes(k.P), new(big.Int).SetBytes(k.Q)},
	}
	if !slices.Contains(keySizes, priv.N.BitLen()) {
		return nil, badParam("key: RSA key of %d bits is not supported: use 2048, 3072 or 4096 bits", priv.N.BitLen())
	}
	if err := priv.Validate(); err != nil {
		return nil, badParam("key: the RSA private key is inconsistent (%v)", err)
	}
	priv.Precompute()
	return priv, nil
}

func (s *Server) rotateKey(c *call, v store.Vault, name string) error {
	c.key = name
	if err := s.authorize(c, v, opRotate); err != nil {
		return err
	}
	cur, err := s.liveKey(c, v, name, "")
	if err != nil {
		return err
	}
	kv, err := s.newVersion(v, cur.Name, cur.Kty, cur.Size, cur.Ops, nil, cur.Tags)
	if err != nil {
		return err
	}
	priv, err := rsa.GenerateKey(rand.Reader, cur.Size)
	if err != nil {
		return err
	}
	if kv, err = s.storePrivate(c, kv, priv); err != nil {
		return err
	}
	return s.replyBundle(c, v, kv)
}

// ---- get, update, list ----

func (s *Server) getKey(c *call, v store.Vault, name, version string) error {
	c.key, c.version = name, version
	if err := s.authorize(c, v, opGet); err != nil {
		return err
	}
	kv, err := s.liveKey(c, v, name, version)
	if err != nil {
		return err
	}
	if !kv.Enabled {
		return forbidden("KeyDisabled", "Operation get is not allowed on a disabled key. Enable key %s with: ck vault key update %s %s --enabled=true", kv.Name, v.Name, kv.Name)
	}
	return s.replyBundle(c, v, kv)
}

type updateKeyParams struct {
	KeyOps        []string          `json:"key_ops"`
	Attributes    json.RawMessage   `json:"attributes"`
	Tags          map[string]string `json:"tags"`
	ReleasePolicy json.RawMessage   `json:"release_policy"` // refused
}

func (s *Server) updateKey(c *call, v store.Vault, name, version string) error {
	c.key, c.version = name, version
	if err := s.authorize(c, v, opUpdate); err != nil {
		return err
	}
	var p updateKeyParams
	if err := c.decode(&p, false); err != nil {
		return err
	}
	if err := refuseKeyRelease(nil, p.ReleasePolicy); err != nil {
		return err
	}
	kv, err := s.liveKey(c, v, name, version)
	if err != nil {
		return err
	}
	if p.KeyOps != nil {
		if kv.Ops, err = checkOps(p.KeyOps); err != nil {
			return err
		}
	}
	if p.Tags != nil {
		if err := checkTags(p.Tags); err != nil {
			return err
		}
		kv.Tags = p.Tags
	}
	if len(p.Attributes) > 0 && string(p.Attributes) != "null" {
		var raw map[string]json.RawMessage
		var a attributesIn
		if json.Unmarshal(p.Attributes, &raw) != nil || json.Unmarshal(p.Attributes, &a) != nil {
			return badParam("attributes must be an object with enabled (boolean), nbf and exp (integer Unix seconds)")
		}
		if err := refuseKeyRelease(&a, nil); err != nil {
			return err
		}
		if x, ok := raw["exp"]; ok && string(x) == "null" && kv.Expires != nil {
			return badParam("an expiry, once set, cannot be removed; change it instead, e.g. to 9999-12-31 (253402214400), the value Customer Key accepts")
		}
		if err := applyAttributes(&kv, &a); err != nil {
			return err
		}
	}
	kv.Updated = s.now().Truncate(time.Second)
	if err := s.st.UpdateKeyVersion(c.r.Context(), kv); err != nil {
		return err
	}
	return s.replyBundle(c, v, kv)
}

// page reads maxresults and $skiptoken.
func page(c *call) (limit int, token string, err error) {
	q := c.r.URL.Query()
	limit = maxPageSize
	if m := q.Get("maxresults"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil || n < 1 || n > maxPageSize {
			return 0, "", badParam("maxresults %q is invalid: use 1-%d", m, maxPageSize)
		}
		limit = n
	}
	if t := q.Get("$skiptoken"); t != "" {
		b, err := base64.RawURLEncoding.DecodeString(t)
		if err != nil {
			return 0, "", badParam("$skiptoken is invalid; use the nextLink of the previous page as it is")
		}
		token = string(b)
	}
	return limit, token, nil
}

// nextLink is the absolute URL of the next page, with api-version kept.
func nextLink(c *call, token string, limit int) *string {
	q := c.r.URL.Query()
	link := "https://" + c.r.Host + c.r.URL.Path + "?api-version=" + q.Get("api-version") + "&$skiptoken=" + base64.RawURLEncoding.EncodeToString([]byte(token))
	if q.Get("maxresults") != "" {
		link += "&maxresults=" + strconv.Itoa(limit)
	}
	return &link
}

type listResult[T any] struct {
	Value    []T     `json:"value"`
	NextLink *string `json:"nextLink"`
}

func (s *Server) listKeys(c *call, v store.Vault, deleted bool) error {
	op := opList
	if deleted {
		op = opListDeleted
	}
	if err := s.authorize(c, v, op); err != nil {
		return err
	}
	limit, after, err := page(c)
	if err != nil {
		return err
	}
	items, err := s.st.ListKeys(c.r.Context(), v.Name, deleted, after, limit+1)
	if err != nil {
		return err
	}
	out := listResult[keyItem]{Value: []keyItem{}}
	for i, it := range items {
		if i == limit {
			out.NextLink = nextLink(c, strings.ToLower(items[i-1].Key.Name), limit)
			break
		}
		if deleted && it.Key.PurgeAt != nil && !s.now().Before(*it.Key.PurgeAt) {
			continue // past retention: purged when next touched
		}
		attrs, err := s.attributes(c, v, it.Latest)
		if err != nil {
			return err
		}
		ki := keyItem{Kid: s.kid(v, it.Key.Name, ""), Attributes: attrs, Tags: it.Latest.Tags}
		if deleted {
			ki.RecoveryID = s.VaultURL(v.Name, v.Region) + "/deletedkeys/" + it.Key.Name
			ki.DeletedDate, ki.ScheduledPurgeDate = it.Key.DeletedAt.Unix(), it.Key.PurgeAt.Unix()
		}
		out.Value = append(out.Value, ki)
	}
	c.reply(http.StatusOK, out)
	return nil
}

func (s *Server) listVersions(c *call, v store.Vault, name string) error {
	c.key = name
	if err := s.authorize(c, v, opListVer); err != nil {
		return err
	}
	if _, err := s.liveKey(c, v, name, ""); err != nil {
		return err
	}
	c.version = ""
	limit, token, err := page(c)
	if err != nil {
		return err
	}
	var after int64
	if token != "" {
		if after, err = strconv.ParseInt(token, 10, 64); err != nil {
			return badParam("$skiptoken is invalid; use the nextLink of the previous page as it is")
		}
	}
	vs, err := s.st.ListKeyVersions(c.r.Context(), v.Name, name, after, limit+1)
	if err != nil {
		return err
	}
	out := listResult[keyItem]{Value: []keyItem{}}
	for i, kv := range vs {
		if i == limit {
			out.NextLink = nextLink(c, strconv.FormatInt(vs[i-1].Seq, 10), limit)
			break
		}
		attrs, err := s.attributes(c, v, kv)
		if err != nil {
			return err
		}
		out.Value = append(out.Value, keyItem{Kid: s.kid(v, kv.Name, kv.Version), Attributes: attrs, Tags: kv.Tags})
	}
	c.reply(http.StatusOK, out)
	return nil
}

// ---- delete, recover, purge ----

func (s *Server) deletedBundle(c *call, v store.Vault, k store.Key) error {
	kv, err := s.st.KeyVersion(c.r.Context(), v.Name, k.Name, "")
	if err != nil {
		return err
	}
	b, err := s.bundle(c, v, kv)
	if err != nil {
		return err
	}
	b.RecoveryID = s.VaultURL(v.Name, v.Region) + "/deletedkeys/" + k.Name
	b.DeletedDate, b.ScheduledPurgeDate = k.DeletedAt.Unix(), k.PurgeAt.Unix()
	c.reply(http.StatusOK, b)
	return nil
}

func (s *Server) deleteKey(c *call, v store.Vault, name string) error {
	c.key = name
	if err := s.authorize(c, v, opDelete); err != nil {
		return err
	}
	kv, err := s.liveKey(c, v, name, "")
	if err != nil {
		return err
	}
	c.version = ""
	now := s.now().Truncate(time.Second)
	purge := now.Add(time.Duration(v.RetentionDays) * 24 * time.Hour)
	if err := s.st.SetKeyDeleted(c.r.Context(), v.Name, kv.Name, &now, &purge); err != nil {
		return err
	}
	s.cfg.Logger.Info("vault: key soft-deleted", "vault", v.Name, "key", kv.Name, "principal", c.principal, "scheduledPurge", purge)
	return s.deletedBundle(c, v, store.Key{Vault: v.Name, Name: kv.Name, DeletedAt: &now, PurgeAt: &purge})
}

// deletedKey loads a soft-deleted key.
func (s *Server) deletedKey(c *call, v store.Vault, name string) (store.Key, error) {
	c.key = name
	if err := validKeyName(name); err != nil {
		return store.Key{}, err
	}
	k, err := s.keyState(c, v, name)
	if err == nil && k.DeletedAt == nil {
		err = notFound("KeyNotFound", "Deleted Key not found: key %s is not deleted", name)
	}
	return k, err
}

func (s *Server) getDeletedKey(c *call, v store.Vault, name string) error {
	if err := s.authorize(c, v, opGetDeleted); err != nil {
		return err
	}
	k, err := s.deletedKey(c, v, name)
	if err != nil {
		return err
	}
	return s.deletedBundle(c, v, k)
}

func (s *Server) recoverKey(c *call, v store.Vault, name string) error {
	if err := s.authorize(c, v, opRecover); err != nil {
		return err
	}
	k, err := s.deletedKey(c, v, name)
	if err != nil {
		return err
	}
	if err := s.st.SetKeyDeleted(c.r.Context(), v.Name, k.Name, nil, nil); err != nil {
		return err
	}
	kv, err := s.st.KeyVersion(c.r.Context(), v.Name, k.Name, "")
	if err != nil {
		return err
	}
	return s.replyBundle(c, v, kv)
}

func (s *Server) purgeKey(c *call, v store.Vault, name string) error {
	if err := s.authorize(c, v, opPurge); err != nil {
		return err
	}
	k, err := s.deletedKey(c, v, name)
	if err != nil {
		return err
	}
	retention, err := s.retentionState(c, v.SubscriptionID)
	if err != nil {
		return err
	}
	if level := recoveryLevel(v, retention); !strings.Contains(level, "Purgeable") {
		return forbidden("PurgeProtected", "Operation \"purge\" is not allowed because purge protection is enabled for this vault (recovery level %s). Key Vault service will automatically purge it after the retention period has passed, on %s.", level, k.PurgeAt.Format(time.RFC3339))
	}
	if err := s.st.PurgeKey(c.r.Context(), v.Name, k.Name); err != nil {
		return err
	}
	s.keys.drop(v.Name + "/" + k.Name + "/")
	s.cfg.Logger.Warn("vault: key purged on request; it is destroyed", "vault", v.Name, "key", k.Name, "principal", c.principal)
	c.reply(http.StatusNoContent, nil)
	return nil
}

// ---- wrap, unwrap, encrypt, decrypt ----

func (s *Server) cryptoOp(c *call, v store.Vault, name, version, verb string) error {
	c.key, c.version = name, version
	var op keyOp
	var keyOpName string
	switch verb {
	case "wrapkey":
		op, keyOpName = opWrap, "wrapKey"
	case "unwrapkey":
		op, keyOpName = opUnwrap, "unwrapKey"
	case "encrypt":
		op, keyOpName = opEncrypt, "encrypt"
	case "decrypt":
		op, keyOpName = opDecrypt, "decrypt"
	case "sign", "verify", "release":
		return notSupported("operation %s is not supported by this vault (the built-in vault supports wrapkey, unwrapkey, encrypt and decrypt)", verb)
	default:
		return notFound("NotFound", "the keys API has no operation %q", verb)
	}
	if err := s.authorize(c, v, op); err != nil {
		return err
	}
	var p keyOperationParams
	if err := c.decode(&p, false); err != nil {
		return err
	}
	var h crypto.Hash
	switch p.Alg {
	case "RSA-OAEP-256":
		h = crypto.SHA256
	case "RSA-OAEP":
		h = crypto.SHA1
	case "":
		return badParam("alg is required: use RSA-OAEP-256 (or RSA-OAEP)")
	case "RSA1_5":
		return badParam("alg RSA1_5 is not supported by the built-in vault: use RSA-OAEP-256")
	default:
		return badParam("alg %q is not valid for an RSA key: use RSA-OAEP-256 or RSA-OAEP", p.Alg)
	}
	if p.Value == nil || len(*p.Value) == 0 {
		return badParam("value is required: the base64url bytes to %s", keyOpName)
	}
	kv, err := s.liveKey(c, v, name, version)
	if err != nil {
		return err
	}
	if !kv.Enabled {
		return forbidden("KeyDisabled", "Operation %s is not allowed on a disabled key (%s).", keyOpName, kv.Name)
	}
	if !slices.Contains(kv.Ops, keyOpName) {
		return forbidden("KeyOperationForbidden", "Operation %s is not permitted on this key: its key_ops are %s.", keyOpName, strings.Join(kv.Ops, ", "))
	}
	in := []byte(*p.Value)
	var out []byte
	switch op {
	case opWrap, opEncrypt:
		// Only the public half is used; the window is enforced here, while
		// unwrap and decrypt keep working so data is never crypto-locked.
		now := s.now()
		if kv.NotBefore != nil && now.Before(*kv.NotBefore) {
			return forbidden("KeyNotYetValid", "Operation %s is not allowed before the key's activation date %s.", keyOpName, kv.NotBefore.Format(time.RFC3339))
		}
		if kv.Expires != nil && !now.Before(*kv.Expires) {
			return forbidden("KeyExpired", "Operation %s is not allowed on an expired key: %s expired on %s. Move the expiry (e.g. to 9999-12-31) with: ck vault key update %s %s --expires 9999-12-31", keyOpName, kv.Name, kv.Expires.Format(time.RFC3339), v.Name, kv.Name)
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(kv.N), E: int(new(big.Int).SetBytes(kv.E).Int64())}
		if max := pub.Size() - 2*h.Size() - 2; len(in) > max {
			return badParam("value is %d bytes; %s with a %d-bit key takes at most %d bytes", len(in), p.Alg, kv.Size, max)
		}
		out, err = rsa.EncryptOAEP(hashFor(h), rand.Reader, pub, in, nil)
		if err != nil {
			return badParam("%s failed: %v", keyOpName, err)
		}
	default:
		priv, err := s.private(kv)
		if err != nil {
			return err
		}
		if len(in) != priv.Size() {
			return badParam("value is %d bytes; a %s ciphertext for this %d-bit key is %d bytes", len(in), p.Alg, kv.Size, priv.Size())
		}
		out, err = rsa.DecryptOAEP(hashFor(h), nil, priv, in, nil)
		if err != nil {
			return badParam("%s failed: the value is not a %s ciphertext made with this key version", keyOpName, p.Alg)
		}
	}
	c.reply(http.StatusOK, keyOperationResult{Kid: s.kid(v, kv.Name, kv.Version), Value: out})
	return nil
}

func hashFor(h crypto.Hash) hash.Hash {
	if h == crypto.SHA1 {
		return sha1.New()
	}
	return sha256.New()
}

// private unseals and parses a version's private key, caching the result.
func (s *Server) private(kv store.KeyVersion) (*rsa.PrivateKey, error) {
	id := strings.ToLower(kv.Vault + "/" + kv.Name + "/" + kv.Version)
	if k, ok := s.keys.get(id); ok {
		return k.(*rsa.PrivateKey), nil
	}
	der, err := unseal(s.mk.keys, kv.Sealed, keyAAD(kv.Vault, kv.Name, kv.Version))
	if err != nil {
		return nil, fmt.Errorf("unseal key %s/%s/%s: %w (wrong vault master key?)", kv.Vault, kv.Name, kv.Version, err)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	clear(der)
	priv, ok := k.(*rsa.PrivateKey)
	if err != nil || !ok {
		return nil, fmt.Errorf("key %s/%s/%s: stored private key is not RSA", kv.Vault, kv.Name, kv.Version)
	}
	s.keys.put(id, priv)
	return priv, nil
}

type rsaPrivateKey = rsa.PrivateKey

func bigE(e int) []byte { return big.NewInt(int64(e)).Bytes() }
