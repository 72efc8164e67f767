// Package tenant holds the service's tenants and who may act on them: the
// tenant records, the roles of the service API, the bearer tokens the
// service issues (kept only as hashes), authentication, and the tenant's
// plans and user licences.
//
// The API authenticates a request with Authenticate, puts the caller in the
// context with WithCaller, resolves the tenant a route names with Get and
// checks the route's roles with RequireRole; domain packages read the
// caller (for audit reasons) with Caller.
package tenant

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/events"
	"github.com/customerkey/customerkey/internal/onboarding"
	"github.com/customerkey/customerkey/internal/rule"
	"github.com/customerkey/customerkey/internal/store"
)

// Roles of the service API.
const (
	RoleOperator        = client.RoleOperator // the service provider
	RoleGlobalAdmin     = client.RoleGlobalAdmin
	RoleExchangeAdmin   = client.RoleExchangeAdmin
	RoleSharePointAdmin = client.RoleSharePointAdmin
	RoleComplianceAdmin = client.RoleComplianceAdmin
)

// Roles is every role a tenant's admins may hold.
var Roles = []string{RoleGlobalAdmin, RoleExchangeAdmin, RoleSharePointAdmin, RoleComplianceAdmin}

// OperatorTokenFile holds the operator's token in the data dir.
const OperatorTokenFile = "service-operator.token"

// Store is the slice of the store this package uses.
type Store interface {
	CreateServiceTenant(ctx context.Context, t store.ServiceTenant) error
	ServiceTenant(ctx context.Context, idOrName string) (store.ServiceTenant, error)
	ListServiceTenants(ctx context.Context) ([]store.ServiceTenant, error)
	CreateToken(ctx context.Context, t store.APIToken) error
	Token(ctx context.Context, hash string) (store.APIToken, error)
	ListTokens(ctx context.Context, tenant string) ([]store.APIToken, error)
	ListServiceTenantsAfter(ctx context.Context, after store.PageKey, limit int) ([]store.ServiceTenant, error)
	ListTokensAfter(ctx context.Context, tenant string, after store.PageKey, limit int) ([]store.APIToken, error)
	RevokeToken(ctx context.Context, tenant, id string, at time.Time) (store.APIToken, error)
	TouchToken(ctx context.Context, hash string, at time.Time) error
	SetPlans(ctx context.Context, tenant string, plans []string) error
	SetLicence(ctx context.Context, tenant, user, plan string) error
	Licence(ctx context.Context, tenant, user string) (string, error)
}

// Service manages tenants and tokens.
type Service struct {
	st     Store
	now    func() time.Time
	log    *slog.Logger
	cache  tenantCache
	mu     sync.Mutex
	tokens map[string]knownToken // by hash
	// recheck is how long a token read from the store is trusted before
	// it is read again: a token revoked (or its row deleted) through
	// another node stops working within this time; through this node at
	// once (SPEC T6, S2).
	recheck time.Duration
	// events tells other nodes of a revoked token (nil: one node).
	events events.Bus
}

// UseEvents makes s publish token revocations on b, so that every node
// refuses a revoked token at once (OnEvent), not after TokenRecheck.
func (s *Service) UseEvents(b events.Bus) { s.events = b }

// OnEvent acts on an event of any node: a revoked token leaves this
// node's cache, so its next request reads the token again and is refused.
func (s *Service) OnEvent(e events.Event) {
	if e.Kind != events.TokenRevoked {
		return
	}
	s.mu.Lock()
	for hash, k := range s.tokens {
		if k.t.ID == e.Ref || strings.HasPrefix(hash, e.Ref) {
			delete(s.tokens, hash)
		}
	}
	s.mu.Unlock()
}

// knownToken is a token as the store had it when it was last read.
type knownToken struct {
	t    store.APIToken
	read time.Time
}

