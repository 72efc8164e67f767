package lifecycle

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/access"
	"github.com/customerkey/customerkey/internal/dep"
	"github.com/customerkey/customerkey/internal/envelope"
	"github.com/customerkey/customerkey/internal/jobs"
	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/rule"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/tenant"
	"github.com/customerkey/customerkey/internal/workload"
)

// Sites (SPEC D4, D5, K2, K5): one site DEP (the TIK) per geo, registered
// with a primary and a secondary key; registering wraps every site of the
// geo under the TIK in the background, with progress. A roll or a
// key-loss recovery gives the geo a new site DEP and moves every site to
// it the same way.

// KeyRef names a customer key as the SharePoint cmdlets take it.
type KeyRef struct{ Vault, Key, Version string }

// RegisterGeo is Register-SPODataEncryptionPolicy: a geo's site DEP on a
// primary and a secondary key.
func (s *Service) RegisterGeo(ctx context.Context, t store.ServiceTenant, geo string, primary, secondary KeyRef) (dep.Geo, error) {
	if err := s.deps.RequireOnboarded(ctx, t, "SPO"); err != nil {
		return dep.Geo{}, err
	}
	given := geo
	geo = strings.ToUpper(geo)
	if !dep.GeoRE.MatchString(geo) {
		return dep.Geo{}, rule.Invalid(client.RuleSiteDEPGeo, "name the geo with three letters, e.g. NAM or EUR", "geo %q is invalid", given)
	}
	if g, err := s.deps.Geo(ctx, t, geo); err != nil {
		return g, err
	} else if g.State != dep.Unregistered {
		return g, rule.Conflict(client.RuleSiteDEPOnePerGeo, "a geo has one site DEP; change its keys with Update-SPODataEncryptionPolicy", "geo %s already has a site DEP", geo)
	}
	var uris []string
	for _, k := range []KeyRef{primary, secondary} {
		uri, err := s.deps.SiteKeyURI(ctx, k.Vault, k.Key, k.Version)
		if err != nil {
			return dep.Geo{}, err
		}
		uris = append(uris, uri)
	}
	d, err := s.deps.Create(ctx, t, dep.Spec{Kind: dep.Site, Name: "SPO-" + geo, Description: "site DEP of geo " + geo, KeyURIs: uris})
	if err != nil {
		return dep.Geo{}, err
	}
	if _, err := s.startSiteWork(ctx, t, siteArgs{Geo: geo, DEP: d.ID, State: dep.Registering, By: tenant.Caller(ctx).Subject}); err != nil {
		return dep.Geo{}, err
	}
	return s.deps.Geo(ctx, t, geo)
}

// errNoSitePurge refuses a purge request for sites (R6).
func errNoSitePurge() error {
	return rule.Invalid(client.RulePurgeNotForSites, "to leave the service altogether, delete the tenant (Microsoft Entra ID tenant deletion)",
		"purging of SharePoint and OneDrive DEPs isn't supported: the data purge path exists only for mailbox DEPs")
}

