package keyring_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/customerkey/customerkey/internal/envelope"
	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/keystore"
	"github.com/customerkey/customerkey/internal/kms"
	"github.com/customerkey/customerkey/internal/vault/vaulttest"
)

type obj = map[string]any

// matrix is two vault regions, a key in each, a keyring acting as the
// Exchange workload, and a mailbox DEP and a site DEP on those two keys.
type matrix struct {
	t       *testing.T
	env     *vaulttest.Env
	ring    *keyring.Keyring
	metrics *keyring.Metrics
	reg     *prometheus.Registry
	admin   [2]*azkeys.Client
	vaults  [2]string
	mailbox keyring.DEP
	site    keyring.DEP
	depKey  []byte // the mailbox DEP key, as first unwrapped

	mu     sync.Mutex
	events []keyring.Event
}

var user = keyring.Request{Initiator: keyring.User, Reason: "read mailbox item"}
var service = keyring.Request{Initiator: keyring.Service, Reason: "search indexing"}

func newMatrix(t *testing.T, cfg keyring.Config) *matrix {
	t.Helper()
	ctx := context.Background()
	env := vaulttest.Start(t, vaulttest.Options{})
	m := &matrix{t: t, env: env}
	seed, err := env.SeedTenant()
	must(t, err)
	keyURIs := seed.KeyURIs
	m.admin = seed.Keys
	for i, v := range seed.Vaults {
		m.vaults[i] = v.Name
	}
	client, err := kms.NewAzure(kms.AzureConfig{Credential: env.Client.Credential(seed.Workload), HTTPClient: env.Client.HTTP(), Domains: env.Client.VaultDomains(), MaxRetries: -1, TryTimeout: 3 * time.Second})
	must(t, err)
	master, err := keystore.OpenFile(filepath.Join(t.TempDir(), "service-keystore.json"))
	must(t, err)
	m.reg = prometheus.NewRegistry()
	m.metrics = keyring.NewMetrics(m.reg)
	if cfg.Now == nil {
		cfg.Now = env.Clock.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = func(int) int { return 0 } // key 1 first: deterministic
	}
	if cfg.HedgeDelay == 0 {
		cfg.HedgeDelay = 50 * time.Millisecond
	}
	cfg.Metrics = m.metrics
	cfg.Audit = func(e keyring.Event) { m.mu.Lock(); m.events = append(m.events, e); m.mu.Unlock() }
	m.ring = keyring.New(client, keyring.NewKeystore(env.Store, master), cfg)
	m.mailbox, err = m.ring.NewDEP(ctx, "contoso", "dep-mailbox", keyring.Mailbox, keyURIs, keyring.Request{Initiator: keyring.User, Reason: "New-DataEncryptionPolicy"})
	must(t, err)
	m.site, err = m.ring.NewDEP(ctx, "contoso", "dep-site", keyring.Site, keyURIs, keyring.Request{Initiator: keyring.User, Reason: "Register-SPODataEncryptionPolicy"})
	must(t, err)
	k, err := m.ring.DEPKey(ctx, m.mailbox, user)
	must(t, err)
	m.depKey = k.Bytes()
	m.ring.Evict(m.mailbox.ID)
	return m
}

