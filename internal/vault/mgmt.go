package vault

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/vaultclient"
)

// Management API (JSON, on the bare base host). Documented in docs/vault-api.md.

// Well-known names.
const (
	RetentionFeature   = "mandatoryRetentionPeriodEnabled"
	ResourcesNamespace = "Microsoft.Resources"
)

var knownProviders = []string{"Microsoft.KeyVault", "Microsoft.Resources"}

// Feature states.
const (
	NotRegistered = "NotRegistered"
	Registering   = "Registering"
	Registered    = "Registered"
)

type mgmtHandler func(c *call) error

func (s *Server) mgmtRoutes() *http.ServeMux {
	mux := http.NewServeMux()
	h := func(pattern, op string, fn mgmtHandler) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			c := r.Context().Value(callKey{}).(*call)
			c.op, c.r = op, r
			if r.Method == http.MethodGet || op == "TokenIssue" {
				if err := fn(c); err != nil {
					c.fail(err)
				}
				return
			}
			// A write may change who may use keys: the snapshot is off
			// while it runs, and every other vault node drops its own.
			s.snap.write(func() {
				if err := fn(c); err != nil {
					c.fail(err)
				}
			})
			s.publishAccess(r.Context(), op)
		})
	}
	h("GET /healthz", "Health", func(c *call) error { c.reply(200, map[string]string{"status": "ok"}); return nil })
	h("POST /issuer/token", "TokenIssue", s.issueToken)
	h("POST /tenants", "TenantCreate", s.createTenant)
	h("GET /tenants", "TenantList", s.listTenants)
	h("GET /tenants/{tenant}", "TenantGet", s.getTenant)
	h("POST /tenants/{tenant}/principals", "PrincipalCreate", s.createPrincipal)
	h("GET /tenants/{tenant}/principals", "PrincipalList", s.listPrincipals)
	h("GET /tenants/{tenant}/principals/{principal}", "PrincipalGet", s.getPrincipal)
	h("DELETE /tenants/{tenant}/principals/{principal}", "PrincipalDelete", s.deletePrincipal)
	h("POST /subscriptions", "SubscriptionCreate", s.createSubscription)
	h("GET /subscriptions", "SubscriptionList", s.listSubscriptions)
	h("GET /subscriptions/{sub}", "SubscriptionGet", s.getSubscription)
	h("POST /subscriptions/{sub}/cancel", "SubscriptionCancel", s.cancelSubscription)
	h("POST /subscriptions/{sub}/providers/{ns}/features/{feature}/register", "FeatureRegister", s.registerFeature)
	h("GET /subscriptions/{sub}/providers/{ns}/features/{feature}", "FeatureGet", s.getFeature)
	h("POST /subscriptions/{sub}/providers/{ns}/register", "ProviderRegister", s.registerProvider)
	h("GET /subscriptions/{sub}/providers", "ProviderList", s.listProviders)
	h("POST /vaults", "VaultCreate", s.createVault)
	h("GET /vaults", "VaultList", s.listVaults)
	h("GET /vaults/{vault}", "VaultGet", s.getVault)
	h("PATCH /vaults/{vault}", "VaultUpdate", s.updateVault)
	h("DELETE /vaults/{vault}", "VaultDelete", s.deleteVault)
	h("GET /deletedvaults", "VaultListDeleted", s.listDeletedVaults)
	h("POST /deletedvaults/{vault}/recover", "VaultRecover", s.recoverVault)
	h("DELETE /deletedvaults/{vault}", "VaultPurge", s.purgeVault)
	h("PUT /vaults/{vault}/accessPolicies/{principal}", "AccessPolicySet", s.setAccessPolicy)
	h("DELETE /vaults/{vault}/accessPolicies/{principal}", "AccessPolicyRemove", s.removeAccessPolicy)
	h("POST /vaults/{vault}/roleAssignments", "RoleAssign", s.assignRole)
	h("DELETE /vaults/{vault}/roleAssignments/{id}", "RoleRemove", s.removeRole)
	h("GET /roles", "RoleList", func(c *call) error { c.reply(200, map[string]any{"value": Roles}); return nil })
	h("GET /log", "LogRead", s.readLog)
	h("GET /faults", "FaultList", s.listFaults)
	h("PUT /faults/{region}", "FaultSet", s.putFault)
	return mux
}

type callKey struct{}

func contextWith(c *call) context.Context { return context.WithValue(c.r.Context(), callKey{}, c) }

func (s *Server) serveMgmt(c *call) {
	c.op = "Management"
	if c.r.URL.Path == "/healthz" {
		c.op = "Health"
		c.reply(200, map[string]string{"status": "ok"})
		return
	}
	if !c.authenticate("common", true) {
		return
	}
	if err := s.observe(c); err != nil {
		c.fail(err)
		return
	}
	_, pattern := s.mgmt.Handler(c.r)
	if pattern == "" {
		c.fail(notFound("NotFound", "no management route for %s %s; see docs/vault-api.md", c.r.Method, c.r.URL.Path))
		return
	}
	s.mgmt.ServeHTTP(c.w, c.r.WithContext(contextWith(c)))
}

// ---- authorization for management calls ----

func (c *call) requireAdmin() error {
	if c.admin {
		return nil
	}
	return forbidden("AuthorizationFailed", "%s needs the vault server's admin token; principal %q may not do it", c.op, c.principal)
}

// sees says whether the caller may read tenant id's directory entries:
// the admin, the workload token (the service reads every tenant's, as
// onboarding checks them), or a principal of that tenant.
func (c *call) sees(id string) bool { return c.admin || c.directory || c.tenant == id }

// ownsSubscription: the admin, or the subscription's owner signed in to its tenant.
func (c *call) ownsSubscription(sub store.Subscription) bool {
	return c.admin || c.claims != nil && c.tenant == sub.TenantID && strings.EqualFold(c.principal, sub.Owner)
}

var controlRank = map[string]int{"": 0, "read": 1, "write": 2, "owner": 3}

