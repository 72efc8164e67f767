// Package access holds access requests (SPEC T5): the tenant's consent to
// one action of the service operator on the tenant's data, like
// Microsoft's Customer Lockbox. The operator never acts on a tenant's
// data on its own word.
//
// A request names who asks, the action (key-loss recovery of a mailbox
// DEP or of a geo, rollback of a multi-workload DEP), the DEP or geo and
// the target, why, and until when. The operator asks (Create: Pending); a
// global admin of the tenant approves or denies it. A tenant's global
// admin may also make the request itself (T2: it names the lost DEP and
// the new one), which is then approved as made. The operator's route runs
// only with an approved, unexpired request whose scope matches what it is
// asked to do (Check), and uses it once (Use). Every step goes into the
// tenant's audit log.
//
// Reading content is no action a request can grant: the operator holds no
// role on any data route, request or not.
package access

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/audit"
	"github.com/customerkey/customerkey/internal/dep"
	"github.com/customerkey/customerkey/internal/rule"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/tenant"
)

// Actions an access request may grant.
const (
	Recover    = client.AccessRecover    // key-loss recovery of a mailbox DEP (R3): DEP, and the DEP to move to
	RecoverGeo = client.AccessRecoverGeo // key-loss recovery of a geo's site DEP: the geo, and two new key URIs
	Rollback   = client.AccessRollback   // a multi-workload DEP back to service-managed keys (R4)
)

// Actions is every action, in the order the docs list them.
var Actions = []string{Recover, RecoverGeo, Rollback}

// Lifetimes of a request: how long it may be approved and used.
const (
	DefaultValidFor = 8 * time.Hour
	MinValidFor     = 15 * time.Minute
	MaxValidFor     = 7 * 24 * time.Hour
	maxReason       = 512
)

// Store is the slice of the store this package uses.
type Store interface {
	CreateAccessRequest(ctx context.Context, r store.AccessRequest) error
	AccessRequest(ctx context.Context, tenant, id string) (store.AccessRequest, error)
	ListAccessRequestsBefore(ctx context.Context, tenant string, before store.PageKey, limit int) ([]store.AccessRequest, error)
	UpdateAccessRequest(ctx context.Context, r store.AccessRequest, prev string) error
}

// Config configures the service.
type Config struct {
	Store  Store
	DEPs   *dep.Service // resolves a request's DEPs and geo
	Audit  *audit.Log
	Now    func() time.Time
	Logger *slog.Logger
}

// Service keeps access requests.
type Service struct {
	st    Store
	deps  *dep.Service
	audit *audit.Log
	now   func() time.Time
	log   *slog.Logger
}

// New returns the service.
func New(cfg Config) *Service {
	return &Service{st: cfg.Store, deps: cfg.DEPs, audit: cfg.Audit, now: cfg.Now, log: cfg.Logger}
}

// Ask is an access request as its maker gives it.
type Ask struct {
	Action   string
	DEP      string   // recover, rollback: the DEP's name or GUID; recover-geo: the geo
	To       string   // recover: the DEP, on new keys, to move the mailboxes to
	Keys     []string // recover-geo: the new primary and secondary key URIs
	Reason   string
	ValidFor string // a Go duration, 15m to 168h; default 8h
}

// Scope is what an operator action is about to do, resolved: it must be
// what an approved request names.
type Scope struct {
	Action string
	DEP    string // the DEP's GUID, or the geo
	Target string // the target DEP's GUID, the new key URIs (comma-separated), or ""
}

// GeoTarget is a geo recovery's target as a request keeps it.
func GeoTarget(keys [2]string) string { return keys[0] + "," + keys[1] }