// Token lifetimes (T6): days by default, never more than the maximum.
const (
	DefaultTokenLife = 7 * 24 * time.Hour
	MaxTokenLife     = 90 * 24 * time.Hour
	// TokenRecheck is how long a token read from the store is trusted.
	TokenRecheck = time.Second
	// lastUsedEvery is how often a token's last use is written (at most).
	lastUsedEvery = time.Minute
)

// New returns the tenant service over st.
func New(st Store, now func() time.Time, log *slog.Logger) *Service {
	return &Service{st: st, now: now, log: log, recheck: TokenRecheck}
}

// ---- the caller ----

type callerKey struct{}

// WithCaller returns ctx carrying the authenticated caller.
func WithCaller(ctx context.Context, p store.APIToken) context.Context {
	return context.WithValue(ctx, callerKey{}, p)
}

// Caller is the authenticated caller of ctx (zero if none).
func Caller(ctx context.Context) store.APIToken {
	p, _ := ctx.Value(callerKey{}).(store.APIToken)
	return p
}

// Actor names a caller in the audit log: its subject and role, and the ID
// of the token it called with, so that two tokens of one subject (a twin
// issued with a stolen one) are told apart and each can be revoked
// (ck tenant token revoke ID).
func Actor(p store.APIToken) string {
	if p.ID == "" {
		return p.Subject + " (" + p.Role + ")"
	}
	return p.Subject + " (" + p.Role + ", token " + p.ID + ")"
}

// ---- tokens and authentication ----

const knownTokensMax = 10000

// HashToken is how tokens are kept: hex SHA-256.
func HashToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

// TokenID is a token's public handle, derived from its hash: what lists
// show and revocation names. It says nothing of the token itself.
func TokenID(hash string) string {
	if len(hash) < 16 {
		return hash
	}
	return hash[:16]
}

// Bearer tokens are 32 to 512 visible ASCII characters: the ones the
// service mints ("cksvc_" and 43 base64url characters) and an operator
// token given in the configuration (at least 32 characters, no spaces).
const (
	minTokenLen = 32
	maxTokenLen = 512
)

// ParseToken checks a bearer token's form and returns its hash. A token
// of the wrong form is refused before any store is asked; the refusal
// does not echo the token.
func ParseToken(bearer string) (string, error) {
	if bearer == "" {
		return "", rule.Unauthenticated(client.RuleAuthentication, "send Authorization: Bearer TOKEN with a token the service issued (ck tenant token; ck dev writes the operator's to dev.json)", "the request has no bearer token")
	}
	if len(bearer) < minTokenLen || len(bearer) > maxTokenLen {
		return "", errUnknownToken()
	}
	for i := 0; i < len(bearer); i++ {
		if c := bearer[i]; c < 0x21 || c > 0x7e {
			return "", errUnknownToken()
		}
	}
	return HashToken(bearer), nil
}

func errUnknownToken() error {
	return rule.Unauthenticated(client.RuleAuthentication, "use a token the service issued; ask your tenant's global admin for a new one", "the bearer token is not known")
}

// NewToken mints a token and stores its hash.
func NewToken(ctx context.Context, st interface {
	CreateToken(context.Context, store.APIToken) error
}, t store.APIToken) (string, error) {
	b := make([]byte, 32)
	rand.Read(b)
	tok := "cksvc_" + base64.RawURLEncoding.EncodeToString(b)
	t.Hash = HashToken(tok)
	t.ID = TokenID(t.Hash)
	if err := st.CreateToken(ctx, t); err != nil {
		return "", err
	}
	return tok, nil
}

