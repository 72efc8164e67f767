package kms_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/customerkey/customerkey/internal/kms"
	"github.com/customerkey/customerkey/internal/vault/vaulttest"
)

// fakeDirectory is an Entra ID authority on loopback whose token endpoint
// refuses every request with the given AADSTS code, as Entra answers when
// a tenant deleted (700016) or disabled (7000112) the application, or when
// the application's own secret is wrong (7000215).
func fakeDirectory(t *testing.T, code string) *httptest.Server {
	var srv *httptest.Server
	srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		tenant := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")[0]
		switch {
		case strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration"):
			json.NewEncoder(w).Encode(map[string]any{
				"token_endpoint":         srv.URL + "/" + tenant + "/oauth2/v2.0/token",
				"authorization_endpoint": srv.URL + "/" + tenant + "/oauth2/v2.0/authorize",
				"issuer":                 srv.URL + "/" + tenant + "/v2.0",
			})
		case strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token"):
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"error":"unauthorized_client","error_description":"AADSTS%s: refused by the test's directory.","error_codes":[%s]}`, code, code)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestAppRemovedInTheDirectory (K3, T1): a tenant that deletes or disables
// the service's application in its directory cuts the service off as
// removing its access policy does: the directory's refusal is the
// customer's doing (Denied), not an outage. It read as a vault that did
// not answer, and users were served with the availability key. The
// service's own credential failing stays what it was (not Denied).
func TestAppRemovedInTheDirectory(t *testing.T) {
	env, c, key := setup(t)
	ctx := context.Background()
	w, err := c.Wrap(ctx, key, make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	// Real Azure: azidentity's client-secret credential, against a
	// directory that refuses the token.
	for _, tc := range []struct {
		code   string
		class  kms.Class
		reason kms.Reason
	}{
		{"700016", kms.Denied, kms.AppRemoved},
		{"7000112", kms.Denied, kms.AppRemoved},
		{"7000215", kms.Transient, kms.Unreachable}, // the service's own secret: not the tenant's doing
	} {
		t.Run("AADSTS"+tc.code, func(t *testing.T) {
			dir := fakeDirectory(t, tc.code)
			cred, err := azidentity.NewClientSecretCredential("contoso.example", "c066d759-24ae-40e7-a56f-027002b5d3e4", "secret",
				&azidentity.ClientSecretCredentialOptions{ClientOptions: azcore.ClientOptions{Cloud: cloudAt(dir.URL), Transport: dir.Client()}, DisableInstanceDiscovery: true, AdditionallyAllowedTenants: []string{"*"}})
			if err != nil {
				t.Fatal(err)
			}
			kc, err := kms.NewAzure(kms.AzureConfig{Credential: cred, HTTPClient: env.Client.HTTP(), Domains: env.Client.VaultDomains(), MaxRetries: -1, TryTimeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			_, err = kc.Unwrap(ctx, w.KeyURI, w.Data)
			if got := kms.ReasonOf(err); got != tc.reason || got.Class() != tc.class {
				t.Fatalf("got reason %v (class %v), want %v (class %v): %v", got, got.Class(), tc.reason, tc.class, err)
			}
			if tc.class == kms.Denied && !strings.Contains(err.Error(), "AADSTS"+tc.code) {
				t.Fatalf("the error does not name the directory's code: %v", err)
			}
		})
	}

	// The built-in vault: the tenant deletes the application from its
	// directory. A token given before lasts until it expires, as in
	// Entra; a client without one is refused.
	t.Run("built-in vault", func(t *testing.T) {
		principal := "/tenants/Contoso/principals/" + vaulttest.ExchangeApp
		if err := env.Client.Do(ctx, "DELETE", principal, nil, nil); err != nil {
			t.Fatal(err)
		}
		fresh := func() *kms.Azure {
			kc, err := kms.NewAzure(kms.AzureConfig{Credential: env.Client.Credential(vaulttest.ExchangeApp), HTTPClient: env.Client.HTTP(), Domains: env.Client.VaultDomains(), MaxRetries: -1, TryTimeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			return kc
		}
		_, err := fresh().Unwrap(ctx, w.KeyURI, w.Data)
		wantClass(t, err, kms.Denied, "no token")
		if got := kms.ReasonOf(err); got != kms.AppRemoved {
			t.Fatalf("got reason %v, want %v: %v", got, kms.AppRemoved, err)
		}
		if err := env.Client.Do(ctx, "POST", "/tenants/Contoso/principals", map[string]string{"name": vaulttest.ExchangeApp}, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := fresh().Unwrap(ctx, w.KeyURI, w.Data); err != nil {
			t.Fatalf("the application created again: %v", err)
		}
	})
}

// cloudAt is a cloud whose Entra ID authority is at url.
func cloudAt(url string) cloud.Configuration {
	return cloud.Configuration{ActiveDirectoryAuthorityHost: url + "/", Services: map[cloud.ServiceName]cloud.ServiceConfiguration{}}
}