// Create stores an access request. The operator's request is Pending
// until a global admin of the tenant decides; a global admin's own
// request is approved as made (T2). Nobody else makes one.
func (s *Service) Create(ctx context.Context, t store.ServiceTenant, a Ask) (store.AccessRequest, error) {
	p := tenant.Caller(ctx)
	byTenant := p.Role == tenant.RoleGlobalAdmin && p.Tenant == t.ID
	if p.Role != tenant.RoleOperator && !byTenant {
		return store.AccessRequest{}, rule.Refused(client.RuleAuthorizationRole, "the operator asks for access; the tenant's global admin may make a request itself", "role %s may not make access requests", p.Role)
	}
	reason, err := ParseReason(a.Reason)
	if err != nil {
		return store.AccessRequest{}, err
	}
	life, err := ParseValidFor(a.ValidFor)
	if err != nil {
		return store.AccessRequest{}, err
	}
	r, err := s.scope(ctx, t, a)
	if err != nil {
		return r, err
	}
	now := s.now().UTC()
	r.ID, r.Tenant, r.Reason, r.RequestedBy, r.Requested, r.Expires, r.State = uuid.NewString(), t.ID, reason, tenant.Actor(p), now, now.Add(life), store.AccessPending
	if byTenant {
		r.State, r.DecidedBy, r.Decided = store.AccessApproved, tenant.Actor(p), &now
	}
	if err := s.st.CreateAccessRequest(ctx, r); err != nil {
		return r, err
	}
	s.record(ctx, r, "access-request-create", strings.ToLower(r.State))
	s.log.Warn("access: request made", "tenant", t.ID, "request", r.ID, "action", r.Action, "dep", r.DEP, "by", r.RequestedBy, "state", r.State)
	return r, nil
}

// scope resolves what a request names.
func (s *Service) scope(ctx context.Context, t store.ServiceTenant, a Ask) (store.AccessRequest, error) {
	r := store.AccessRequest{Action: a.Action}
	switch a.Action {
	case Recover:
		from, err := s.deps.Get(ctx, t, dep.Mailbox, a.DEP)
		if err != nil {
			return r, err
		}
		if strings.TrimSpace(a.To) == "" || len(a.Keys) > 0 {
			return r, rule.Invalid(client.RuleAccessRequestTarget, "name the DEP, on new keys, to move the mailboxes to (--to)", "a recovery of DEP %s needs the DEP to move to, and no keys", from.Name)
		}
		to, err := s.deps.Get(ctx, t, dep.Mailbox, a.To)
		if err != nil {
			return r, err
		}
		if to.ID == from.ID {
			return r, rule.Invalid(client.RuleAccessRequestTarget, "create a new DEP on new customer keys (ck dep new) and name it", "DEP %s cannot take its own mailboxes", to.Name)
		}
		r.DEP, r.DEPName, r.Target, r.TargetName = from.ID, from.Name, to.ID, to.Name
	case Rollback:
		d, err := s.deps.Get(ctx, t, dep.MDEP, a.DEP)
		if err != nil {
			return r, err
		}
		if a.To != "" || len(a.Keys) > 0 {
			return r, rule.Invalid(client.RuleAccessRequestTarget, "a rollback goes to service-managed keys: give no target", "a rollback of %s names no target", d.Name)
		}
		r.DEP, r.DEPName = d.ID, d.Name
	case RecoverGeo:
		geo := strings.ToUpper(strings.TrimSpace(a.DEP))
		if _, err := s.deps.Registration(ctx, t, geo, "check the geo (ck spo dep show)"); err != nil {
			return r, err
		}
		keys, err := ParseKeys(a.Keys)
		if err != nil || a.To != "" {
			return r, rule.Invalid(client.RuleAccessRequestTarget, "give the two new key URIs, each with its version (--key twice), and no --to", "geo %s: %v", geo, err)
		}
		r.DEP, r.DEPName, r.Target = geo, geo, GeoTarget(keys)
		r.TargetName = r.Target
	default:
		return r, rule.Invalid(client.RuleAccessRequestAction, "use one of: "+strings.Join(Actions, ", "), "action %q is not one an access request grants", a.Action)
	}
	return r, nil
}

// ParseReason checks a request's reason: 1 to 512 characters, no control
// characters (it is printed in lists and the audit log).
func ParseReason(reason string) (string, error) {
	reason = strings.TrimSpace(reason)
	_, _, hidden := rule.HiddenRune(reason) // read by the tenant's global admin who decides: as it is
	if reason == "" || len(reason) > maxReason || hidden || strings.ContainsRune(reason, utf8.RuneError) {
		return "", rule.Invalid(client.RuleAccessRequestReason, "say why, for the tenant to decide: ticket, who asked, what happened (1-512 characters, one line of plain text)", "the reason is empty, too long or has control, bidirectional or invisible characters")
	}
	return reason, nil
}

