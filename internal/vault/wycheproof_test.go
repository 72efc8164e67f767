package vault_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/customerkey/customerkey/internal/wycheproof"
)

// TestWycheproofRSAOAEP imports each Wycheproof RSA-OAEP key into the vault
// as a JWK and unwraps every ciphertext through azkeys: valid cases give the
// message back, invalid ones are refused with a 400. Cases with an OAEP
// label are skipped: the keys API has no label.
func TestWycheproofRSAOAEP(t *testing.T) {
	f := newFixture(t, "accessPolicy", false)
	c := f.keys(t, adminUPN)
	for _, tc := range []struct {
		file string
		alg  azkeys.EncryptionAlgorithm
	}{
		{"rsa_oaep_2048_sha256_mgf1sha256_test.json", azkeys.EncryptionAlgorithmRSAOAEP256},
		{"rsa_oaep_3072_sha256_mgf1sha256_test.json", azkeys.EncryptionAlgorithmRSAOAEP256},
		{"rsa_oaep_4096_sha256_mgf1sha256_test.json", azkeys.EncryptionAlgorithmRSAOAEP256},
		{"rsa_oaep_2048_sha1_mgf1sha1_test.json", azkeys.EncryptionAlgorithmRSAOAEP},
	} {
		t.Run(tc.file, func(t *testing.T) {
			var suite struct {
				TestGroups []struct {
					PrivateKeyJwk json.RawMessage `json:"privateKeyJwk"`
					Tests         []struct {
						wycheproof.Case
						Msg, CT, Label wycheproof.Hex
					} `json:"tests"`
				} `json:"testGroups"`
			}
			wycheproof.Load(t, tc.file, &suite)
			ran := 0
			for gi, g := range suite.TestGroups {
				var jwk azkeys.JSONWebKey
				if err := json.Unmarshal(g.PrivateKeyJwk, &jwk); err != nil {
					t.Fatalf("group %d: key: %v", gi, err)
				}
				jwk.Kty = to.Ptr(azkeys.KeyTypeRSA)
				name := fmt.Sprintf("wp-%d-%d", len(jwk.N)*8, gi)
				if _, err := c.ImportKey(ctx, name, azkeys.ImportKeyParameters{Key: &jwk}, nil); err != nil {
					t.Fatalf("import %s: %v", name, err)
				}
				for _, v := range g.Tests {
					if len(v.Label) > 0 {
						continue
					}
					ran++
					res, err := c.UnwrapKey(ctx, name, "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(tc.alg), Value: v.CT}, nil)
					switch v.Result {
					case "valid":
						if err != nil || !bytes.Equal(res.Result, v.Msg) {
							t.Errorf("case %d (%s): %v", v.ID, v.Comment, err)
						}
					case "invalid":
						if err == nil {
							t.Errorf("case %d (%s): invalid ciphertext unwrapped", v.ID, v.Comment)
						} else {
							wantErr(t, err, 400, "BadParameter")
						}
					}
				}
			}
			if ran == 0 {
				t.Fatal("no vectors ran")
			}
			t.Logf("%d vectors", ran)
		})
	}
}