// RollGeo is Update-SPODataEncryptionPolicy: the geo's primary or
// secondary key is replaced (a new vault, key or version); the geo is
// Rolling while every site is re-wrapped in the background.
func (s *Service) RollGeo(ctx context.Context, t store.ServiceTenant, geo, keyType string, key KeyRef, purge bool) (dep.Geo, error) {
	if purge {
		return dep.Geo{}, errNoSitePurge()
	}
	geo = strings.ToUpper(geo)
	reg, err := s.deps.Registration(ctx, t, geo, "register the geo first (ck spo dep register --geo "+geo+" ...)")
	if err != nil {
		return dep.Geo{}, err
	}
	if reg.State != dep.Registered {
		return dep.Geo{}, rule.Conflict(client.RuleOneRollPerGeo, "wait until the geo is Registered (ck spo dep show --geo "+geo+" --wait), then roll", "geo %s is %s: one registration or roll per geo at a time", geo, reg.State)
	}
	i, ok := map[string]int{"Primary": 0, "Secondary": 1}[keyType]
	if !ok {
		return dep.Geo{}, rule.Invalid(client.RuleRollKeyType, "say which key to roll: --key-type Primary or Secondary", "no key type given")
	}
	uri, err := s.deps.SiteKeyURI(ctx, key.Vault, key.Key, key.Version)
	if err != nil {
		return dep.Geo{}, err
	}
	old, err := s.deps.Get(ctx, t, dep.Site, reg.DEP)
	if err != nil {
		return dep.Geo{}, err
	}
	uris := []string{old.KeyURIs[0], old.KeyURIs[1]}
	if strings.EqualFold(uris[i], uri) {
		return dep.Geo{}, rule.Invalid(client.RuleRollNewKey, "give a new key version (ck vault key rotate VAULT KEY, then ck vault key show) or another key", "the %s key is already %s", strings.ToLower(keyType), uri)
	}
	uris[i] = uri
	d, err := s.deps.Create(ctx, t, dep.Spec{Kind: dep.Site, Name: dep.NextSiteName(geo), Description: "site DEP of geo " + geo + " (rolled " + keyType + ")", KeyURIs: uris})
	if err != nil {
		return dep.Geo{}, err
	}
	if _, err := s.startSiteWork(ctx, t, siteArgs{Geo: geo, DEP: d.ID, State: dep.Rolling, By: tenant.Caller(ctx).Subject}); err != nil {
		return dep.Geo{}, err
	}
	return s.deps.Geo(ctx, t, geo)
}

// RecoverGeo is the key-loss recovery of a geo (operator, with the access
// request the tenant approved for it: T5): both keys of the geo's site DEP are lost; every site moves to
// a new site DEP on new keys, through the availability key.
func (s *Service) RecoverGeo(ctx context.Context, t store.ServiceTenant, geo string, keyURIs [2]string, request string) (store.Job, error) {
	if err := tenant.RequireOperator(ctx); err != nil {
		return store.Job{}, err
	}
	geo = strings.ToUpper(geo)
	reg, err := s.deps.Registration(ctx, t, geo, "check the geo (ck spo dep show)")
	if err != nil {
		return store.Job{}, err
	}
	// The new DEP is made of the keys as the tenant approved them (in
	// their normal form), not as this call spells them.
	target := ""
	keys, err := access.ParseKeys(keyURIs[:])
	if err == nil {
		target = access.GeoTarget(keys)
	}
	req, err := s.allowed(ctx, t, request, access.Scope{Action: access.RecoverGeo, DEP: geo, Target: target})
	if err != nil {
		return store.Job{}, err
	}
	if reg.State != dep.Registered {
		return store.Job{}, rule.Conflict(client.RuleOneRollPerGeo, "wait until the geo is Registered", "geo %s is %s", geo, reg.State)
	}
	lost, err := s.deps.Get(ctx, t, dep.Site, reg.DEP)
	if err != nil {
		return store.Job{}, err
	}
	if err := s.deps.RequireLost(ctx, lost, req.Reason); err != nil {
		return store.Job{}, err
	}
	// The new DEP first: a refusal of its keys (D1, K1) leaves the
	// tenant's approval for the next try. Should the request be used by
	// another call meanwhile, the new DEP, which wraps nothing, goes.
	d, err := s.deps.Create(ctx, t, dep.Spec{Kind: dep.Site, Name: dep.NextSiteName(geo), Description: "site DEP of geo " + geo + " (key-loss recovery)", KeyURIs: keys[:]})
	if err != nil {
		return store.Job{}, err
	}
	reason, err := s.use(ctx, t, req)
	if err != nil {
		if rerr := s.deps.Retire(ctx, t, d, "unused: the key-loss recovery of geo "+geo+" that made it did not start"); rerr != nil {
			s.log.Warn("lifecycle: an unused site DEP was not retired; the geo's next roll retires it", "tenant", t.ID, "dep", d.ID, "err", rerr)
		}
		return store.Job{}, err
	}
	return s.startSiteWork(ctx, t, siteArgs{Geo: geo, DEP: d.ID, State: dep.Rolling, By: "the operator", Recover: reason})
}