// EnsureOperatorToken returns the operator's token, kept in file (mode
// 0600); on first start it mints one and stores its hash.
func EnsureOperatorToken(ctx context.Context, st interface {
	CreateToken(context.Context, store.APIToken) error
	Token(context.Context, string) (store.APIToken, error)
}, file string, now time.Time) (string, error) {
	if b, err := os.ReadFile(file); err == nil {
		tok := strings.TrimSpace(string(b))
		if _, err := st.Token(ctx, HashToken(tok)); err == nil {
			return tok, nil
		}
		return "", fmt.Errorf("operator token in %s is not known to this store; remove the file to mint a new one", file)
	}
	tok, err := NewToken(ctx, st, store.APIToken{Role: RoleOperator, Subject: "operator", Created: now, Expires: now.AddDate(10, 0, 0)})
	if err != nil {
		return "", err
	}
	return tok, os.WriteFile(file, []byte(tok+"\n"), 0o600)
}

// Authenticate resolves a bearer token to its caller. A token that is
// unknown, expired or revoked authenticates nothing.
func (s *Service) Authenticate(ctx context.Context, bearer string) (store.APIToken, error) {
	hash, err := ParseToken(bearer)
	if err != nil {
		return store.APIToken{}, err
	}
	return s.valid(s.lookup(ctx, hash))
}

// Recheck asks again whether caller (Caller of a request's context) may
// still act, as Authenticate would answer for its token now: work that
// began with the token and goes on for long (a stream of content, up to
// a day) asks it now and then, so that a token revoked or expired
// meanwhile stops it too (T6). The token is read as Authenticate reads
// it: trusted for TokenRecheck, at once again after a revocation event.
// A caller without a token (the service's own work) passes.
func (s *Service) Recheck(ctx context.Context, caller store.APIToken) error {
	if caller.Hash == "" {
		return nil
	}
	_, err := s.valid(s.lookup(ctx, caller.Hash))
	return err
}

// valid is the answer for a token as lookup found it.
func (s *Service) valid(t store.APIToken, err error) (store.APIToken, error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return t, errUnknownToken()
	case err != nil:
		return t, fmt.Errorf("token lookup: %w", err)
	case t.Revoked != nil:
		return store.APIToken{}, rule.Unauthenticated(client.RuleAuthentication, "ask your tenant's global admin for a new token", "the bearer token was revoked on %s", t.Revoked.UTC().Format(time.RFC3339))
	case !s.now().Before(t.Expires):
		return store.APIToken{}, rule.Unauthenticated(client.RuleAuthentication, "ask your tenant's global admin for a new token (ck tenant token)", "the bearer token expired on %s", t.Expires.UTC().Format(time.RFC3339))
	}
	return t, nil
}

// lookup finds a token by hash. A token read from the store is trusted
// for s.recheck, then read again: a revocation or a deleted row is seen
// on every node within that time.
func (s *Service) lookup(ctx context.Context, hash string) (store.APIToken, error) {
	now := s.now()
	s.mu.Lock()
	k, ok := s.tokens[hash]
	s.mu.Unlock()
	if ok && now.Sub(k.read) < s.recheck && !now.Before(k.read) {
		return k.t, nil
	}
	t, err := s.st.Token(ctx, hash)
	if err != nil {
		s.forget(hash)
		return t, err
	}
	if t.Revoked == nil && now.Before(t.Expires) && (t.LastUsed == nil || now.Sub(*t.LastUsed) >= lastUsedEvery) {
		at := now.UTC().Truncate(time.Minute)
		if err := s.st.TouchToken(ctx, hash, at); err != nil {
			s.log.Warn("tenant: recording a token's use", "token", t.ID, "err", err)
		} else {
			t.LastUsed = &at
		}
	}
	s.mu.Lock()
	if s.tokens == nil || len(s.tokens) >= knownTokensMax {
		s.tokens = map[string]knownToken{}
	}
	s.tokens[hash] = knownToken{t: t, read: now}
	s.mu.Unlock()
	return t, nil
}

// forget drops a token from this node's cache.
func (s *Service) forget(hash string) {
	s.mu.Lock()
	delete(s.tokens, hash)
	s.mu.Unlock()
}