func wantRevoked(t testing.TB, err error) {
	t.Helper()
	var re *keyring.RevokedError
	if !errors.As(err, &re) {
		t.Fatalf("want a refusal naming the revocation, got %v", err)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// fault switches a drill on for the rest of the test (a minute at most,
// so that both regions can be down at once).
func (m *matrix) fault(region, mode string, delay time.Duration) {
	m.t.Helper()
	must(m.t, m.env.Fault(region, mode, delay, time.Minute))
}

func (m *matrix) revoke(i int) {
	m.t.Helper()
	must(m.t, m.env.Client.Do(context.Background(), "DELETE", "/vaults/"+m.vaults[i]+"/accessPolicies/"+vaulttest.ExchangeApp, nil, nil))
}

func (m *matrix) update(i int, attrs azkeys.KeyAttributes) {
	m.t.Helper()
	_, err := m.admin[i].UpdateKey(context.Background(), "key", "", azkeys.UpdateKeyParameters{KeyAttributes: &attrs}, nil)
	must(m.t, err)
}

// vaultUnwraps counts successful KeyUnwrap calls in the vaults' own log.
func (m *matrix) vaultUnwraps() int {
	n, err := m.env.Unwraps()
	must(m.t, err)
	return n
}

func (m *matrix) availabilityUses(initiator string) float64 {
	return m.counter("customerkey_keyring_availability_key_uses_total", initiator)
}

// counter reads a counter from the registry; label "" matches any.
func (m *matrix) counter(name, label string) float64 {
	mfs, err := m.reg.Gather()
	must(m.t, err)
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, metric := range mf.GetMetric() {
			if label == "" || len(metric.GetLabel()) > 0 && metric.GetLabel()[0].GetValue() == label {
				total += metric.GetCounter().GetValue()
			}
		}
	}
	return total
}

func (m *matrix) get(d keyring.DEP, req keyring.Request) (*envelope.Key, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m.ring.Evict(d.ID) // every case starts with a cold cache
	return m.ring.DEPKey(ctx, d, req)
}

func (m *matrix) wantKey(k *envelope.Key, err error) {
	m.t.Helper()
	if err != nil {
		m.t.Fatalf("want the DEP key, got %v", err)
	}
	if !bytes.Equal(k.Bytes(), m.depKey) {
		m.t.Fatal("got a key, but not the DEP's")
	}
}

func (m *matrix) wantRefusal(err error, deliberate bool, causes ...string) {
	m.t.Helper()
	var de *keyring.DEPError
	if !errors.As(err, &de) {
		m.t.Fatalf("want a refusal naming the DEP, got %v", err)
	}
	if de.Deliberate() != deliberate {
		m.t.Fatalf("deliberate = %v, want %v: %v", de.Deliberate(), deliberate, err)
	}
	msg := err.Error()
	for _, want := range append([]string{de.DEP, de.Keys[0], de.Keys[1]}, causes...) {
		if !strings.Contains(msg, want) {
			m.t.Fatalf("refusal %q does not name %q", msg, want)
		}
	}
}

// wantReasons checks why each customer key failed, by kms reason.
func (m *matrix) wantReasons(err error, want ...kms.Reason) {
	m.t.Helper()
	var de *keyring.DEPError
	if !errors.As(err, &de) {
		m.t.Fatalf("want a refusal naming the DEP, got %v", err)
	}
	if got := de.Reasons(); got != [2]kms.Reason{want[0], want[1]} {
		m.t.Fatalf("reasons %v, want %v: %v", got, want, err)
	}
}

func (m *matrix) wantHealth(dep string, s keyring.State, cause string) {
	m.t.Helper()
	h := m.ring.Health(dep)
	if h.State != s || !strings.Contains(h.Cause, cause) {
		m.t.Fatalf("health of %s: %s %q, want %s containing %q", dep, h.State, h.Cause, s, cause)
	}
}

// TestFaultMatrix: each case with its expected outcome, against two real
// HTTPS vault regions.
func TestFaultMatrix(t *testing.T) {
	t.Run("both healthy", func(t *testing.T) {
		m := newMatrix(t, keyring.Config{})
		m.wantKey(m.get(m.mailbox, user))
		m.wantHealth(m.mailbox.ID, keyring.Healthy, "")
		if _, err := m.get(m.site, user); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("one vault down: the other serves, DEP degraded", func(t *testing.T) {
		m := newMatrix(t, keyring.Config{})
		m.fault("eastus", "outage", 0)
		m.wantKey(m.get(m.mailbox, user))
		m.wantHealth(m.mailbox.ID, keyring.Degraded, "transient: the vault at contoso-eastus.localhost")
		if _, err := m.get(m.site, user); err != nil {
			t.Fatalf("site with one vault down: %v", err)
		}
		if m.availabilityUses("user") != 0 {
			t.Fatal("the availability key was used with a vault up")
		}
	})
	t.Run("both down: mailboxes served by the availability key, sites refused", func(t *testing.T) {
		m := newMatrix(t, keyring.Config{})
		m.fault("eastus", "outage", 0)
		m.fault("westus", "outage", 0)
		m.wantKey(m.get(m.mailbox, user))
		m.wantHealth(m.mailbox.ID, keyring.Degraded, "served with the availability key")
		if m.availabilityUses("user") != 1 {
			t.Fatalf("availability key uses %v, want 1", m.availabilityUses("user"))
		}
		m.wantAudit("availability-key-use", "read mailbox item")
		_, err := m.get(m.site, user)
		m.wantRefusal(err, false, "transient")
		m.wantReasons(err, kms.Unreachable, kms.Unreachable)
		_, err = m.get(m.site, service)
		m.wantRefusal(err, false, "transient") // no automatic availability key for sites, ever
	})
	t.Run("one slow: the hedged request wins on the other", func(t *testing.T) {
		m := newMatrix(t, keyring.Config{HedgeDelay: 50 * time.Millisecond})
		m.fault("eastus", "slow", time.Second)
		before := m.unwrapCounts()
		if _, err := m.get(m.site, user); err != nil {
			t.Fatal(err)
		}
		// westus answered, the eastus request was cancelled, not waited for.
		m.waitFor("the eastus request to be cancelled", func() bool { return m.unwrapDelta(before, m.vaults[0], "cancelled") == 1 })
		m.wantUnwraps(before, m.vaults[1], "ok", 1)
		m.wantUnwraps(before, m.vaults[0], "ok", 0)
		m.wantUnwraps(before, m.vaults[0], "cancelled", 1)
		m.wantHealth(m.site.ID, keyring.Healthy, "")
	})
	t.Run("one slow, mailbox: the attempt times out and the other key serves", func(t *testing.T) {
		m := newMatrix(t, keyring.Config{AttemptTimeout: 200 * time.Millisecond}) // key 1 (eastus) first
		m.fault("eastus", "slow", time.Second)
		before := m.unwrapCounts()
		m.wantKey(m.get(m.mailbox, user))
		m.wantUnwraps(before, m.vaults[0], "transient", 1) // abandoned at the attempt timeout
		m.wantUnwraps(before, m.vaults[1], "ok", 1)
		m.wantHealth(m.mailbox.ID, keyring.Degraded, "could not be reached")
	})
	t.Run("both throttled: transient, availability key for mailboxes", func(t *testing.T) {
		m := newMatrix(t, keyring.Config{})
		m.fault("eastus", "throttled", 0)
		m.fault("westus", "throttled", 0)
		m.wantKey(m.get(m.mailbox, user))
		m.wantHealth(m.mailbox.ID, keyring.Degraded, "429")
		_, err := m.get(m.site, user)
		m.wantRefusal(err, false, "429")
		m.wantReasons(err, kms.Throttled, kms.Throttled)
	})
	t.Run("access removed on one, then on both", func(t *testing.T) {
		m := newMatrix(t, keyring.Config{})
		m.revoke(0)
		m.wantKey(m.get(m.mailbox, user))
		m.wantHealth(m.mailbox.ID, keyring.Degraded, "access removed")
		m.revoke(1)
		_, err := m.get(m.mailbox, user)
		m.wantRefusal(err, true, "access removed (ForbiddenByPolicy)")
		m.wantReasons(err, kms.AccessRemoved, kms.AccessRemoved)
		m.wantHealth(m.mailbox.ID, keyring.Unhealthy, "access removed")
		if m.availabilityUses("user") != 0 {
			t.Fatal("the availability key served a user after the customer revoked access")
		}
		// Both refused deliberately: the DEP is revoked (T1), and the
		// availability key serves nothing, service-initiated work included.
		_, err = m.get(m.mailbox, service)
		wantRevoked(t, err)
		if m.availabilityUses("service")+m.availabilityUses("user") != 0 {
			t.Fatal("the availability key served after the customer revoked access")
		}
		if r, ok := m.ring.Revocation(m.mailbox.ID); !ok || !r.Revoked || !strings.Contains(r.Cause, "access removed") {
			t.Fatalf("revocation: %+v %v", r, ok)
		}
	})
	// T1: a revocation sticks whatever happens to the vaults after it;
	// only a customer key unwrapping again clears it.
	t.Run("revoked, then both vaults down: refused, never the availability key", func(t *testing.T) {
		for _, via := range []string{"signal", "refusals"} {
			t.Run(via, func(t *testing.T) {
				m := newMatrix(t, keyring.Config{})
				m.wantKey(m.get(m.mailbox, user)) // cached
				if via == "signal" {
					m.ring.Revoke(m.mailbox, "revocation signal from admin@contoso.com")
				} else {
					m.revoke(0)
					m.revoke(1)
					_, err := m.get(m.mailbox, service)
					wantRevoked(t, err)
				}
				m.fault("eastus", "outage", 0)
				m.fault("westus", "outage", 0)
				for _, req := range []keyring.Request{user, service, {Initiator: keyring.Move, Reason: "Set-Mailbox"}} {
					_, err := m.get(m.mailbox, req)
					wantRevoked(t, err)
				}
				if _, ok := m.ring.Cached(m.mailbox.ID); ok {
					t.Fatal("a revoked DEP's key is still in the cache")
				}
				if n := m.availabilityUses("user") + m.availabilityUses("service") + m.availabilityUses("move"); n != 0 {
					t.Fatalf("the availability key served %v times after the revocation", n)
				}
			})
		}
	})
	t.Run("revoked in the stored record (after a restart), then an outage: refused", func(t *testing.T) {
		m := newMatrix(t, keyring.Config{})
		d := m.mailbox
		d.Revoked = keyring.Revocation{Revoked: true, Since: time.Now(), Cause: "revocation signal"}
		m.fault("eastus", "outage", 0)
		m.fault("westus", "outage", 0)
		_, err := m.get(d, user)
		wantRevoked(t, err)
		if m.availabilityUses("user") != 0 {
			t.Fatal("the availability key served a DEP whose record says revoked")
		}
	})
	t.Run("revoked, then access restored: a customer key clears it", func(t *testing.T) {
		m := newMatrix(t, keyring.Config{})
		m.ring.Revoke(m.mailbox, "revocation signal")
		m.wantKey(m.get(m.mailbox, user)) // the keys still work: cleared at once
		if r, ok := m.ring.Revocation(m.mailbox.ID); !ok || r.Revoked {
			t.Fatalf("after a customer key unwrapped: %+v %v", r, ok)
		}
	})
	t.Run("a move never takes the availability key, in an outage either", func(t *testing.T) {
		m := newMatrix(t, keyring.Config{})
		m.fault("eastus", "outage", 0)
		m.fault("westus", "outage", 0)
		m.wantKey(m.get(m.mailbox, user)) // users are served in an outage (K3)...
		_, err := m.ring.DEPKey(context.Background(), m.mailbox, keyring.Request{Initiator: keyring.Move, Reason: "Set-Mailbox"})
		m.wantRefusal(err, false, "could not be reached") // ... moves are not, not even from the cache
	})
	t.Run("one refused, the other down: service work may use the availability key, a move may not", func(t *testing.T) {
		m := newMatrix(t, keyring.Config{})
		m.revoke(0)
		m.fault("westus", "outage", 0)
		m.wantKey(m.get(m.mailbox, service)) // K4: not revoked (one key only refused)
		_, err := m.get(m.mailbox, keyring.Request{Initiator: keyring.Move, Reason: "Set-Mailbox"})
		m.wantRefusal(err, true, "access removed", "could not be reached")
		must(t, m.ring.DestroyAvailabilityKey(context.Background(), m.mailbox, "operator@provider", "data purge approved"))
		_, err = m.get(m.mailbox, service)
		if err == nil || !errors.Is(err, keyring.ErrAvailabilityKeyDestroyed) {
			t.Fatalf("after destroying the availability key: %v", err)
		}
		m.wantAudit("availability-key-destroy", "data purge approved")
	})
	t.Run("one access removed and the other vault down: refused", func(t *testing.T) {
		m := newMatrix(t, keyring.Config{})
		m.revoke(0)
		m.fault("westus", "outage", 0)
		_, err := m.get(m.mailbox, user)
		m.wantRefusal(err, true, "access removed", "could not be reached")
		m.wantReasons(err, kms.AccessRemoved, kms.Unreachable)
	})
	t.Run("key disabled", func(t *testing.T) {
		m := newMatrix(t, keyring.Config{})
		m.update(0, azkeys.KeyAttributes{Enabled: to.Ptr(false)})
		m.update(1, azkeys.KeyAttributes{Enabled: to.Ptr(false)})
		_, err := m.get(m.mailbox, user)
		m.wantRefusal(err, true, "key disabled")
		m.wantReasons(err, kms.KeyDisabled, kms.KeyDisabled)
		m.wantHealth(m.mailbox.ID, keyring.Unhealthy, "key disabled")
	})
	t.Run("key expired: reads go on (the vault keeps unwrap working)", func(t *testing.T) {
		m := newMatrix(t, keyring.Config{})
		past := time.Now().Add(-time.Hour)
		m.update(0, azkeys.KeyAttributes{Expires: &past})
		m.update(1, azkeys.KeyAttributes{Expires: &past})
		m.wantKey(m.get(m.mailbox, user))
		// ... but no new DEP can be made on them.
		_, err := m.ring.NewDEP(context.Background(), "contoso", "dep-new", keyring.Mailbox, [2]string{m.mailbox.CustomerKeys[0].KeyID, m.mailbox.CustomerKeys[1].KeyID}, user)
		if kms.ClassOf(err) != kms.Denied || !errors.Is(err, kms.KeyExpired) {
			t.Fatalf("new DEP on expired keys: %v", err)
		}
	})
	t.Run("keys deleted, then recovered", func(t *testing.T) {
		m := newMatrix(t, keyring.Config{})
		for i := range 2 {
			_, err := m.admin[i].DeleteKey(context.Background(), "key", nil)
			must(t, err)
		}
		_, err := m.get(m.mailbox, user)
		m.wantRefusal(err, true, "deleted or not found")
		m.wantReasons(err, kms.KeyNotFound, kms.KeyNotFound)
		for i := range 2 {
			_, err := m.admin[i].RecoverDeletedKey(context.Background(), "key", nil)
			must(t, err)
		}
		m.wantKey(m.get(m.mailbox, user))
		m.wantHealth(m.mailbox.ID, keyring.Healthy, "")
	})
	t.Run("both down, 100 concurrent callers: one availability-key unwrap", func(t *testing.T) {
		m := newMatrix(t, keyring.Config{})
		m.fault("eastus", "outage", 0)
		m.fault("westus", "outage", 0)
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				k, err := m.ring.DEPKey(context.Background(), m.mailbox, user)
				m.wantKey(k, err)
			})
		}
		wg.Wait()
		if n := m.availabilityUses("user"); n != 1 {
			t.Fatalf("availability key used %v times for 100 waiting callers, want 1", n)
		}
	})
	t.Run("cold cache, 100 concurrent callers: exactly one unwrap", func(t *testing.T) {
		m := newMatrix(t, keyring.Config{})
		before := m.vaultUnwraps()
		m.ring.Evict(m.mailbox.ID)
		var wg sync.WaitGroup
		errs := make(chan error, 100)
		for range 100 {
			wg.Go(func() {
				k, err := m.ring.DEPKey(context.Background(), m.mailbox, user)
				if err == nil && !bytes.Equal(k.Bytes(), m.depKey) {
					err = errors.New("wrong key")
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			must(t, err)
		}
		if n := m.vaultUnwraps() - before; n != 1 {
			t.Fatalf("%d unwraps reached the vaults, want 1", n)
		}
	})
}

// unwrapCounts reads the unwrap counter by "vault result".
func (m *matrix) unwrapCounts() map[string]float64 {
	m.t.Helper()
	mfs, err := m.reg.Gather()
	must(m.t, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "customerkey_keyring_unwraps_total" {
			continue
		}
		for _, metric := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range metric.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			out[labels["vault"]+" "+labels["result"]] += metric.GetCounter().GetValue()
		}
	}
	return out
}

// unwrapDelta is how many unwraps at a vault ended with result since before.
func (m *matrix) unwrapDelta(before map[string]float64, vault, result string) float64 {
	sum := func(counts map[string]float64) float64 {
		n := 0.0
		for k, v := range counts {
			if strings.Contains(k, vault) && strings.HasSuffix(k, " "+result) {
				n += v
			}
		}
		return n
	}
	return sum(m.unwrapCounts()) - sum(before)
}

func (m *matrix) wantUnwraps(before map[string]float64, vault, result string, want float64) {
	m.t.Helper()
	if got := m.unwrapDelta(before, vault, result); got != want {
		m.t.Fatalf("unwraps at %s with result %s: %v, want %v", vault, result, got, want)
	}
}

func (m *matrix) wantAudit(action, reason string) {
	m.t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.events {
		if e.Action == action && strings.Contains(e.Reason, reason) {
			return
		}
	}
	m.t.Fatalf("no audit event %s with reason %q in %+v", action, reason, m.events)
}

// TestCache: refresh-ahead, the alert, revocation seen by a refresh, and
// eviction, with the vault's clock under the test's control.
func TestCache(t *testing.T) {
	cfg := keyring.Config{TTL: 10 * time.Hour, RefreshAhead: 2 * time.Hour, RefreshRetry: time.Minute}
	ctx := context.Background()

	t.Run("warm cache: no vault calls", func(t *testing.T) {
		m := newMatrix(t, cfg)
		_, err := m.ring.DEPKey(ctx, m.mailbox, user)
		must(t, err)
		before := m.vaultUnwraps()
		for range 1000 {
			_, err := m.ring.DEPKey(ctx, m.mailbox, user)
			must(t, err)
		}
		if n := m.vaultUnwraps() - before; n != 0 {
			t.Fatalf("%d unwraps with a warm cache", n)
		}
		if hits := m.counter("customerkey_keyring_cache_hits_total", ""); hits < 1000 {
			t.Fatalf("cache hits %v", hits)
		}
	})

	t.Run("Cached serves a cached key until its refresh window, never after an eviction", func(t *testing.T) {
		m := newMatrix(t, cfg)
		if _, ok := m.ring.Cached(m.mailbox.ID); ok {
			t.Fatal("a key that was never unwrapped is cached")
		}
		want, err := m.ring.DEPKey(ctx, m.mailbox, user)
		must(t, err)
		if got, ok := m.ring.Cached(m.mailbox.ID); !ok || got != want {
			t.Fatal("the unwrapped key is not served from the cache")
		}
		m.env.Clock.Advance(8*time.Hour + time.Minute) // inside the refresh window: the caller must take DEPKey
		if _, ok := m.ring.Cached(m.mailbox.ID); ok {
			t.Fatal("Cached served a key due for a refresh")
		}
		_, err = m.ring.DEPKey(ctx, m.mailbox, user)
		must(t, err)
		m.ring.Evict(m.mailbox.ID)
		if _, ok := m.ring.Cached(m.mailbox.ID); ok {
			t.Fatal("Cached served an evicted key")
		}
	})

	t.Run("refresh ahead of expiry extends the key", func(t *testing.T) {
		m := newMatrix(t, cfg)
		_, err := m.ring.DEPKey(ctx, m.mailbox, user)
		must(t, err)
		before := m.vaultUnwraps()
		m.env.Clock.Advance(7 * time.Hour) // 3h left: not yet in the window
		_, err = m.ring.DEPKey(ctx, m.mailbox, user)
		must(t, err)
		if m.vaultUnwraps() != before {
			t.Fatal("refreshed outside the refresh window")
		}
		m.env.Clock.Advance(90 * time.Minute) // 1h30 left: inside the 2h window
		_, err = m.ring.DEPKey(ctx, m.mailbox, user)
		must(t, err)
		m.waitFor("a refresh", func() bool { return m.vaultUnwraps() == before+1 })
		m.env.Clock.Advance(5 * time.Hour) // past the old expiry, within the new one
		after := m.vaultUnwraps()
		_, err = m.ring.DEPKey(ctx, m.mailbox, user)
		must(t, err)
		if m.vaultUnwraps() != after {
			t.Fatal("the refreshed key was not kept: a new unwrap happened")
		}
		m.wantAudit("refresh", "cache refresh")
	})

	t.Run("refreshes failing before expiry raise an alert, and the key is served until it expires", func(t *testing.T) {
		m := newMatrix(t, cfg)
		_, err := m.ring.DEPKey(ctx, m.mailbox, user)
		must(t, err)
		m.fault("eastus", "outage", 0)
		m.fault("westus", "outage", 0)
		m.env.Clock.Advance(8*time.Hour + time.Minute)
		_, err = m.ring.DEPKey(ctx, m.mailbox, user)
		must(t, err) // still cached
		m.waitFor("an alert", func() bool { return m.counter("customerkey_keyring_alerts_total", "") == 1 })
		if m.counter("customerkey_keyring_refresh_failures_total", "") < 1 {
			t.Fatal("refresh failure not counted")
		}
		m.wantAudit("alert", "expires in 1h59m")
		// Retried at most once per RefreshRetry; one alert per episode.
		m.env.Clock.Advance(2 * time.Minute)
		_, err = m.ring.DEPKey(ctx, m.mailbox, user)
		must(t, err)
		m.waitFor("a second refresh failure", func() bool { return m.counter("customerkey_keyring_refresh_failures_total", "") == 2 })
		if m.counter("customerkey_keyring_alerts_total", "") != 1 {
			t.Fatal("alerted twice for one episode")
		}
		// After expiry, a user read goes through the outage path: the availability key.
		m.env.Clock.Advance(2 * time.Hour)
		k, err := m.ring.DEPKey(ctx, m.mailbox, user)
		m.wantKey(k, err)
		if m.availabilityUses("user") != 1 {
			t.Fatal("after expiry with both vaults down, the availability key should serve")
		}
	})

	t.Run("a refresh refused by the customer drops the key at once", func(t *testing.T) {
		m := newMatrix(t, cfg)
		told := make(chan keyring.DEP, 1)
		m.ring.OnRevoke(func(d keyring.DEP) { told <- d })
		_, err := m.ring.DEPKey(ctx, m.mailbox, user)
		must(t, err)
		m.revoke(0)
		m.revoke(1)
		_, err = m.ring.DEPKey(ctx, m.mailbox, user) // before the window: cached, revocation not yet seen
		must(t, err)
		m.env.Clock.Advance(8*time.Hour + time.Minute)
		_, err = m.ring.DEPKey(ctx, m.mailbox, user) // triggers the refresh
		must(t, err)
		m.waitFor("the refused refresh", func() bool { return m.counter("customerkey_keyring_refresh_failures_total", "") == 1 })
		// The service hears of it, to store it (a restart forgot it).
		select {
		case d := <-told:
			if d.ID != m.mailbox.ID {
				t.Fatalf("told of %s, want %s", d.ID, m.mailbox.ID)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the revocation a refresh saw was told to no one")
		}
		_, err = m.ring.DEPKey(ctx, m.mailbox, user)
		m.wantRefusal(err, true, "access removed")
	})

	t.Run("eviction takes effect at once", func(t *testing.T) {
		m := newMatrix(t, cfg)
		_, err := m.ring.DEPKey(ctx, m.mailbox, user)
		must(t, err)
		m.revoke(0)
		m.revoke(1)
		_, err = m.ring.DEPKey(ctx, m.mailbox, user)
		must(t, err) // without a signal, revocation waits for the cache (K6)
		m.ring.Evict(m.mailbox.ID)
		_, err = m.ring.DEPKey(ctx, m.mailbox, user)
		m.wantRefusal(err, true, "access removed")
		m.wantAudit("evict", "revocation signal")
	})
}

func (m *matrix) waitFor(what string, cond func() bool) {
	m.t.Helper()
	for range 200 {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	m.t.Fatalf("timed out waiting for %s", what)
}

// TestRevocationProbe (S3): cached DEPs are asked of one customer key per
// probe; both refusing revokes the DEP and drops its key, an outage does
// not.
func TestRevocationProbe(t *testing.T) {
	ctx := context.Background()
	m := newMatrix(t, keyring.Config{})
	m.wantKey(m.get(m.mailbox, user))
	_, err := m.ring.DEPKey(ctx, m.site, user)
	must(t, err)
	calls, revoked := m.ring.ProbeCached(ctx)
	if calls != 2 || len(revoked) != 0 {
		t.Fatalf("keys answering: %d calls, revoked %v; want one call per DEP, none revoked", calls, revoked)
	}
	// One vault down: not a revocation, the key stays.
	m.fault("eastus", "outage", 0)
	if _, revoked := m.ring.ProbeCached(ctx); len(revoked) != 0 {
		t.Fatalf("an outage revoked %v", revoked)
	}
	if _, ok := m.ring.Cached(m.mailbox.ID); !ok {
		t.Fatal("an outage dropped the cached key")
	}
	must(t, m.env.Fault("eastus", "off", 0, 0))
	// One key's access removed: the other still unwraps.
	m.revoke(0)
	if _, revoked := m.ring.ProbeCached(ctx); len(revoked) != 0 {
		t.Fatalf("one refused key revoked %v", revoked)
	}
	m.revoke(1)
	calls, revoked = m.ring.ProbeCached(ctx)
	if calls != 4 || len(revoked) != 2 {
		t.Fatalf("both keys refused: %d calls, revoked %d DEPs; want 4 calls, 2 revoked", calls, len(revoked))
	}
	for _, d := range []keyring.DEP{m.mailbox, m.site} {
		if _, ok := m.ring.Cached(d.ID); ok {
			t.Fatalf("DEP %s: the key is still cached after the probe saw the revocation", d.ID)
		}
		if r, _ := m.ring.Revocation(d.ID); !r.Revoked {
			t.Fatalf("DEP %s not revoked: %+v", d.ID, r)
		}
	}
	if calls, _ := m.ring.ProbeCached(ctx); calls != 0 {
		t.Fatalf("%d calls for DEPs no longer cached", calls)
	}
	if m.counter("customerkey_keyring_revocation_probes_total", "denied by customer") != 6 {
		t.Fatalf("probe metric: %v denied", m.counter("customerkey_keyring_revocation_probes_total", "denied by customer"))
	}
}

// TestRevocationRacingAnUnwrap (T1): a revocation signal that arrives
// while an unwrap is in flight stands, even if that unwrap succeeds (its
// customer key may have answered just before the tenant removed access).
func TestRevocationRacingAnUnwrap(t *testing.T) {
	m := newMatrix(t, keyring.Config{})
	m.fault("eastus", "slow", 400*time.Millisecond) // key 1 is asked first, and answers late
	done := make(chan error, 1)
	go func() {
		_, err := m.ring.DEPKey(context.Background(), m.mailbox, user)
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	m.ring.Revoke(m.mailbox, "revocation signal from admin@contoso.com")
	must(t, <-done) // the flight began before the signal, and succeeds
	if r, _ := m.ring.Revocation(m.mailbox.ID); !r.Revoked {
		t.Fatal("an unwrap that began before the revocation signal cleared it")
	}
	if _, ok := m.ring.Cached(m.mailbox.ID); ok {
		t.Fatal("an unwrap that began before the revocation signal cached the key")
	}
	// A customer key asked after the signal does clear it.
	must(t, m.env.Fault("eastus", "off", 0, 0))
	m.wantKey(m.get(m.mailbox, user))
	if r, _ := m.ring.Revocation(m.mailbox.ID); r.Revoked {
		t.Fatal("a customer key that unwrapped after the signal did not clear it")
	}
}