// ParseValidFor reads how long a request may be approved and used.
func ParseValidFor(v string) (time.Duration, error) {
	if v == "" {
		return DefaultValidFor, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < MinValidFor || d > MaxValidFor {
		return 0, rule.Invalid(client.RuleAccessRequestValidFor, "give a duration from 15m to 168h, e.g. 4h", "validFor %q is invalid", v)
	}
	return d, nil
}

// ParseKeys checks a geo recovery's two new key URIs: https, a vault
// host, /keys/NAME/VERSION, different from each other.
func ParseKeys(keys []string) ([2]string, error) {
	var out [2]string
	if len(keys) != 2 {
		return out, fmt.Errorf("%d key URIs, want 2", len(keys))
	}
	for i, k := range keys {
		u, err := url.Parse(strings.TrimSpace(k))
		if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return out, fmt.Errorf("key %d is not an https key URI", i+1)
		}
		parts := strings.Split(strings.Trim(u.Path, "/"), "/")
		if len(parts) != 3 || parts[0] != "keys" || parts[1] == "" || parts[2] == "" {
			return out, fmt.Errorf("key %d is not https://VAULT/keys/NAME/VERSION", i+1)
		}
		out[i] = "https://" + strings.ToLower(u.Host) + "/keys/" + parts[1] + "/" + parts[2]
	}
	if strings.EqualFold(out[0], out[1]) {
		return out, errors.New("the two keys are the same")
	}
	return out, nil
}

// Get reads one of the tenant's requests.
func (s *Service) Get(ctx context.Context, t store.ServiceTenant, id string) (store.AccessRequest, error) {
	r, err := s.st.AccessRequest(ctx, t.ID, strings.ToLower(strings.TrimSpace(id)))
	if errors.Is(err, store.ErrNotFound) {
		return r, rule.NotFound(client.RuleAccessRequestExists, "list the tenant's access requests (ck access-request list)", "tenant %s has no access request %q", t.Name, id)
	}
	return r, err
}

// List returns one page of the tenant's requests, newest first: at most
// limit older than before (request time and ID; zero: the newest).
func (s *Service) List(ctx context.Context, t store.ServiceTenant, before store.PageKey, limit int) ([]store.AccessRequest, error) {
	return s.st.ListAccessRequestsBefore(ctx, t.ID, before, limit)
}

// Expired reports whether r is past its end.
func (s *Service) Expired(r store.AccessRequest) bool { return !s.now().Before(r.Expires) }

// Approve approves a pending, unexpired request (a global admin of the
// tenant).
func (s *Service) Approve(ctx context.Context, t store.ServiceTenant, id string) (store.AccessRequest, error) {
	return s.decide(ctx, t, id, store.AccessApproved)
}

// Deny denies a pending request (a global admin of the tenant).
func (s *Service) Deny(ctx context.Context, t store.ServiceTenant, id string) (store.AccessRequest, error) {
	return s.decide(ctx, t, id, store.AccessDenied)
}

func (s *Service) decide(ctx context.Context, t store.ServiceTenant, id, state string) (store.AccessRequest, error) {
	p := tenant.Caller(ctx)
	if p.Role != tenant.RoleGlobalAdmin || p.Tenant != t.ID {
		return store.AccessRequest{}, rule.Refused(client.RuleAuthorizationRole, "a global admin of the tenant decides its access requests", "role %s may not decide access requests", p.Role)
	}
	r, err := s.Get(ctx, t, id)
	if err != nil {
		return r, err
	}
	if r.State != store.AccessPending {
		return r, rule.Conflict(client.RuleAccessRequestState, "only a pending request is decided; the operator asks again for a new one", "access request %s is %s", r.ID, r.State)
	}
	if state == store.AccessApproved && s.Expired(r) {
		return r, rule.Refused(client.RuleAccessRequestExpired, "the operator asks again (ck operator request)", "access request %s expired on %s", r.ID, r.Expires.Format(time.RFC3339))
	}
	now := s.now().UTC()
	r.State, r.DecidedBy, r.Decided = state, tenant.Actor(p), &now
	if err := s.st.UpdateAccessRequest(ctx, r, store.AccessPending); errors.Is(err, store.ErrConflict) {
		return r, rule.Conflict(client.RuleAccessRequestState, "read it again (ck access-request list)", "access request %s was decided meanwhile", r.ID)
	} else if err != nil {
		return r, err
	}
	action := map[string]string{store.AccessApproved: "access-request-approve", store.AccessDenied: "access-request-deny"}[state]
	s.record(ctx, r, action, strings.ToLower(state))
	s.log.Warn("access: request decided", "tenant", t.ID, "request", r.ID, "state", r.State, "by", r.DecidedBy)
	return r, nil
}