// controlVault checks a control-plane action on a vault: allowed for the
// admin, the subscription owner, or a principal holding a role whose
// control level is at least level (read, write, owner).
func (c *call) controlVault(v store.Vault, level string) error {
	if c.admin || c.directory && level == "read" {
		return nil
	}
	if c.claims != nil && c.tenant == v.TenantID {
		sub, err := c.s.st.Subscription(c.r.Context(), v.SubscriptionID)
		if err != nil {
			return err
		}
		if c.ownsSubscription(sub) {
			return nil
		}
		ras, err := c.s.st.RoleAssignments(c.r.Context(), v.Name)
		if err != nil {
			return err
		}
		for _, ra := range ras {
			role, _ := LookupRole(ra.Role)
			if strings.EqualFold(ra.Principal, c.principal) && controlRank[role.Control] >= controlRank[level] {
				return nil
			}
		}
	}
	need := map[string]string{"read": "Reader, Contributor or Owner", "write": "Contributor or Owner", "owner": "Owner"}[level]
	return forbidden("AuthorizationFailed", "principal %q may not %s on vault %q: it needs the %s role on the vault (or to own its subscription)", c.principal, c.op, v.Name, need)
}

// ---- token issuer ----

type tokenRequest struct {
	Principal string `json:"principal"`
	Tenant    string `json:"tenant"`
	Scope     string `json:"scope"`
}

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresOn   int64  `json:"expires_on"`
	TenantID    string `json:"tenant_id"`
	Principal   string `json:"principal"`
}

// issueToken mints an access token for a principal (dev issuer): the
// admin's for anyone; the workload token's for the service's own
// applications only.
func (s *Server) issueToken(c *call) error {
	if !c.directory {
		if err := c.requireAdmin(); err != nil {
			return err
		}
	}
	var req tokenRequest
	if err := c.decode(&req, false); err != nil {
		return err
	}
	if req.Principal == "" {
		return badParam("principal is required (a UPN or an application ID)")
	}
	resource := strings.TrimSuffix(strings.TrimSuffix(req.Scope, "/.default"), "/")
	if resource == "" {
		resource = c.region.URL
	}
	region := slices.IndexFunc(s.regions, func(r *Region) bool { return strings.EqualFold(r.URL, resource) })
	if region < 0 {
		return badParam("scope %q is not a resource of this vault server; use one of the region URLs with /.default", req.Scope)
	}
	p, err := s.findPrincipal(c, req.Tenant, req.Principal)
	if err != nil {
		return err
	}
	if c.directory && (p.Kind != store.PrincipalService || !slices.ContainsFunc(vaultclient.WorkloadApps, func(a string) bool { return strings.EqualFold(a, p.Name) })) {
		return forbidden("AuthorizationFailed", "the workload token mints tokens for the Customer Key service's applications only (%s); %q is not one: a tenant's own principals act with their own credentials", strings.Join(vaultclient.WorkloadApps, ", "), p.Name)
	}
	c.principal, c.tenant = p.Name, p.TenantID
	tok, exp, err := s.iss.issue(c.region.URL+"/"+p.TenantID+"/", p.TenantID, p.Name, p.Kind, s.regions[region].URL, s.cfg.TokenTTL)
	if err != nil {
		return err
	}
	c.reply(200, tokenResponse{AccessToken: tok, TokenType: "Bearer", ExpiresOn: exp.Unix(), TenantID: p.TenantID, Principal: p.Name})
	return nil
}

// findPrincipal resolves a principal by name within a tenant, or across all
// tenants when the tenant is empty or "common" and the name is unique.
func (s *Server) findPrincipal(c *call, tenant, name string) (store.Principal, error) {
	ctx := c.r.Context()
	if tenant != "" && tenant != "common" && tenant != "organizations" {
		t, err := s.tenant(c, tenant)
		if err != nil {
			return store.Principal{}, err
		}
		p, err := s.st.Principal(ctx, t.ID, name)
		if errors.Is(err, store.ErrNotFound) {
			return p, notFound("PrincipalNotFound", "principal %q does not exist in tenant %s; create it with: ck vault principal create %s --tenant %s", name, t.Name, name, t.Name)
		}
		return p, err
	}
	all, err := s.st.ListPrincipals(ctx, "")
	if err != nil {
		return store.Principal{}, err
	}
	var found []store.Principal
	for _, p := range all {
		if strings.EqualFold(p.Name, name) {
			found = append(found, p)
		}
	}
	switch len(found) {
	case 0:
		return store.Principal{}, notFound("PrincipalNotFound", "principal %q does not exist in any tenant; create it with: ck vault principal create %s --tenant TENANT", name, name)
	case 1:
		return found[0], nil
	}
	return store.Principal{}, badParam("principal %q exists in %d tenants; name the tenant", name, len(found))
}

// ---- tenants and principals ----

var displayName = regexp.MustCompile(`^[\p{L}\p{N}][\p{L}\p{N} ._&'-]{0,63}$`)

func (s *Server) createTenant(c *call) error {
	if err := c.requireAdmin(); err != nil {
		return err
	}
	var req struct {
		Name string `json:"name"`
		ID   string `json:"id"`
	}
	if err := c.decode(&req, false); err != nil {
		return err
	}
	if !displayName.MatchString(req.Name) {
		return badParam("tenant name %q is invalid: use 1-64 letters, digits, spaces and . _ & ' -, starting with a letter or digit", req.Name)
	}
	if req.ID == "" {
		req.ID = uuid.NewString()
	} else if _, err := uuid.Parse(req.ID); err != nil {
		return badParam("tenant id %q is not a GUID", req.ID)
	}
	t := store.Tenant{ID: strings.ToLower(req.ID), Name: req.Name, Created: s.now()}
	if err := s.st.CreateTenant(c.r.Context(), t); errors.Is(err, store.ErrConflict) {
		return conflict("TenantExists", "a tenant named %q (or with ID %s) already exists", req.Name, t.ID)
	} else if err != nil {
		return err
	}
	c.reply(201, vaultclient.Tenant(t))
	return nil
}

func (s *Server) listTenants(c *call) error {
	ts, err := s.st.ListTenants(c.r.Context())
	if err != nil {
		return err
	}
	out := []vaultclient.Tenant{}
	for _, t := range ts {
		if c.admin || t.ID == c.tenant {
			out = append(out, vaultclient.Tenant(t))
		}
	}
	c.reply(200, map[string]any{"value": out})
	return nil
}

// tenant resolves a tenant by ID or name, visible to the caller.
func (s *Server) tenant(c *call, idOrName string) (store.Tenant, error) {
	t, err := s.st.Tenant(c.r.Context(), idOrName)
	if errors.Is(err, store.ErrNotFound) || err == nil && !c.sees(t.ID) {
		return t, notFound("TenantNotFound", "tenant %q not found; list tenants with: ck vault tenant list", idOrName)
	}
	return t, err
}