// siteArgs are a rewrap-sites job's arguments.
type siteArgs struct {
	Geo   string
	DEP   string // the geo's new site DEP
	State string // Registering or Rolling
	By    string
	// Recover, if set, is the operator's reason for key-loss recovery:
	// the sites' current DEP keys come from the availability key.
	Recover string `json:",omitempty"`
}

// startSiteWork points a geo at a new site DEP (registration, roll or
// recovery): it queues the job that moves every site of the geo to it,
// then records the geo's state. The job records it too, so a process
// that dies between the two writes leaves nothing half done.
func (s *Service) startSiteWork(ctx context.Context, t store.ServiceTenant, a siteArgs) (store.Job, error) {
	// The geo shows Registered a moment before its job is marked done:
	// give that job a moment rather than refuse.
	j, err := s.enqueue(ctx, t, JobSites, "geo:"+a.Geo, a)
	for deadline := time.Now().Add(2 * time.Second); rule.Is(err, rule.KindConflict) && time.Now().Before(deadline); {
		select {
		case <-ctx.Done():
			return j, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		j, err = s.enqueue(ctx, t, JobSites, "geo:"+a.Geo, a)
	}
	if err != nil {
		return j, err
	}
	now := s.now().UTC()
	return j, s.st.PutSiteRegistration(ctx, store.SiteRegistration{Tenant: t.ID, Geo: a.Geo, DEP: a.DEP, State: a.State, Started: now, Updated: now})
}

// rewrapSites is the rewrap-sites job: it wraps every site of a geo under
// the geo's current site DEP (only the site keys are re-wrapped, K7),
// recording progress; sites stay readable throughout, each on the DEP
// that wraps its key. Done, the geo is Registered and the geo's older
// site DEPs, now unused, are retired.
func (s *Service) rewrapSites(ctx context.Context, x *jobs.Run) error {
	var a siteArgs
	t, err := s.jobTenant(ctx, x, &a)
	if err != nil {
		return err
	}
	reg, err := s.st.SiteRegistration(ctx, t.ID, a.Geo)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if reg.DEP != a.DEP { // the process died before startSiteWork recorded it
		now := s.now().UTC()
		reg = store.SiteRegistration{Tenant: t.ID, Geo: a.Geo, DEP: a.DEP, State: a.State, Started: now, Updated: now}
	}
	to, err := s.deps.Get(ctx, t, dep.Site, reg.DEP)
	if err != nil {
		return jobs.Permanent(err)
	}
	sites, err := s.boxes.OfKind(ctx, t, workload.SiteKind(reg.Geo))
	if err != nil {
		return err
	}
	var todo []store.Mailbox
	for _, m := range sites {
		if m.DEP != to.ID {
			todo = append(todo, m)
		}
	}
	total := len(sites)
	progress := func(done int) error {
		reg.Total, reg.Done, reg.Updated = total, done, s.now().UTC()
		if err := s.st.PutSiteRegistration(ctx, reg); err != nil {
			return err
		}
		return x.Progress(ctx, done, total)
	}
	done := total - len(todo)
	if err := progress(done); err != nil {
		return err
	}
	req := keyring.Request{Initiator: keyring.Service, Reason: strings.ToLower(reg.State) + " geo " + reg.Geo + " for " + a.By}
	newKey, err := s.deps.Key(ctx, to, req)
	if err != nil {
		return err
	}
	oldKeys := map[string]*envelope.Key{}
	helds := map[string]held{}
	defer func() {
		if a.Recover != "" { // recovery keys are the job's own; cached keys are shared
			for _, k := range oldKeys {
				k.Destroy()
			}
		}
	}()
	pace := s.pacer()
	for _, m := range todo {
		if err := pace.Wait(ctx); err != nil {
			return err
		}
		// A job may run long at a bounded rate: a revocation of an old
		// DEP meanwhile stops it (T1, T2), and its key is asked for again
		// once it left the cache (held.stale). A recovery's keys are the
		// lost DEPs' availability keys, the job's own, taken once: lost
		// keys' refusals do not stop it.
		if a.Recover == "" {
			if err := s.deps.CheckRevoked(m.DEP); err != nil {
				return err
			}
		}
		from, err := s.deps.ByID(ctx, t, m.DEP)
		if err != nil {
			return err
		}
		oldKey := oldKeys[from.ID]
		if h, ok := helds[from.ID]; oldKey == nil || a.Recover == "" && (!ok || h.stale()) {
			h = s.hold(from.ID)
			if oldKey, err = s.oldKey(ctx, from, req, a.Recover); err != nil {
				return err
			}
			oldKeys[from.ID], helds[from.ID] = oldKey, h
		}
		if err := s.boxes.Move(ctx, t, m, from, oldKey, to, newKey); err != nil && !rule.Is(err, rule.KindConflict) {
			return err // a conflict: moved meanwhile, by an earlier run of this job
		}
		done++
		if err := progress(done); err != nil {
			return err
		}
	}
	// Retire first: while the geo is not Registered no new roll can start,
	// so no new site DEP is being made that retiring could take.
	if err := s.retireSiteDEPs(ctx, t, reg.Geo, to); err != nil {
		return err
	}
	reg.State, reg.Updated = dep.Registered, s.now().UTC()
	if err := s.st.PutSiteRegistration(ctx, reg); err != nil {
		return err
	}
	s.log.Info("lifecycle: geo wrapped under its site DEP", "tenant", t.ID, "geo", reg.Geo, "dep", to.ID, "sites", total, "moved", len(todo))
	return nil
}

// oldKey is the key of a DEP containers are moved off (from its
// availability key in a key-loss recovery); failures that cannot pass
// with time end the job.
func (s *Service) oldKey(ctx context.Context, d store.DEP, req keyring.Request, recoverReason string) (*envelope.Key, error) {
	key, err := s.deps.OldKey(ctx, d, req, recoverReason)
	if errors.Is(err, dep.ErrNothingToRecover) || errors.Is(err, keyring.ErrAvailabilityKeyDestroyed) {
		return nil, jobs.Permanent(err)
	}
	return key, err
}

// held is when a long job took an old DEP's key from the keyring, and
// where the DEP stood in it then.
type held struct {
	s     *Service
	dep   string
	epoch uint64
	at    time.Time
}

// hold notes the moment before a job takes DEP id's key.
func (s *Service) hold(id string) held {
	return held{s: s, dep: id, epoch: s.deps.Epoch(id), at: time.Now()}
}

// stale says whether the key should be asked for again: the DEP's key left
// this node's keyrings since (an eviction, a revocation), or a minute has
// passed (its cache entry may have expired). Out of the cache, the
// revocation probe no longer asks the DEP's keys; asked again, the keys
// refuse if the tenant removed access, and the job stops (T1, T2). Held
// for the whole job, it went on for as long as the job ran.
func (h held) stale() bool {
	return h.s.deps.Epoch(h.dep) != h.epoch || time.Since(h.at) > time.Minute
}

// retireSiteDEPs retires the geo's site DEPs other than current that no
// site uses any more (after a roll or recovery, and any left by a request
// that died before its job was queued): nothing is wrapped under their
// TIKs.
func (s *Service) retireSiteDEPs(ctx context.Context, t store.ServiceTenant, geo string, current store.DEP) error {
	ds, err := s.deps.List(ctx, t, dep.Site)
	if err != nil {
		return err
	}
	for _, d := range ds {
		// Only DEPs older than the current one: a newer one may be a roll
		// being started.
		if d.ID == current.ID || d.Created.After(current.Created) || !dep.OfGeo(d, geo) {
			continue
		}
		if used, err := s.boxes.OnDEP(ctx, t, d.ID); err != nil {
			return err
		} else if len(used) > 0 {
			continue
		}
		if err := s.deps.Retire(ctx, t, d, "site DEP "+d.Name+" retired: every site of geo "+geo+" is on "+current.Name); err != nil {
			return err
		}
	}
	return nil
}