// Check finds the approved request id and checks that it grants sc: the
// operator's action goes ahead only then. It changes nothing; Use does.
func (s *Service) Check(ctx context.Context, t store.ServiceTenant, id string, sc Scope) (store.AccessRequest, error) {
	if err := tenant.RequireOperator(ctx); err != nil {
		return store.AccessRequest{}, err
	}
	const fix = "ask the tenant for access (ck operator request ...); a global admin of the tenant approves it (ck access-request approve ID); then give its ID (--request ID)"
	if strings.TrimSpace(id) == "" {
		return store.AccessRequest{}, rule.Refused(client.RuleAccessRequest, fix, "%s on tenant %s needs an access request the tenant approved", sc.Action, t.Name)
	}
	r, err := s.Get(ctx, t, id)
	if err != nil {
		return r, err
	}
	switch {
	case r.State == store.AccessPending:
		return r, rule.Refused(client.RuleAccessRequestState, "a global admin of the tenant must approve it first (ck access-request approve "+r.ID+")", "access request %s is pending", r.ID)
	case r.State == store.AccessDenied:
		return r, rule.Refused(client.RuleAccessRequestState, "the tenant denied it; "+fix, "access request %s was denied by %s", r.ID, r.DecidedBy)
	case r.State == store.AccessUsed:
		return r, rule.Refused(client.RuleAccessRequestState, "a request is used once; "+fix, "access request %s was used already", r.ID)
	case r.State != store.AccessApproved:
		return r, rule.Refused(client.RuleAccessRequestState, fix, "access request %s is %s", r.ID, r.State)
	case s.Expired(r):
		return r, rule.Refused(client.RuleAccessRequestExpired, fix, "access request %s expired on %s", r.ID, r.Expires.Format(time.RFC3339))
	case r.Action != sc.Action || !strings.EqualFold(r.DEP, sc.DEP) || !strings.EqualFold(r.Target, sc.Target):
		return r, rule.Refused(client.RuleAccessRequestScope, "the request grants only what it names: "+describe(r)+"; "+fix, "access request %s does not grant this %s", r.ID, sc.Action)
	}
	return r, nil
}

// Use marks an approved request, checked with Check, used: it grants
// nothing more. It fails if someone used it meanwhile.
func (s *Service) Use(ctx context.Context, t store.ServiceTenant, r store.AccessRequest) (store.AccessRequest, error) {
	p := tenant.Caller(ctx)
	now := s.now().UTC()
	r.State, r.UsedBy, r.Used = store.AccessUsed, tenant.Actor(p), &now
	if err := s.st.UpdateAccessRequest(ctx, r, store.AccessApproved); errors.Is(err, store.ErrConflict) {
		return r, rule.Refused(client.RuleAccessRequestState, "a request is used once; ask the tenant again", "access request %s was used already", r.ID)
	} else if err != nil {
		return r, err
	}
	s.record(ctx, r, "access-request-use", "used")
	s.log.Warn("access: request used", "tenant", t.ID, "request", r.ID, "action", r.Action, "by", r.UsedBy)
	return r, nil
}

// Reason is how the action a request allowed names it in audit reasons.
func Reason(r store.AccessRequest) string {
	return "access request " + r.ID + " (" + r.RequestedBy + ", decided by " + r.DecidedBy + "): " + r.Reason
}

// describe says what a request grants, in words.
func describe(r store.AccessRequest) string {
	switch r.Action {
	case Recover:
		return "recover DEP " + r.DEPName + " to DEP " + r.TargetName
	case RecoverGeo:
		return "recover geo " + r.DEP + " to keys " + r.Target
	}
	return r.Action + " of DEP " + r.DEPName
}

// record appends a step of a request to the tenant's audit log.
func (s *Service) record(ctx context.Context, r store.AccessRequest, action, outcome string) {
	p := tenant.Caller(ctx)
	s.audit.Append(context.WithoutCancel(ctx), audit.Record{Tenant: r.Tenant, Actor: tenant.Actor(p), Action: action,
		Target: "access request " + r.ID + ": " + describe(r) + " until " + r.Expires.Format(time.RFC3339), Reason: r.Reason, Outcome: outcome})
}
