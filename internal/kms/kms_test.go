package kms_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/kms"
	"github.com/customerkey/customerkey/internal/vault/vaulttest"
)

// setup: the seed tenant's two vaults; a kms client acting as the Exchange
// workload; the URI of its key in eastus.
func setup(t *testing.T) (*vaulttest.Env, *kms.Azure, string) {
	env := vaulttest.Start(t, vaulttest.Options{})
	seed, err := env.SeedTenant()
	if err != nil {
		t.Fatal(err)
	}
	c, err := kms.NewAzure(kms.AzureConfig{Credential: env.Client.Credential(seed.Workload), HTTPClient: env.Client.HTTP(), Domains: env.Client.VaultDomains(), MaxRetries: -1, TryTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return env, c, seed.KeyURIs[0]
}

func wantClass(t *testing.T, err error, class kms.Class, cause string) {
	t.Helper()
	var e *kms.Error
	if !errors.As(err, &e) || e.Class != class || !strings.Contains(e.Cause, cause) {
		t.Fatalf("got %v, want class %q with cause containing %q", err, class, cause)
	}
	if !strings.Contains(e.Error(), class.String()) || !strings.Contains(e.Error(), e.KeyURI) {
		t.Fatalf("message %q does not show the class and the key", e.Error())
	}
}

func fault(t *testing.T, env *vaulttest.Env, region, mode string, delay time.Duration) {
	t.Helper()
	if err := env.Fault(region, mode, delay, 0); err != nil {
		t.Fatal(err)
	}
}

func TestRoundTrip(t *testing.T) {
	_, c, key := setup(t)
	ctx := context.Background()
	info, err := c.Get(ctx, key)
	if err != nil || !info.Enabled || info.Bits != 2048 || !strings.HasPrefix(info.URI, key+"/") {
		t.Fatalf("get: %+v %v", info, err)
	}
	dek := bytes.Repeat([]byte{7}, 32)
	w, err := c.Wrap(ctx, key, dek)
	if err != nil || w.KeyURI != info.URI || len(w.Data) != 256 {
		t.Fatalf("wrap: %+v %v", w, err)
	}
	got, err := c.Unwrap(ctx, w.KeyURI, w.Data)
	if err != nil || !bytes.Equal(got, dek) {
		t.Fatalf("unwrap: %v", err)
	}
	_, err = c.Unwrap(ctx, key, w.Data)
	wantClass(t, err, kms.Invalid, "versioned key URI")
}

func TestTransientFailures(t *testing.T) {
	env, c, key := setup(t)
	ctx := context.Background()
	w, err := c.Wrap(ctx, key, make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	fault(t, env, "eastus", "outage", 0)
	_, err = c.Unwrap(ctx, w.KeyURI, w.Data)
	wantClass(t, err, kms.Transient, "could not be reached") // an open connection drops (EOF), a new one is refused
	_, err = c.Unwrap(ctx, w.KeyURI, w.Data)
	wantClass(t, err, kms.Transient, "could not be reached")
	fault(t, env, "eastus", "off", 0) // through westus: eastus is down
	if _, err := c.Unwrap(ctx, w.KeyURI, w.Data); err != nil {
		t.Fatalf("after the outage: %v", err)
	}

	fault(t, env, "eastus", "throttled", 0)
	_, err = c.Unwrap(ctx, w.KeyURI, w.Data)
	wantClass(t, err, kms.Transient, "429")
	fault(t, env, "eastus", "failing", 0)
	_, err = c.Unwrap(ctx, w.KeyURI, w.Data)
	wantClass(t, err, kms.Transient, "503")
	fault(t, env, "eastus", "slow", 2*time.Second)
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	_, err = c.Unwrap(short, w.KeyURI, w.Data)
	wantClass(t, err, kms.Transient, "could not be reached")
	fault(t, env, "eastus", "off", 0)

	_, err = c.Get(ctx, "https://nosuch-vault.invalid/keys/key") // refused before a DNS lookup
	wantClass(t, err, kms.Invalid, "outside the vault domains")
}

// TestReasons: each failure the vault can give, caused for real through
// the built-in vault, classified with its class, reason and cause; after
// each case the condition is undone and an unwrap works again.
func TestReasons(t *testing.T) {
	env, c, key := setup(t)
	ctx := context.Background()
	w, err := c.Wrap(ctx, key, make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	admin, err := env.Client.KeysClient(strings.Split(key, "/keys/")[0], "admin@contoso.com")
	if err != nil {
		t.Fatal(err)
	}
	policy := func(perms ...string) func(t *testing.T) {
		return func(t *testing.T) {
			if err := env.Client.Do(ctx, "PUT", "/vaults/contoso-eastus/accessPolicies/"+vaulttest.ExchangeApp, map[string]any{"permissions": map[string]any{"keys": perms}}, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	faultFn := func(mode string, delay time.Duration) func(t *testing.T) {
		return func(t *testing.T) { fault(t, env, "eastus", mode, delay) }
	}
	nothing := func(*testing.T) {}
	wrap := func(ctx context.Context) error { _, err := c.Wrap(ctx, key, make([]byte, 32)); return err }
	unwrap := func(ctx context.Context) error { _, err := c.Unwrap(ctx, w.KeyURI, w.Data); return err }
	get := func(ctx context.Context) error { _, err := c.Get(ctx, key); return err }
	past, future := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	endOfTime := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	longAgo := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

	cases := []struct {
		name      string
		set, undo func(t *testing.T)
		do        func(ctx context.Context) error
		timeout   time.Duration // for do; 0: none
		class     kms.Class
		reason    kms.Reason
		cause     string
	}{
		{"key disabled", func(t *testing.T) { setEnabled(t, admin, false) }, func(t *testing.T) { setEnabled(t, admin, true) }, unwrap, 0,
			kms.Denied, kms.KeyDisabled, "key disabled"},
		{"key disabled: get", func(t *testing.T) { setEnabled(t, admin, false) }, func(t *testing.T) { setEnabled(t, admin, true) }, get, 0,
			kms.Denied, kms.KeyDisabled, "key disabled"},
		{"key expired: wrap refused", func(t *testing.T) { setExpiry(t, admin, past) }, func(t *testing.T) { setExpiry(t, admin, endOfTime) }, wrap, 0,
			kms.Denied, kms.KeyExpired, "key expired"},
		{"key expired: unwrap goes on (the vault's rule)", func(t *testing.T) { setExpiry(t, admin, past) }, func(t *testing.T) { setExpiry(t, admin, endOfTime) }, unwrap, 0,
			0, 0, ""},
		{"key not yet valid: wrap refused", func(t *testing.T) { setNotBefore(t, admin, future) }, func(t *testing.T) { setNotBefore(t, admin, longAgo) }, wrap, 0,
			kms.Denied, kms.KeyNotYetValid, "key not yet valid"},
		{"key deleted", func(t *testing.T) { deleteKey(t, admin) }, func(t *testing.T) { recoverKey(t, admin) }, unwrap, 0,
			kms.Denied, kms.KeyNotFound, "deleted or not found"},
		{"no such key", nothing, nothing, func(ctx context.Context) error { _, err := c.Get(ctx, key+"-nosuch"); return err }, 0,
			kms.Denied, kms.KeyNotFound, "deleted or not found"},
		{"unwrapKey left out of key_ops", func(t *testing.T) { setOps(t, admin, "wrapKey") }, func(t *testing.T) { setOps(t, admin, "wrapKey", "unwrapKey") }, unwrap, 0,
			kms.Denied, kms.OperationNotAllowed, "key_ops"},
		{"access removed", policy("get"), policy("get", "wrapKey", "unwrapKey"), unwrap, 0,
			kms.Denied, kms.AccessRemoved, "access removed (ForbiddenByPolicy)"},
		{"access removed: get", policy("wrapKey"), policy("get", "wrapKey", "unwrapKey"), get, 0,
			kms.Denied, kms.AccessRemoved, "access removed (ForbiddenByPolicy)"},
		{"corrupt wrapped key", nothing, nothing, func(ctx context.Context) error { _, err := c.Unwrap(ctx, w.KeyURI, make([]byte, 256)); return err }, 0,
			kms.Invalid, kms.BadRequest, "vault refused the request (400 BadParameter)"},
		{"unwrap without the version", nothing, nothing, func(ctx context.Context) error { _, err := c.Unwrap(ctx, key, w.Data); return err }, 0,
			kms.Invalid, kms.BadKeyURI, "versioned key URI"},
		{"not a key URI", nothing, nothing, func(ctx context.Context) error { _, err := c.Get(ctx, "key1"); return err }, 0,
			kms.Invalid, kms.BadKeyURI, "want https://"},
		{"region down", faultFn("outage", 0), faultFn("off", 0), unwrap, 0,
			kms.Transient, kms.Unreachable, "could not be reached"},
		{"throttled", faultFn("throttled", 0), faultFn("off", 0), unwrap, 0,
			kms.Transient, kms.Throttled, "429"},
		{"failing", faultFn("failing", 0), faultFn("off", 0), unwrap, 0,
			kms.Transient, kms.VaultFailing, "503"},
		{"slow", faultFn("slow", 2*time.Second), faultFn("off", 0), unwrap, 200 * time.Millisecond,
			kms.Transient, kms.TimedOut, "could not be reached"},
		{"cancelled by the caller", nothing, nothing, func(ctx context.Context) error {
			ctx, cancel := context.WithCancel(ctx)
			cancel()
			return unwrap(ctx)
		}, 0, kms.Transient, kms.Cancelled, "cancelled"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.set(t)
			cctx, cancel := ctx, context.CancelFunc(func() {})
			if tc.timeout > 0 {
				cctx, cancel = context.WithTimeout(ctx, tc.timeout)
			}
			err := tc.do(cctx)
			cancel()
			tc.undo(t)
			if tc.reason == 0 {
				if err != nil {
					t.Fatalf("got %v, want success", err)
				}
			} else {
				wantClass(t, err, tc.class, tc.cause)
				if got := kms.ReasonOf(err); got != tc.reason || got.Class() != tc.class {
					t.Fatalf("got reason %v (class %v), want %v (class %v): %v", got, got.Class(), tc.reason, tc.class, err)
				}
				if !errors.Is(fmt.Errorf("wrapped: %w", err), tc.reason) {
					t.Fatalf("errors.Is(err, %v) is false for %v", tc.reason, err)
				}
				for _, other := range []kms.Reason{kms.AccessRemoved, kms.KeyDisabled, kms.Unreachable, kms.BadRequest} {
					if other != tc.reason && errors.Is(err, other) {
						t.Fatalf("errors.Is(err, %v) is true for %v", other, err)
					}
				}
			}
			if _, err := c.Unwrap(ctx, w.KeyURI, w.Data); err != nil {
				t.Fatalf("after undoing %q: %v", tc.name, err)
			}
		})
	}
}

// TestReasonNames: every reason has a name and a class; unknown ones say so.
func TestReasonNames(t *testing.T) {
	for r := kms.AccessRemoved; r <= kms.BadRequest; r++ {
		if r.String() == "unknown" || r.Class() == 0 {
			t.Errorf("reason %d: name %q, class %v", r, r.String(), r.Class())
		}
	}
	if kms.Reason(0).String() != "unknown" || kms.Reason(0).Class() != 0 || kms.ReasonOf(errors.New("other")) != 0 {
		t.Error("the zero reason must be unknown, of no class, and the reason of non-kms errors")
	}
}

func TestParseKeyURI(t *testing.T) {
	for _, tc := range []struct {
		in, vault, name, version string
		ok                       bool
	}{
		{"https://ContosoEKV01.vault.azure.net/keys/key1/78DEEBED173B48E48F55ABF87ED4CF71", "https://contosoekv01.vault.azure.net", "key1", "78deebed173b48e48f55abf87ed4cf71", true},
		{"https://v.localhost:8443/keys/key-1", "https://v.localhost:8443", "key-1", "", true},
		{"https://v.localhost:8443/keys/key-1/", "https://v.localhost:8443", "key-1", "", true},
		{"http://v.localhost/keys/k", "", "", "", false},
		{"https://v.localhost/secrets/k", "", "", "", false},
		{"https://v.localhost/keys/k/notahexversion", "", "", "", false},
		{"https://v.localhost/keys/k_1", "", "", "", false},
		{"https://v.localhost/keys/k?x=1", "", "", "", false},
		{"key1", "", "", "", false},
	} {
		v, n, ver, err := kms.ParseKeyURI(tc.in)
		if (err == nil) != tc.ok || v != tc.vault || n != tc.name || ver != tc.version {
			t.Errorf("ParseKeyURI(%q) = %q %q %q %v", tc.in, v, n, ver, err)
		}
	}
}

// TestForAzure: the Azure constructor builds without network and reaches
// Azure's vault domains only (SPEC T4); nothing here dials Azure (tests
// dial loopback only), so every key URI below is refused before a
// connection. Real Azure cannot run here.
func TestForAzure(t *testing.T) {
	t.Setenv("AZURE_CLIENT_ID", "")
	t.Setenv("AZURE_TENANT_ID", "")
	c, err := kms.ForAzure("", nil, nil)
	if err != nil {
		t.Skipf("no Azure credential chain on this machine: %v", err)
	}
	if got := c.Domains().String(); got != "vault.azure.net, managedhsm.azure.net" {
		t.Fatalf("default domains: %q", got)
	}
	for _, host := range []string{"contoso.vault.azure.net", "contoso-hsm.managedhsm.azure.net"} {
		if !c.Domains().Allows(host) {
			t.Errorf("%s refused", host)
		}
	}
	ctx := context.Background()
	for _, uri := range []string{"https://contoso.vault.azure.net:8443/keys/key1", "https://vault.azure.net/keys/key1", "https://a.b.vault.azure.net/keys/key1", "https://localhost/keys/key1"} {
		_, err := c.Get(ctx, uri)
		if kms.ReasonOf(err) != kms.HostNotAllowed {
			t.Errorf("%s: got %v, want %v", uri, err, kms.HostNotAllowed)
		}
	}
}