// IssueToken mints a token for an admin of t. The tenant's global admin
// issues every kind; the operator only the tenant's first global admin's,
// while the tenant never had a global-admin token (SPEC T5).
func (s *Service) IssueToken(ctx context.Context, t store.ServiceTenant, subject, role, validFor string) (string, store.APIToken, error) {
	p := Caller(ctx)
	if p.Role != RoleOperator && !(p.Tenant == t.ID && p.Role == RoleGlobalAdmin) {
		return "", store.APIToken{}, rule.Refused(client.RuleAuthorizationTenantAdmin, "ask the tenant's global admin to issue tokens", "role %s may not issue tokens for tenant %s", p.Role, t.Name)
	}
	if !slices.Contains(Roles, role) {
		return "", store.APIToken{}, rule.Invalid(client.RuleTokenRole, "use global-admin, exchange-admin, sharepoint-admin or compliance-admin", "role %q is not a tenant role", role)
	}
	if !ValidUPN(subject) { // a subject is printed in the audit log: no newline, no escape sequence
		return "", store.APIToken{}, rule.Invalid(client.RuleTokenSubject, "give the admin's user principal name, e.g. admin@contoso.com", "subject %q is not a UPN", subject)
	}
	life := DefaultTokenLife
	if validFor != "" {
		d, err := time.ParseDuration(validFor)
		if err != nil || d < time.Hour || d > MaxTokenLife {
			return "", store.APIToken{}, rule.Invalid(client.RuleTokenValidFor, "give a duration from 1h to 2160h (90 days), e.g. 168h", "validFor %q is invalid", validFor)
		}
		life = d
	}
	now := s.now().UTC()
	if p.Role == RoleOperator {
		if err := s.firstGlobalAdmin(ctx, t, role, now); err != nil {
			return "", store.APIToken{}, err
		}
	}
	rec := store.APIToken{Tenant: t.ID, Role: role, Subject: subject, Created: now, Expires: now.Add(life)}
	tok, err := NewToken(ctx, s.st, rec)
	if err != nil {
		return "", rec, err
	}
	rec.Hash, rec.ID = HashToken(tok), TokenID(HashToken(tok))
	s.log.Info("tenant: token issued", "tenant", t.ID, "token", rec.ID, "subject", rec.Subject, "role", rec.Role, "by", p.Subject, "expires", rec.Expires)
	return tok, rec, nil
}

