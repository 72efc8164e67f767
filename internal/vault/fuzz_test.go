package vault

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/store/sqlstore"
)

func FuzzDecodeB64(f *testing.F) {
	for _, s := range []string{"", "AQAB", "AQAB==", "a+b/c=", "-_", "!!", "===="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := decodeB64(s)
		if err != nil {
			return
		}
		// Whatever decodes must round-trip through our canonical encoding.
		out, _ := json.Marshal(b64(b))
		var back b64
		if err := json.Unmarshal(out, &back); err != nil || !bytes.Equal(back, b) {
			t.Fatalf("round trip of %q: %v", s, err)
		}
	})
}

func FuzzParseBackup(f *testing.F) {
	mk := testMasterKey(f)
	good := append(append([]byte{}, backupMagic...), 0, 3, 's', 'u', 'b')
	good = append(good, seal(mk.backup, []byte(`{"name":"k","versions":[]}`), backupAAD("sub"))...)
	f.Add(good)
	f.Add([]byte("CKVaultKeyBackupV1"))
	f.Add([]byte("CKVaultKeyBackupV1\xff\xff"))
	f.Fuzz(func(t *testing.T, blob []byte) {
		sub, sealed, err := parseBackup(blob)
		if err != nil {
			return
		}
		if _, err := unseal(mk.backup, sealed, backupAAD(sub)); err == nil && !bytes.Equal(blob, good) {
			t.Fatalf("a blob we did not seal opened: %x", blob)
		}
	})
}

func FuzzPrivateFromJWK(f *testing.F) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		f.Fatal(err)
	}
	jwk, _ := json.Marshal(jsonWebKey{Kty: "RSA", N: k.N.Bytes(), E: []byte{1, 0, 1}, D: k.D.Bytes(), P: k.Primes[0].Bytes(), Q: k.Primes[1].Bytes()})
	f.Add(jwk)
	f.Add([]byte(`{"kty":"RSA","n":"AQAB","e":"AQAB","d":"AQAB","p":"Aw","q":"BQ"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var j jsonWebKey
		if json.Unmarshal(data, &j) != nil {
			return
		}
		priv, err := privateFromJWK(&j)
		if err != nil {
			var ae *apiError
			if !errorsAs(err, &ae) || ae.Status != 400 {
				t.Fatalf("want a 400, got %v", err)
			}
			return
		}
		if priv.Validate() != nil {
			t.Fatal("accepted an invalid key")
		}
	})
}

// FuzzKeysAPI sends arbitrary requests, authenticated as a principal with
// every permission, to the keys API: whatever comes in, the answer is never
// a 500 and always has Azure's error shape.
func FuzzKeysAPI(f *testing.F) {
	s, tok := fuzzServer(f)
	h := s.handler(s.regions[0])
	for _, seed := range []struct{ method, path, body string }{
		{"POST", "/keys/k1/create", `{"kty":"RSA"}`},
		{"GET", "/keys/k1/", ``},
		{"GET", "/keys", ``},
		{"POST", "/keys/k1/wrapkey", `{"alg":"RSA-OAEP-256","value":"AQAB"}`},
		{"POST", "/keys/k1/unwrapkey", `{"alg":"RSA-OAEP","value":"AQAB"}`},
		{"PATCH", "/keys/k1/", `{"attributes":{"exp":null,"enabled":false}}`},
		{"POST", "/keys/restore", `{"value":"Q0tWYXVsdEtleUJhY2t1cFYx"}`},
		{"PUT", "/keys/k2", `{"key":{"kty":"RSA","n":"AQAB"}}`},
		{"DELETE", "/deletedkeys/k1", ``},
		{"GET", "/keys/k1/versions", ``},
	} {
		f.Add(seed.method, seed.path, seed.body)
	}
	f.Fuzz(func(t *testing.T, method, path, body string) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " ?#%\x00\r\n") || !validMethod(method) {
			return
		}
		if strings.Contains(path, "/create") || strings.Contains(path, "/rotate") {
			return // key generation is slow and not what this fuzzes
		}
		target := "https://fuzzvault.localhost" + path + "?api-version=2025-07-01"
		if _, err := url.ParseRequestURI(target); err != nil {
			return // not something a client can send
		}
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", method, path, body, rec.Code, rec.Body)
		}
		if rec.Code >= 400 {
			var e errorBody
			if json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Error.Code == "" || e.Error.Message == "" {
				t.Fatalf("%s %s: error not in Azure's shape: %s", method, path, rec.Body)
			}
		}
	})
}

func validMethod(m string) bool {
	switch m {
	case "GET", "POST", "PUT", "PATCH", "DELETE":
		return true
	}
	return false
}

func testMasterKey(t testing.TB) *masterKey {
	mk, err := loadMasterKey(filepath.Join(t.TempDir(), "mk"), true)
	if err != nil {
		t.Fatal(err)
	}
	return mk
}

// fuzzServer is a vault (not listening) with one tenant, one vault
// "fuzzvault" holding key k1, and a token for a principal with every
// permission.
func fuzzServer(t testing.TB) (*Server, string) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "ck.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s, err := New(Config{DataDir: dir, Store: st, Regions: []RegionConfig{{Name: "eastus", Addr: "127.0.0.1:0"}}})
	if err != nil {
		t.Fatal(err)
	}
	s.closeListeners()
	t.Cleanup(s.ops.close)
	now := time.Now()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.CreateTenant(ctx, store.Tenant{ID: "t1", Name: "T", Created: now}))
	must(st.CreateSubscription(ctx, store.Subscription{ID: "s1", TenantID: "t1", Name: "S", Kind: "paid", Owner: "u@t.com", State: store.SubscriptionActive, Created: now}))
	must(st.CreateVault(ctx, store.Vault{Name: "fuzzvault", SubscriptionID: "s1", TenantID: "t1", Region: "eastus", SKU: "premium", RetentionDays: 7, PermissionModel: store.ModelAccessPolicy, Created: now}))
	must(st.PutAccessPolicy(ctx, store.AccessPolicy{Vault: "fuzzvault", Principal: "u@t.com", Permissions: []string{"all"}, Updated: now}))
	tok, _, err := s.iss.issue("iss", "t1", "u@t.com", store.PrincipalUser, s.regions[0].URL, time.Hour)
	must(err)
	// One key to operate on.
	req := httptest.NewRequest("POST", "https://fuzzvault.localhost/keys/k1/create?api-version=2025-07-01", strings.NewReader(`{"kty":"RSA"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	s.handler(s.regions[0]).ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("create k1: %d %s", rec.Code, rec.Body)
	}
	return s, tok
}
