package vault_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
)

// BenchmarkVault measures wrap and unwrap through azkeys over HTTPS next
// to raw crypto/rsa; `go run ./bench -scenario vault` reports the ratios.
func BenchmarkVault(b *testing.B) {
	f := newFixture(b, "accessPolicy", false)
	f.setPolicy(b, exoApp, "get", "wrapKey", "unwrapKey")
	k := sharedKey(b)
	_, err := f.keys(b, adminUPN).ImportKey(ctx, "bench", azkeys.ImportKeyParameters{Key: jwkOf(k)}, nil)
	must(b, err)
	c := f.keys(b, exoApp)
	dek := make([]byte, 32)
	rand.Read(dek)
	wrapped, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, &k.PublicKey, dek, nil)
	must(b, err)
	alg := to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256)
	b.Run("raw-decrypt", func(b *testing.B) {
		for b.Loop() {
			if _, err := rsa.DecryptOAEP(sha256.New(), nil, k, wrapped, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("azkeys-unwrap", func(b *testing.B) {
		for b.Loop() {
			if _, err := c.UnwrapKey(ctx, "bench", "", azkeys.KeyOperationParameters{Algorithm: alg, Value: wrapped}, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The official client against a bare HTTPS server answering the same
	// bytes: the cost of azkeys, TLS and HTTP alone.
	bare := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"kid":"https://bare.localhost/keys/bench/0123456789abcdef0123456789abcdef","value":"` + base64.RawURLEncoding.EncodeToString(wrapped) + `"}`))
	}))
	bare.EnableHTTP2 = false
	bare.StartTLS()
	defer bare.Close()
	bareClient, err := azkeys.NewClient(bare.URL, nil, &azkeys.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: bare.Client()}})
	must(b, err)
	b.Run("azkeys-bare-server", func(b *testing.B) {
		for b.Loop() {
			if _, err := bareClient.WrapKey(ctx, "bench", "", azkeys.KeyOperationParameters{Algorithm: alg, Value: dek}, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("azkeys-wrap", func(b *testing.B) {
		for b.Loop() {
			if _, err := c.WrapKey(ctx, "bench", "", azkeys.KeyOperationParameters{Algorithm: alg, Value: dek}, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}