// firstGlobalAdmin refuses the operator a token unless it is the
// tenant's first global admin's: a global-admin token while the tenant
// never had one. Not "while it has no live one": tokens expire (7 days by
// default), so the operator could otherwise wait for the tenant's last
// global-admin token to lapse, issue itself one, and from it an Exchange
// admin's that reads mail (T5).
func (s *Service) firstGlobalAdmin(ctx context.Context, t store.ServiceTenant, role string, now time.Time) error {
	const fix = "the operator issues only a tenant's first global admin token; every other token is issued by the tenant's global admin, with a global admin's token: ck tenant token TENANT --subject UPN --role ROLE --token-file admin.token"
	if role != RoleGlobalAdmin {
		return rule.Refused(client.RuleTokenFirstGlobalAdmin, fix, "the operator may not issue a %s token for tenant %s", role, t.Name)
	}
	ts, err := s.st.ListTokens(ctx, t.ID)
	if err != nil {
		return err
	}
	for _, x := range ts {
		if x.Role == RoleGlobalAdmin {
			return rule.Refused(client.RuleTokenFirstGlobalAdmin, fix, "tenant %s has had a global admin (token %s) since %s: the operator issues only the first", t.Name, x.ID, x.Created.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// Tokens lists one page of t's tokens, oldest first: at most limit after
// the key after (creation time and ID; zero: the first page), revoked and
// expired ones included; only their handles and facts, never a secret
// (the service has none: it keeps hashes).
func (s *Service) Tokens(ctx context.Context, t store.ServiceTenant, after store.PageKey, limit int) ([]store.APIToken, error) {
	if err := s.requireGlobalAdmin(ctx, t, "list tokens"); err != nil {
		return nil, err
	}
	return s.st.ListTokensAfter(ctx, t.ID, after, limit)
}

// RevokeToken revokes one of t's tokens (its global admin's action). The
// token stops working on the next request to this node, and within
// TokenRecheck on every other node.
func (s *Service) RevokeToken(ctx context.Context, t store.ServiceTenant, id string) (store.APIToken, error) {
	if err := s.requireGlobalAdmin(ctx, t, "revoke tokens"); err != nil {
		return store.APIToken{}, err
	}
	id = strings.ToLower(strings.TrimSpace(id))
	rec, err := s.st.RevokeToken(ctx, t.ID, id, s.now().UTC())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return rec, rule.NotFound(client.RuleTokenExists, "list the tenant's tokens (ck tenant token list) and give a token's ID", "tenant %s has no token %q", t.Name, id)
	case errors.Is(err, store.ErrConflict):
		return rec, rule.Conflict(client.RuleTokenRevoked, "nothing to do: the token no longer works", "token %s was revoked already", id)
	case err != nil:
		return rec, err
	}
	s.forget(rec.Hash)
	if s.events != nil { // the other nodes also re-read a token every s.recheck
		events.Tell(ctx, s.events, events.Event{Kind: events.TokenRevoked, Tenant: t.ID, Ref: rec.ID}, s.log, "a token's revocation")
	}
	s.log.Info("tenant: token revoked", "tenant", t.ID, "token", rec.ID, "subject", rec.Subject, "role", rec.Role, "by", Caller(ctx).Subject)
	return rec, nil
}

func (s *Service) requireGlobalAdmin(ctx context.Context, t store.ServiceTenant, what string) error {
	if p := Caller(ctx); p.Role != RoleGlobalAdmin || p.Tenant != t.ID {
		return rule.Refused(client.RuleAuthorizationRole, "use a token of the tenant's global admin", "role %s may not %s for tenant %s", p.Role, what, t.Name)
	}
	return nil
}

// ---- tenants ----

var nameRE = regexp.MustCompile(`^[\p{L}\p{N}][\p{L}\p{N} ._&'-]{0,63}$`)

// Create creates a tenant; id is its directory ID (a GUID; a new one if empty).
func (s *Service) Create(ctx context.Context, name, id string) (store.ServiceTenant, error) {
	if err := RequireOperator(ctx); err != nil {
		return store.ServiceTenant{}, err
	}
	given := name
	name = strings.TrimSpace(name)
	if !nameRE.MatchString(name) {
		return store.ServiceTenant{}, rule.Invalid(client.RuleTenantName, "use 1-64 letters, digits, spaces and . _ & ' -, starting with a letter or digit", "tenant name %q is invalid", given)
	}
	// A path names a tenant by name or ID: a name that reads as a GUID
	// could be another tenant's ID, and either could then answer.
	if _, err := uuid.Parse(name); err == nil {
		return store.ServiceTenant{}, rule.Invalid(client.RuleTenantName, "choose a name that is not a GUID (the tenant's ID is given apart: id)", "tenant name %q reads as a tenant ID", given)
	}
	gid := strings.ToLower(id)
	if gid == "" {
		gid = uuid.NewString()
	} else if _, err := uuid.Parse(gid); err != nil {
		return store.ServiceTenant{}, rule.Invalid(client.RuleTenantID, "give the tenant's directory ID as a GUID, or leave it out", "tenant id %q is not a GUID", id)
	}
	t := store.ServiceTenant{ID: gid, Name: name, Created: s.now().UTC()}
	if err := s.st.CreateServiceTenant(ctx, t); errors.Is(err, store.ErrConflict) {
		return t, rule.Conflict(client.RuleTenantUnique, "choose another name, or use the existing tenant", "a tenant named %q or with ID %s exists", name, gid)
	} else if err != nil {
		return t, err
	}
	return t, nil
}

// List returns one page of the tenants the caller may see, by lower-case
// name after after.ID (see ListKey), at most limit: all for the operator,
// its own otherwise.
func (s *Service) List(ctx context.Context, after store.PageKey, limit int) ([]store.ServiceTenant, error) {
	p := Caller(ctx)
	if p.Role == RoleOperator {
		return s.st.ListServiceTenantsAfter(ctx, after, limit)
	}
	t, err := s.st.ServiceTenant(ctx, p.Tenant)
	if errors.Is(err, store.ErrNotFound) || err == nil && (ListKey(t).ID <= after.ID || limit <= 0) {
		return []store.ServiceTenant{}, nil
	}
	return []store.ServiceTenant{t}, err
}

// ListKey is a tenant's key in List.
func ListKey(t store.ServiceTenant) store.PageKey { return store.PageKey{ID: strings.ToLower(t.Name)} }

// Get loads a tenant the caller may see; others are reported as not found,
// so tenants cannot probe for each other.
func (s *Service) Get(ctx context.Context, idOrName string) (store.ServiceTenant, error) {
	notFound := func() error {
		return rule.NotFound(client.RuleTenantExists, "check the tenant name or ID (ck tenant list)", "tenant %q not found", idOrName)
	}
	p := Caller(ctx)
	if p.Role != RoleOperator {
		// A tenant admin reaches its own tenant only: any other name is
		// answered without looking it up, so that the answer, and how long
		// it takes, says nothing of whether that tenant exists.
		own, err := s.cache.get(ctx, s.st, p.Tenant)
		switch {
		case errors.Is(err, store.ErrNotFound) || err == nil && !strings.EqualFold(idOrName, own.ID) && !strings.EqualFold(idOrName, own.Name):
			return store.ServiceTenant{}, notFound()
		case err != nil:
			return own, err
		}
		return own, nil
	}
	t, err := s.cache.get(ctx, s.st, idOrName)
	if errors.Is(err, store.ErrNotFound) {
		return t, notFound()
	}
	return t, err
}

// Lookup finds a tenant by ID or name, whoever asks (the audit log's
// choice of chain; never an answer to a caller).
func (s *Service) Lookup(ctx context.Context, idOrName string) (store.ServiceTenant, error) {
	return s.cache.get(ctx, s.st, idOrName)
}

// RequireRole refuses a caller without one of roles.
func RequireRole(ctx context.Context, roles []string) error {
	p := Caller(ctx)
	if slices.Contains(roles, p.Role) {
		return nil
	}
	if len(roles) == 2 && slices.Contains(roles, RoleOperator) && slices.Contains(roles, RoleGlobalAdmin) {
		return rule.Refused(client.RuleAuthorizationTenantAdmin, "ask the tenant's global admin (or the service operator) to do this", "role %s may not do this", p.Role)
	}
	if len(roles) == 1 && roles[0] == RoleOperator {
		return rule.Refused(client.RuleAuthorizationOperator, "this is the service operator's action; a tenant admin cannot do it", "role %s may not do this", p.Role)
	}
	return rule.Refused(client.RuleAuthorizationRole, "use a token of a tenant admin with one of these roles: "+strings.Join(roles, ", "), "role %s may not do this", p.Role)
}

// RequireOperator refuses every caller but the service operator.
func RequireOperator(ctx context.Context) error { return RequireRole(ctx, []string{RoleOperator}) }

// tenantCache remembers tenants found, for the lookup every request makes:
// a tenant never changes once created (there is no rename or delete), so
// a found tenant stays right; one not found is asked again each time.
type tenantCache struct {
	m sync.Map // lower-case ID or name -> store.ServiceTenant
	n atomic.Int64
}

const maxCachedTenants = 10000

func (c *tenantCache) get(ctx context.Context, st Store, idOrName string) (store.ServiceTenant, error) {
	key := strings.ToLower(idOrName)
	if v, ok := c.m.Load(key); ok {
		return v.(store.ServiceTenant), nil
	}
	t, err := st.ServiceTenant(ctx, idOrName)
	if err != nil {
		return t, err
	}
	if c.n.Add(1) > maxCachedTenants {
		c.m.Clear()
		c.n.Store(0)
	}
	c.m.Store(key, t)
	return t, nil
}

// ---- plans and licences ----

// ValidPlanName reports whether p may name a plan.
func ValidPlanName(p string) bool { return nameRE.MatchString(p) }

var upnRE = regexp.MustCompile(`^[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$`)

// MaxUPN bounds a user principal name, in bytes (Entra ID allows 113
// characters; a mailbox's ID is its UPN, and the envelope binds names of
// at most 1024 bytes).
const MaxUPN = 256

// ValidUPN reports whether s is a user principal name.
func ValidUPN(s string) bool { return len(s) <= MaxUPN && upnRE.MatchString(s) }

// SetPlans sets the tenant's service plans (the operator's action).
func (s *Service) SetPlans(ctx context.Context, t store.ServiceTenant, plans []string) error {
	for _, p := range plans {
		if !ValidPlanName(p) {
			return rule.Invalid(client.RuleTenantPlan, "give plan names such as E5 or E3", "plan %q is invalid", p)
		}
	}
	return s.st.SetPlans(ctx, t.ID, plans)
}

// Licence is a user's plan and whether it covers Customer Key.
type Licence struct {
	User        string
	Plan        string
	CustomerKey bool
}

// LicenceOf describes user's plan.
func LicenceOf(user, plan string) Licence {
	return Licence{User: strings.ToLower(user), Plan: plan, CustomerKey: slices.Contains(onboarding.CustomerKeyPlans, plan)}
}

// SetLicence gives a user of t a plan ("" removes it): the operator's or
// the tenant's global admin's action.
func (s *Service) SetLicence(ctx context.Context, t store.ServiceTenant, user, plan string) (Licence, error) {
	if p := Caller(ctx); p.Role != RoleOperator && !(p.Tenant == t.ID && p.Role == RoleGlobalAdmin) {
		return Licence{}, rule.Refused(client.RuleAuthorizationTenantAdmin, "ask the tenant's global admin (or the operator) to assign licences", "role %s may not assign licences", p.Role)
	}
	if !ValidUPN(user) {
		return Licence{}, rule.Invalid(client.RuleLicenceUser, "give the user's principal name, e.g. alice@contoso.com", "user %q is not a UPN", user)
	}
	if plan != "" && !ValidPlanName(plan) {
		return Licence{}, rule.Invalid(client.RuleLicencePlan, "give a plan name such as E5 or E3", "plan %q is invalid", plan)
	}
	if err := s.st.SetLicence(ctx, t.ID, user, plan); err != nil {
		return Licence{}, err
	}
	return LicenceOf(user, plan), nil
}

// Licence returns a user's licence.
func (s *Service) Licence(ctx context.Context, t store.ServiceTenant, user string) (Licence, error) {
	plan, err := s.st.Licence(ctx, t.ID, user)
	return LicenceOf(user, plan), err
}

// RequireLicence refuses a customer DEP for a user without a licence that
// includes Customer Key (O1).
func (s *Service) RequireLicence(ctx context.Context, t store.ServiceTenant, user string) error {
	plan, err := s.st.Licence(ctx, t.ID, user)
	if err != nil {
		return err
	}
	if !slices.Contains(onboarding.CustomerKeyPlans, plan) {
		return rule.Invalid(client.RuleLicence, "give the user a licence that includes Customer Key: ck tenant licence "+t.Name+" "+user+" --plan E5",
			"user %s is not licensed for Customer Key (plan %q)", user, plan)
	}
	return nil
}
