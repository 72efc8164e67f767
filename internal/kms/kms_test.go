package kms_test

import (
	"bytes"
	"context"
	"errors"
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
	c, err := kms.NewAzure(kms.AzureConfig{Credential: env.Client.Credential(seed.Workload), HTTPClient: env.Client.HTTP(), MaxRetries: -1, TryTimeout: 5 * time.Second})
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
	wantClass(t, err, kms.Transient, "vault unreachable") // an open connection drops (EOF), a new one is refused
	_, err = c.Unwrap(ctx, w.KeyURI, w.Data)
	wantClass(t, err, kms.Transient, "connection refused")
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
	wantClass(t, err, kms.Transient, "in time")
	fault(t, env, "eastus", "off", 0)

	_, err = c.Get(ctx, "https://nosuch-vault.invalid/keys/key")
	wantClass(t, err, kms.Transient, "")
}

func TestCustomerActions(t *testing.T) {
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

	// Key disabled, then enabled again.
	setEnabled(t, admin, false)
	_, err = c.Unwrap(ctx, w.KeyURI, w.Data)
	wantClass(t, err, kms.Denied, "key disabled")
	setEnabled(t, admin, true)

	// Expired: new wraps are refused; unwrap keeps working (the vault's rule).
	setExpiry(t, admin, time.Now().Add(-time.Hour))
	_, err = c.Wrap(ctx, key, make([]byte, 32))
	wantClass(t, err, kms.Denied, "key expired")
	if _, err := c.Unwrap(ctx, w.KeyURI, w.Data); err != nil {
		t.Fatalf("unwrap with an expired key: %v", err)
	}
	setExpiry(t, admin, time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC))

	// Deleted, then recovered.
	if _, err := admin.DeleteKey(ctx, "key", nil); err != nil {
		t.Fatal(err)
	}
	_, err = c.Unwrap(ctx, w.KeyURI, w.Data)
	wantClass(t, err, kms.Denied, "deleted or not found")
	if _, err := admin.RecoverDeletedKey(ctx, "key", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Unwrap(ctx, w.KeyURI, w.Data); err != nil {
		t.Fatalf("after recovery: %v", err)
	}

	// Access removed.
	if err := env.Client.Do(ctx, "DELETE", "/vaults/contoso-eastus/accessPolicies/"+vaulttest.ExchangeApp, nil, nil); err != nil {
		t.Fatal(err)
	}
	_, err = c.Unwrap(ctx, w.KeyURI, w.Data)
	wantClass(t, err, kms.Denied, "access removed (ForbiddenByPolicy)")
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

// TestForAzure: the Azure constructor builds without network; with no Azure
// credential on this machine, a call fails as an unreachable (transient)
// vault or a credential error, never a panic. Real Azure cannot run here.
func TestForAzure(t *testing.T) {
	t.Setenv("AZURE_CLIENT_ID", "")
	t.Setenv("AZURE_TENANT_ID", "")
	c, err := kms.ForAzure("")
	if err != nil {
		t.Skipf("no Azure credential chain on this machine: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = c.Get(ctx, "https://contoso-nosuch.vault.azure.net/keys/key1")
	if err == nil {
		t.Fatal("a key was got from Azure without credentials")
	}
	if kms.ClassOf(err) != kms.Transient {
		t.Fatalf("got %v, want a transient failure (no network, no credential)", err)
	}
}