func (s *Server) getTenant(c *call) error {
	t, err := s.tenant(c, c.r.PathValue("tenant"))
	if err != nil {
		return err
	}
	c.reply(200, vaultclient.Tenant(t))
	return nil
}

var (
	upnRE   = regexp.MustCompile(`^[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$`)
	appIDRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

func (s *Server) createPrincipal(c *call) error {
	if err := c.requireAdmin(); err != nil {
		return err
	}
	t, err := s.tenant(c, c.r.PathValue("tenant"))
	if err != nil {
		return err
	}
	var req struct {
		Name        string `json:"name"`
		DisplayName string `json:"displayName"`
	}
	if err := c.decode(&req, false); err != nil {
		return err
	}
	p := store.Principal{TenantID: t.ID, Name: req.Name, DisplayName: req.DisplayName, Created: s.now()}
	switch {
	case upnRE.MatchString(req.Name):
		p.Kind = store.PrincipalUser
	case appIDRE.MatchString(req.Name):
		p.Kind, p.Name = store.PrincipalService, strings.ToLower(req.Name)
	default:
		return badParam("principal %q is neither a user principal name (user@domain) nor an application ID (a GUID)", req.Name)
	}
	if p.DisplayName == "" {
		p.DisplayName = p.Name
	}
	if err := s.st.CreatePrincipal(c.r.Context(), p); errors.Is(err, store.ErrConflict) {
		return conflict("PrincipalExists", "principal %q already exists in tenant %s", p.Name, t.Name)
	} else if err != nil {
		return err
	}
	c.reply(201, vaultclient.Principal(p))
	return nil
}

// deletePrincipal removes a user or a service principal from its tenant's
// directory (Remove-AzADServicePrincipal): the issuer gives it no token
// from then on; tokens it was given last until they expire, as in Entra.
// Its access policies and role assignments stay (Azure shows them as an
// unknown identity) and grant nothing without a token.
func (s *Server) deletePrincipal(c *call) error {
	if err := c.requireAdmin(); err != nil {
		return err
	}
	t, err := s.tenant(c, c.r.PathValue("tenant"))
	if err != nil {
		return err
	}
	name := c.r.PathValue("principal")
	if err := s.st.DeletePrincipal(c.r.Context(), t.ID, name); errors.Is(err, store.ErrNotFound) {
		return notFound("PrincipalNotFound", "principal %q does not exist in tenant %s", name, t.Name)
	} else if err != nil {
		return err
	}
	s.cfg.Logger.Warn("vault: principal deleted", "tenant", t.ID, "principal", name)
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listPrincipals(c *call) error {
	t, err := s.tenant(c, c.r.PathValue("tenant"))
	if err != nil {
		return err
	}
	ps, err := s.st.ListPrincipals(c.r.Context(), t.ID)
	if err != nil {
		return err
	}
	out := []vaultclient.Principal{}
	for _, p := range ps {
		out = append(out, vaultclient.Principal(p))
	}
	c.reply(200, map[string]any{"value": out})
	return nil
}

func (s *Server) getPrincipal(c *call) error {
	name, tenant := c.r.PathValue("principal"), c.r.PathValue("tenant")
	if c.admin || c.directory {
		p, err := s.findPrincipal(c, tenant, name)
		if err != nil {
			return err
		}
		c.reply(200, vaultclient.Principal(p))
		return nil
	}
	// A principal looks in its own tenant's directory only, and gets one
	// answer for whatever is not there: whether a name exists in another
	// tenant is not its to learn.
	p, err := s.findPrincipal(c, c.tenant, name)
	var ae *apiError
	switch {
	case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
	case err != nil:
		return err
	case tenant == "" || tenant == "common" || tenant == "organizations":
		c.reply(200, vaultclient.Principal(p))
		return nil
	default:
		if t, err := s.tenant(c, tenant); err == nil && t.ID == c.tenant {
			c.reply(200, vaultclient.Principal(p))
			return nil
		}
	}
	return notFound("PrincipalNotFound", "principal %q not found", name)
}

// ---- subscriptions, features, providers ----

func (s *Server) featureState(f store.Feature) vaultclient.Feature {
	out := vaultclient.Feature{Namespace: f.Namespace, Name: f.Name, State: Registering, RequestedAt: &f.RequestedAt}
	if !s.now().Before(f.RegisteredAt) {
		out.State, out.RegisteredAt = Registered, &f.RegisteredAt
	}
	return out
}

// retentionState returns the mandatory-retention feature state of a subscription.
func (s *Server) retentionState(c *call, subID string) (string, error) {
	f, err := s.st.Feature(c.r.Context(), subID, ResourcesNamespace, RetentionFeature)
	if errors.Is(err, store.ErrNotFound) {
		return NotRegistered, nil
	}
	if err != nil {
		return "", err
	}
	return s.featureState(f).State, nil
}

// replySubscription answers with the subscription and its features.
func (s *Server) replySubscription(c *call, status int, sub store.Subscription) error {
	out, err := s.subscriptionJSON(c, sub)
	if err != nil {
		return err
	}
	c.reply(status, out)
	return nil
}

func (s *Server) subscriptionJSON(c *call, sub store.Subscription) (vaultclient.Subscription, error) {
	fs, err := s.st.ListFeatures(c.r.Context(), sub.ID)
	if err != nil {
		return vaultclient.Subscription{}, err
	}
	out := vaultclient.Subscription{ID: sub.ID, Name: sub.Name, TenantID: sub.TenantID, Kind: sub.Kind, Owner: sub.Owner, State: sub.State, Created: sub.Created, Features: []vaultclient.Feature{}}
	for _, f := range fs {
		out.Features = append(out.Features, s.featureState(f))
	}
	return out, nil
}

func (s *Server) createSubscription(c *call) error {
	var req struct {
		Name   string `json:"name"`
		Tenant string `json:"tenant"`
		Kind   string `json:"kind"`
		Owner  string `json:"owner"`
		ID     string `json:"id"`
	}
	if err := c.decode(&req, false); err != nil {
		return err
	}
	if !displayName.MatchString(req.Name) {
		return badParam("subscription name %q is invalid: use 1-64 letters, digits, spaces and . _ & ' -", req.Name)
	}
	if req.Tenant == "" {
		return badParam("tenant is required (its ID or name)")
	}
	t, err := s.tenant(c, req.Tenant)
	if err != nil {
		return err
	}
	if !c.admin {
		req.Owner = c.principal // a principal creates subscriptions it owns
	}
	if req.Owner == "" {
		return badParam("owner is required: the UPN of the user who administers the subscription")
	}
	owner, err := s.findPrincipal(c, t.ID, req.Owner)
	if err != nil {
		return err
	}
	if owner.Kind != store.PrincipalUser {
		return badParam("owner %q must be a user (UPN), not a service principal", req.Owner)
	}
	switch req.Kind = strings.ToLower(req.Kind); req.Kind {
	case "":
		req.Kind = store.SubscriptionPaid
	case store.SubscriptionPaid, store.SubscriptionTrial:
	default:
		return badParam("subscription kind %q is invalid: use paid or trial", req.Kind)
	}
	switch _, perr := uuid.Parse(req.ID); {
	case req.ID == "":
		req.ID = uuid.NewString()
	case !c.admin:
		// As in Azure, a subscription's ID is given, not chosen: a
		// principal choosing one could learn whether another tenant's
		// exists (or take it first).
		return badParam("only the vault server's administrator chooses a subscription's ID; omit id and one is given")
	case perr != nil:
		return badParam("subscription id %q is not a GUID", req.ID)
	}
	sub := store.Subscription{ID: strings.ToLower(req.ID), TenantID: t.ID, Name: req.Name, Kind: req.Kind, Owner: owner.Name, State: store.SubscriptionActive, Created: s.now()}
	if err := s.st.CreateSubscription(c.r.Context(), sub); errors.Is(err, store.ErrConflict) {
		return conflict("SubscriptionExists", "subscription %s already exists", sub.ID)
	} else if err != nil {
		return err
	}
	return s.replySubscription(c, 201, sub)
}

// subscription resolves a subscription by ID (or unique name) visible to the caller.
func (s *Server) subscription(c *call, idOrName string) (store.Subscription, error) {
	ctx := c.r.Context()
	sub, err := s.st.Subscription(ctx, strings.ToLower(idOrName))
	if errors.Is(err, store.ErrNotFound) {
		subs, lerr := s.st.ListSubscriptions(ctx, "")
		if lerr != nil {
			return sub, lerr
		}
		var match []store.Subscription
		for _, x := range subs {
			if strings.EqualFold(x.Name, idOrName) && c.sees(x.TenantID) {
				match = append(match, x)
			}
		}
		if len(match) > 1 {
			return sub, badParam("%d subscriptions are named %q; use the subscription ID", len(match), idOrName)
		}
		if len(match) == 1 {
			sub, err = match[0], nil
		}
	}
	if errors.Is(err, store.ErrNotFound) || err == nil && !c.sees(sub.TenantID) {
		return sub, notFound("SubscriptionNotFound", "subscription %q not found; list them with: ck vault subscription list", idOrName)
	}
	return sub, err
}

func (s *Server) listSubscriptions(c *call) error {
	tenant := c.r.URL.Query().Get("tenant")
	if tenant != "" {
		t, err := s.tenant(c, tenant)
		if err != nil {
			return err
		}
		tenant = t.ID
	}
	subs, err := s.st.ListSubscriptions(c.r.Context(), tenant)
	if err != nil {
		return err
	}
	out := []vaultclient.Subscription{}
	for _, sub := range subs {
		if !c.admin && sub.TenantID != c.tenant {
			continue
		}
		j, err := s.subscriptionJSON(c, sub)
		if err != nil {
			return err
		}
		out = append(out, j)
	}
	c.reply(200, map[string]any{"value": out})
	return nil
}

func (s *Server) getSubscription(c *call) error {
	sub, err := s.subscription(c, c.r.PathValue("sub"))
	if err != nil {
		return err
	}
	return s.replySubscription(c, 200, sub)
}

func (s *Server) cancelSubscription(c *call) error {
	sub, err := s.subscription(c, c.r.PathValue("sub"))
	if err != nil {
		return err
	}
	if !c.ownsSubscription(sub) {
		return forbidden("AuthorizationFailed", "only the owner of subscription %s may cancel it", sub.ID)
	}
	state, err := s.retentionState(c, sub.ID)
	if err != nil {
		return err
	}
	if state != NotRegistered {
		return conflict("MandatoryRetentionPeriod", "subscription %s has %s/%s %s: it cannot be cancelled at once. A mandatory retention period protects the Customer Key root keys in its vaults; cancellation must wait out that period (90 days)",
			sub.ID, ResourcesNamespace, RetentionFeature, state)
	}
	if sub.State == store.SubscriptionCancelled {
		return conflict("SubscriptionCancelled", "subscription %s is already cancelled", sub.ID)
	}
	sub.State = store.SubscriptionCancelled
	if err := s.st.UpdateSubscription(c.r.Context(), sub); err != nil {
		return err
	}
	return s.replySubscription(c, 200, sub)
}

func (s *Server) featurePath(c *call) (store.Subscription, error) {
	sub, err := s.subscription(c, c.r.PathValue("sub"))
	if err != nil {
		return sub, err
	}
	if !strings.EqualFold(c.r.PathValue("ns"), ResourcesNamespace) || !strings.EqualFold(c.r.PathValue("feature"), RetentionFeature) {
		return sub, notFound("FeatureNotFound", "feature %s/%s is not known; the vault knows %s/%s", c.r.PathValue("ns"), c.r.PathValue("feature"), ResourcesNamespace, RetentionFeature)
	}
	return sub, nil
}

func (s *Server) registerFeature(c *call) error {
	sub, err := s.featurePath(c)
	if err != nil {
		return err
	}
	// The service registers the retention feature in onboarding's Prepare
	// step: it only makes the tenant's keys harder to lose.
	if !c.ownsSubscription(sub) && !c.directory {
		return forbidden("AuthorizationFailed", "only the owner of subscription %s may register features on it", sub.ID)
	}
	if sub.State != store.SubscriptionActive {
		return badParam("subscription %s is %s; features can be registered only on active subscriptions", sub.ID, sub.State)
	}
	f, err := s.st.Feature(c.r.Context(), sub.ID, ResourcesNamespace, RetentionFeature)
	if errors.Is(err, store.ErrNotFound) {
		now := s.now()
		f = store.Feature{SubscriptionID: sub.ID, Namespace: ResourcesNamespace, Name: RetentionFeature, RequestedAt: now, RegisteredAt: now.Add(s.cfg.FeatureDelay)}
		err = s.st.PutFeature(c.r.Context(), f)
	}
	if err != nil {
		return err
	}
	c.reply(200, s.featureState(f))
	return nil
}

func (s *Server) getFeature(c *call) error {
	sub, err := s.featurePath(c)
	if err != nil {
		return err
	}
	f, err := s.st.Feature(c.r.Context(), sub.ID, ResourcesNamespace, RetentionFeature)
	if errors.Is(err, store.ErrNotFound) {
		c.reply(200, vaultclient.Feature{Namespace: ResourcesNamespace, Name: RetentionFeature, State: NotRegistered})
		return nil
	}
	if err != nil {
		return err
	}
	c.reply(200, s.featureState(f))
	return nil
}

func (s *Server) registerProvider(c *call) error {
	sub, err := s.subscription(c, c.r.PathValue("sub"))
	if err != nil {
		return err
	}
	if !c.ownsSubscription(sub) {
		return forbidden("AuthorizationFailed", "only the owner of subscription %s may register resource providers", sub.ID)
	}
	i := slices.IndexFunc(knownProviders, func(p string) bool { return strings.EqualFold(p, c.r.PathValue("ns")) })
	if i < 0 {
		return notFound("ProviderNotFound", "resource provider %q is not known; use one of %s", c.r.PathValue("ns"), strings.Join(knownProviders, ", "))
	}
	p := store.Provider{SubscriptionID: sub.ID, Namespace: knownProviders[i], State: "Registered", Updated: s.now()}
	if err := s.st.PutProvider(c.r.Context(), p); err != nil {
		return err
	}
	c.reply(200, vaultclient.Provider{Namespace: p.Namespace, RegistrationState: p.State})
	return nil
}

func (s *Server) listProviders(c *call) error {
	sub, err := s.subscription(c, c.r.PathValue("sub"))
	if err != nil {
		return err
	}
	ps, err := s.st.ListProviders(c.r.Context(), sub.ID)
	if err != nil {
		return err
	}
	out := []vaultclient.Provider{}
	for _, ns := range knownProviders {
		state := NotRegistered
		for _, p := range ps {
			if p.Namespace == ns {
				state = p.State
			}
		}
		out = append(out, vaultclient.Provider{Namespace: ns, RegistrationState: state})
	}
	c.reply(200, map[string]any{"value": out})
	return nil
}

// ---- vaults ----

// recoveryLevel derives a vault's key recovery level (SPEC V7).
func recoveryLevel(v store.Vault, retention string) string {
	level := "Recoverable"
	if v.RetentionDays < 90 {
		level = "CustomizedRecoverable"
	}
	switch {
	case retention == Registered:
		return level + "+ProtectedSubscription"
	case v.PurgeProtection:
		return level
	}
	return level + "+Purgeable"
}

// replyVault answers with the vault as the API shows it.
func (s *Server) replyVault(c *call, status int, v store.Vault, migrated ...vaultclient.RoleAssignment) error {
	out, err := s.vaultJSON(c, v)
	if err != nil {
		return err
	}
	out.MigratedAssignments = migrated
	c.reply(status, out)
	return nil
}

func (s *Server) vaultJSON(c *call, v store.Vault) (vaultclient.Vault, error) {
	ctx := c.r.Context()
	retention, err := s.retentionState(c, v.SubscriptionID)
	if err != nil {
		return vaultclient.Vault{}, err
	}
	out := vaultclient.Vault{Name: v.Name, URI: s.VaultURL(v.Name, v.Region), SubscriptionID: v.SubscriptionID, TenantID: v.TenantID, Region: v.Region, SKU: v.SKU,
		SoftDeleteEnabled: true, SoftDeleteRetentionInDays: v.RetentionDays, PurgeProtectionEnabled: v.PurgeProtection, PermissionModel: v.PermissionModel,
		RecoveryLevel: recoveryLevel(v, retention), Created: v.Created, DeletedDate: v.DeletedAt, ScheduledPurgeDate: v.PurgeAt,
		AccessPolicies: []vaultclient.AccessPolicy{}, RoleAssignments: []vaultclient.RoleAssignment{}}
	aps, err := s.st.AccessPolicies(ctx, v.Name)
	if err != nil {
		return out, err
	}
	for _, ap := range aps {
		out.AccessPolicies = append(out.AccessPolicies, vaultclient.AccessPolicy{Principal: ap.Principal, Permissions: map[string][]string{"keys": ap.Permissions}})
	}
	ras, err := s.st.RoleAssignments(ctx, v.Name)
	if err != nil {
		return out, err
	}
	for _, ra := range ras {
		out.RoleAssignments = append(out.RoleAssignments, roleJSON(ra))
	}
	return out, nil
}

func roleJSON(ra store.RoleAssignment) vaultclient.RoleAssignment {
	role, _ := LookupRole(ra.Role)
	return vaultclient.RoleAssignment{ID: ra.ID, Principal: ra.Principal, Role: role.Name, RoleID: role.ID}
}

var vaultNameRE = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$`)

func validVaultName(name string) error {
	if !vaultNameRE.MatchString(name) || strings.Contains(name, "--") {
		return badParam("vault name %q is invalid: use 3-24 characters (letters, digits and dashes), start with a letter, end with a letter or digit, and no two dashes in a row", name)
	}
	return nil
}

// vault loads a vault by name. Soft-deleted vaults past their purge date
// are purged on the way (the retention period is over).
func (s *Server) vault(c *call, name string) (store.Vault, error) {
	v, err := s.snap.vault(c.r.Context(), s.st, name)
	if err == nil && v.PurgeAt != nil && !s.now().Before(*v.PurgeAt) {
		if err = s.st.PurgeVault(c.r.Context(), v.Name); err == nil {
			s.keys.drop(v.Name + "/")
			s.cfg.Logger.Info("vault: purged at the end of its retention period", "vault", v.Name)
			err = store.ErrNotFound
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		return v, notFound("VaultNotFound", "vault %q not found", name)
	}
	return v, err
}

// liveVault loads a vault that is not deleted and visible to the caller.
func (s *Server) liveVault(c *call, name string) (store.Vault, error) {
	c.vault = strings.ToLower(name)
	v, err := s.vault(c, name)
	if err == nil && !c.sees(v.TenantID) { // before anything is said of it
		return v, notFound("VaultNotFound", "vault %q not found", name)
	}
	if err == nil && v.DeletedAt != nil {
		return v, notFound("VaultNotFound", "vault %q is deleted; recover it with: ck vault recover %s", name, v.Name)
	}
	return v, err
}

func (s *Server) createVault(c *call) error {
	var req struct {
		Name            string `json:"name"`
		Subscription    string `json:"subscription"`
		Region          string `json:"region"`
		SKU             string `json:"sku"`
		RetentionDays   *int   `json:"retentionDays"`
		PurgeProtection bool   `json:"purgeProtection"`
		PermissionModel string `json:"permissionModel"`
		SoftDelete      *bool  `json:"softDelete"`
	}
	if err := c.decode(&req, false); err != nil {
		return err
	}
	c.vault = strings.ToLower(req.Name)
	if err := validVaultName(req.Name); err != nil {
		return err
	}
	if req.Subscription == "" {
		return badParam("subscription is required")
	}
	sub, err := s.subscription(c, req.Subscription)
	if err != nil {
		return err
	}
	if !c.ownsSubscription(sub) {
		return forbidden("AuthorizationFailed", "only the owner of subscription %s may create vaults in it", sub.ID)
	}
	if sub.State != store.SubscriptionActive {
		return badParam("subscription %s is %s; vaults can be created only in active subscriptions", sub.ID, sub.State)
	}
	req.Region = strings.ToLower(req.Region)
	if s.region(req.Region) == nil {
		return badParam("region %q is not served by this vault server; use one of: %s", req.Region, s.regionNames())
	}
	switch req.SKU = strings.ToLower(req.SKU); req.SKU {
	case "":
		req.SKU = "standard"
	case "standard", "premium":
	default:
		return badParam("sku %q is invalid: use standard (software-protected keys) or premium (HSM-protected keys)", req.SKU)
	}
	if req.SoftDelete != nil && !*req.SoftDelete {
		return badParam("soft delete cannot be turned off: it is always on, with a retention of 7-90 days")
	}
	days := 90
	if req.RetentionDays != nil {
		days = *req.RetentionDays
	}
	if days < 7 || days > 90 {
		return badParam("retentionDays %d is out of range: soft-delete retention is 7-90 days (Customer Key expects 90)", days)
	}
	model, err := permissionModel(req.PermissionModel)
	if err != nil {
		return err
	}
	v := store.Vault{Name: strings.ToLower(req.Name), SubscriptionID: sub.ID, TenantID: sub.TenantID, Region: req.Region, SKU: req.SKU,
		RetentionDays: days, PurgeProtection: req.PurgeProtection, PermissionModel: model, Created: s.now()}
	if existing, gerr := s.vault(c, req.Name); gerr == nil {
		// Another tenant's vault, deleted or not, reads as a name in use:
		// that it is soft-deleted is its tenant's to know.
		if existing.DeletedAt != nil && c.sees(existing.TenantID) {
			return conflict("VaultAlreadyExists", "vault name %q belongs to a soft-deleted vault; recover it (ck vault recover %s) or purge it before reusing the name", req.Name, existing.Name)
		}
		return conflict("VaultAlreadyExists", "vault name %q is already in use; vault names are globally unique, choose another", req.Name)
	}
	if err := s.st.CreateVault(c.r.Context(), v); errors.Is(err, store.ErrConflict) {
		return conflict("VaultAlreadyExists", "vault name %q is already in use; vault names are globally unique, choose another", req.Name)
	} else if err != nil {
		return err
	}
	return s.replyVault(c, 201, v)
}

func permissionModel(m string) (string, error) {
	switch strings.ToLower(m) {
	case "", "accesspolicy", "access-policy", "accesspolicies":
		return store.ModelAccessPolicy, nil
	case "rbac":
		return store.ModelRBAC, nil
	}
	return "", badParam("permission model %q is invalid: use accessPolicy or rbac", m)
}

func (s *Server) listVaults(c *call) error        { return s.listVaultsWhere(c, false) }
func (s *Server) listDeletedVaults(c *call) error { return s.listVaultsWhere(c, true) }

func (s *Server) listVaultsWhere(c *call, deleted bool) error {
	vs, err := s.st.ListVaults(c.r.Context())
	if err != nil {
		return err
	}
	out := []vaultclient.Vault{}
	for _, v := range vs {
		if (v.DeletedAt != nil) != deleted || c.controlVault(v, "read") != nil {
			continue
		}
		if _, err := s.vault(c, v.Name); err != nil { // purges what is past retention
			continue
		}
		j, err := s.vaultJSON(c, v)
		if err != nil {
			return err
		}
		out = append(out, j)
	}
	c.reply(200, map[string]any{"value": out})
	return nil
}

func (s *Server) getVault(c *call) error {
	v, err := s.liveVault(c, c.r.PathValue("vault"))
	if err != nil {
		return err
	}
	if err := c.controlVault(v, "read"); err != nil {
		return err
	}
	return s.replyVault(c, 200, v)
}

func (s *Server) updateVault(c *call) error {
	v, err := s.liveVault(c, c.r.PathValue("vault"))
	if err != nil {
		return err
	}
	if err := c.controlVault(v, "write"); err != nil {
		return err
	}
	var req struct {
		PurgeProtection       *bool   `json:"purgeProtection"`
		PermissionModel       *string `json:"permissionModel"`
		MigrateAccessPolicies bool    `json:"migrateAccessPolicies"`
		RetentionDays         *int    `json:"retentionDays"`
		SoftDelete            *bool   `json:"softDelete"`
		Region                *string `json:"region"`
		Name                  *string `json:"name"`
		SKU                   *string `json:"sku"`
	}
	if err := c.decode(&req, false); err != nil {
		return err
	}
	switch {
	case req.SoftDelete != nil && !*req.SoftDelete:
		return badParam("soft delete cannot be turned off")
	case req.RetentionDays != nil && *req.RetentionDays != v.RetentionDays:
		return badParam("soft-delete retention is set when the vault is created and cannot change (it is %d days)", v.RetentionDays)
	case req.PurgeProtection != nil && !*req.PurgeProtection && v.PurgeProtection:
		return badParam("purge protection cannot be turned off once it is on")
	case req.Name != nil && !strings.EqualFold(*req.Name, v.Name):
		return badParam("a vault's name is immutable")
	case req.Region != nil && !strings.EqualFold(*req.Region, v.Region):
		return badParam("a vault's region is immutable")
	case req.SKU != nil && !strings.EqualFold(*req.SKU, v.SKU):
		return badParam("the built-in vault cannot change a vault's SKU; create a new vault")
	}
	if req.PurgeProtection != nil && *req.PurgeProtection {
		v.PurgeProtection = true
	}
	var migrated []vaultclient.RoleAssignment
	if req.PermissionModel != nil {
		model, err := permissionModel(*req.PermissionModel)
		if err != nil {
			return err
		}
		// Changing the model changes who may use the keys: back to access
		// policies revives every policy kept, and a migration makes role
		// assignments. Both are the Owner's, as role assignments are (in
		// Azure: Microsoft.Authorization/roleAssignments/write); a
		// Contributor, who may edit access policies, would otherwise grant
		// itself a role by way of a policy.
		if model != v.PermissionModel || req.MigrateAccessPolicies {
			if err := c.controlVault(v, "owner"); err != nil {
				return err
			}
		}
		if req.MigrateAccessPolicies {
			if model != store.ModelRBAC || v.PermissionModel != store.ModelAccessPolicy {
				return badParam("migrateAccessPolicies applies only when moving a vault from accessPolicy to rbac")
			}
			if migrated, err = s.migrateToRBAC(c, v); err != nil {
				return err
			}
		}
		v.PermissionModel = model
	}
	if err := s.st.UpdateVault(c.r.Context(), v); err != nil {
		return err
	}
	return s.replyVault(c, 200, v, migrated...)
}

// migrateToRBAC gives each access-policy principal the narrowest built-in
// role that covers its key permissions. The policies stay (ignored under RBAC)
// so the vault can be moved back. It changes nothing, and says why, when a
// principal's role would allow it more than its policy does (widening):
// an administrator allowed to create and back up keys must not come out of
// a migration able to purge them or unwrap with them.
func (s *Server) migrateToRBAC(c *call, v store.Vault) ([]vaultclient.RoleAssignment, error) {
	aps, err := s.st.AccessPolicies(c.r.Context(), v.Name)
	if err != nil {
		return nil, err
	}
	var assign []store.RoleAssignment
	var wider []string
	for _, ap := range aps {
		role, ok := bestRole(ap.Permissions)
		if !ok {
			continue // its permissions allow nothing this vault serves
		}
		if extra := widening(ap.Permissions, role); len(extra) > 0 {
			wider = append(wider, fmt.Sprintf("%s (policy: %s; the narrowest role, %q, also allows: %s)",
				ap.Principal, strings.Join(ap.Permissions, ","), role.Name, strings.Join(extra, ",")))
			continue
		}
		assign = append(assign, store.RoleAssignment{ID: uuid.NewString(), Vault: v.Name, Principal: ap.Principal, Role: role.Name, Created: s.now()})
	}
	if len(wider) > 0 {
		return nil, badParam("migrateAccessPolicies would give %d principal(s) more than their access policies allow: %s. Nothing was changed. "+
			"Either give each policy what its role adds (e.g. ck vault access-policy set %s --upn PRINCIPAL --key-permissions all), "+
			"or move the vault without migrating and assign roles yourself: ck vault update %s --permission-model rbac, then ck vault role assign %s --role ROLE --assignee PRINCIPAL",
			len(wider), strings.Join(wider, "; "), v.Name, v.Name, v.Name)
	}
	out := []vaultclient.RoleAssignment{}
	for _, ra := range assign {
		if err := s.st.CreateRoleAssignment(c.r.Context(), ra); err != nil && !errors.Is(err, store.ErrConflict) {
			return nil, err
		}
		out = append(out, roleJSON(ra))
	}
	return out, nil
}

func (s *Server) deleteVault(c *call) error {
	v, err := s.liveVault(c, c.r.PathValue("vault"))
	if err != nil {
		return err
	}
	if err := c.controlVault(v, "write"); err != nil {
		return err
	}
	now := s.now()
	purge := now.Add(time.Duration(v.RetentionDays) * 24 * time.Hour)
	v.DeletedAt, v.PurgeAt = &now, &purge
	if err := s.st.UpdateVault(c.r.Context(), v); err != nil {
		return err
	}
	return s.replyVault(c, 200, v)
}

func (s *Server) deletedVault(c *call) (store.Vault, error) {
	c.vault = strings.ToLower(c.r.PathValue("vault"))
	v, err := s.vault(c, c.vault)
	if err == nil && (v.DeletedAt == nil || !c.admin && v.TenantID != c.tenant) {
		err = notFound("VaultNotFound", "no deleted vault named %q", c.vault)
	}
	if err != nil {
		return v, err
	}
	return v, c.controlVault(v, "write")
}

func (s *Server) recoverVault(c *call) error {
	v, err := s.deletedVault(c)
	if err != nil {
		return err
	}
	v.DeletedAt, v.PurgeAt = nil, nil
	if err := s.st.UpdateVault(c.r.Context(), v); err != nil {
		return err
	}
	return s.replyVault(c, 200, v)
}

func (s *Server) purgeVault(c *call) error {
	v, err := s.deletedVault(c)
	if err != nil {
		return err
	}
	retention, err := s.retentionState(c, v.SubscriptionID)
	if err != nil {
		return err
	}
	if !strings.Contains(recoveryLevel(v, retention), "Purgeable") {
		return forbidden("PurgeProtected", "Operation \"purge\" is not allowed on vault %q: purge protection (or the subscription's mandatory retention period) is on. It will be purged automatically on %s, when its retention period has passed.", v.Name, v.PurgeAt.Format(time.RFC3339))
	}
	if err := s.st.PurgeVault(c.r.Context(), v.Name); err != nil {
		return err
	}
	s.keys.drop(v.Name + "/")
	s.cfg.Logger.Warn("vault: purged on request; its keys are destroyed", "vault", v.Name, "principal", c.principal)
	c.reply(200, map[string]string{"name": v.Name, "status": "Purged"})
	return nil
}

// ---- access policies and role assignments ----

func (s *Server) principalOfVault(c *call, v store.Vault, name string) (store.Principal, error) {
	p, err := s.st.Principal(c.r.Context(), v.TenantID, name)
	if errors.Is(err, store.ErrNotFound) {
		return p, notFound("PrincipalNotFound", "principal %q does not exist in the vault's tenant; create it with: ck vault principal create %s --tenant %s", name, name, v.TenantID)
	}
	return p, err
}

func (s *Server) setAccessPolicy(c *call) error {
	v, err := s.liveVault(c, c.r.PathValue("vault"))
	if err != nil {
		return err
	}
	if err := c.controlVault(v, "write"); err != nil {
		return err
	}
	if v.PermissionModel == store.ModelRBAC {
		return badParam("vault %q uses the RBAC permission model, so access policies do not apply; assign a role instead: ck vault role assign %s --role \"Key Vault Crypto Service Encryption User\" --assignee PRINCIPAL", v.Name, v.Name)
	}
	p, err := s.principalOfVault(c, v, c.r.PathValue("principal"))
	if err != nil {
		return err
	}
	var req struct {
		Permissions struct {
			Keys []string `json:"keys"`
		} `json:"permissions"`
	}
	if err := c.decode(&req, false); err != nil {
		return err
	}
	var perms []string
	for _, raw := range req.Permissions.Keys {
		perm, ok := canonicalPermission(raw)
		if !ok {
			return badParam("key permission %q is not known; use any of: %s", raw, strings.Join(KeyPermissions, ", "))
		}
		if !slices.Contains(perms, perm) {
			perms = append(perms, perm)
		}
	}
	if len(perms) == 0 {
		return badParam("permissions.keys is empty; to take away all access use: ck vault access-policy remove %s", v.Name)
	}
	ap := store.AccessPolicy{Vault: v.Name, Principal: strings.ToLower(p.Name), Permissions: perms, Updated: s.now()}
	if err := s.st.PutAccessPolicy(c.r.Context(), ap); err != nil {
		return err
	}
	c.reply(200, vaultclient.AccessPolicy{Principal: ap.Principal, Permissions: map[string][]string{"keys": perms}})
	return nil
}

func (s *Server) removeAccessPolicy(c *call) error {
	v, err := s.liveVault(c, c.r.PathValue("vault"))
	if err != nil {
		return err
	}
	if err := c.controlVault(v, "write"); err != nil {
		return err
	}
	// Removing a policy the principal does not have succeeds, as
	// Remove-AzKeyVaultAccessPolicy does in Azure: a script that takes a
	// workload off every vault must not stop at a vault it never had.
	name := c.r.PathValue("principal")
	if err := s.st.DeleteAccessPolicy(c.r.Context(), v.Name, name); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	c.reply(204, nil)
	return nil
}

func (s *Server) assignRole(c *call) error {
	v, err := s.liveVault(c, c.r.PathValue("vault"))
	if err != nil {
		return err
	}
	if err := c.controlVault(v, "owner"); err != nil {
		return err
	}
	var req struct {
		Principal string `json:"principal"`
		Role      string `json:"role"`
	}
	if err := c.decode(&req, false); err != nil {
		return err
	}
	role, ok := LookupRole(req.Role)
	if !ok {
		return badParam("role %q is not known; use one of: %s", req.Role, roleNames())
	}
	p, err := s.principalOfVault(c, v, req.Principal)
	if err != nil {
		return err
	}
	ra := store.RoleAssignment{ID: uuid.NewString(), Vault: v.Name, Principal: strings.ToLower(p.Name), Role: role.Name, Created: s.now()}
	if err := s.st.CreateRoleAssignment(c.r.Context(), ra); errors.Is(err, store.ErrConflict) {
		return conflict("RoleAssignmentExists", "%q already has role %q on vault %q", p.Name, role.Name, v.Name)
	} else if err != nil {
		return err
	}
	c.reply(201, roleJSON(ra))
	return nil
}

func (s *Server) removeRole(c *call) error {
	v, err := s.liveVault(c, c.r.PathValue("vault"))
	if err != nil {
		return err
	}
	if err := c.controlVault(v, "owner"); err != nil {
		return err
	}
	if err := s.st.DeleteRoleAssignment(c.r.Context(), v.Name, c.r.PathValue("id")); errors.Is(err, store.ErrNotFound) {
		return notFound("RoleAssignmentNotFound", "vault %q has no role assignment %q", v.Name, c.r.PathValue("id"))
	} else if err != nil {
		return err
	}
	c.reply(204, nil)
	return nil
}

// ---- operation log ----

// readLog returns operation-log entries: all of them for the admin, those
// of vaults the caller may read otherwise.
func (s *Server) readLog(c *call) error {
	if c.directory { // the service reads the directory, not what tenants do with their vaults
		return forbidden("AuthorizationFailed", "the workload token does not read the operation log")
	}
	q := c.r.URL.Query()
	f := store.OpFilter{Vault: q.Get("vault")}
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return badParam("since %q is not an RFC 3339 time (e.g. 2026-11-22T10:00:00Z)", v)
		}
		f.Since = t
	}
	for name, dst := range map[string]*int64{"after": &f.AfterID} {
		if v := q.Get(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return badParam("%s %q is not a non-negative integer", name, v)
			}
			*dst = n
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			return badParam("limit %q must be 1-10000", v)
		}
		f.Limit = n
	}
	if !c.admin {
		vs, err := s.st.ListVaults(c.r.Context())
		if err != nil {
			return err
		}
		f.Vaults = []store.OpVault{}
		for _, v := range vs {
			if c.controlVault(v, "read") == nil {
				f.Vaults = append(f.Vaults, store.OpVault{Name: v.Name, Since: v.Created})
			}
		}
	}
	s.ops.flush(c.r.Context())
	ops, err := s.st.ListOps(c.r.Context(), f)
	if err != nil {
		return err
	}
	out := []vaultclient.Op{}
	for _, op := range ops {
		out = append(out, vaultclient.Op{ID: op.ID, Time: op.Time, Principal: op.Principal, TenantID: op.Tenant, Operation: op.Operation,
			Vault: op.Vault, Key: op.Key, Version: op.Version, Status: op.Status, Code: op.Code, ClientIP: op.ClientIP})
	}
	c.reply(200, map[string]any{"value": out})
	return nil
}
