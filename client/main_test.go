package client_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/audit"
	"github.com/customerkey/customerkey/internal/dep"
	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/keystore"
	"github.com/customerkey/customerkey/internal/kms"
	"github.com/customerkey/customerkey/internal/onboarding"
	"github.com/customerkey/customerkey/internal/service"
	"github.com/customerkey/customerkey/internal/tenant"
	"github.com/customerkey/customerkey/internal/vault/vaulttest"
)

// What the examples connect to: TestMain runs the built-in vault (two
// regions) and the Customer Key service over it, as `ck dev` does, and
// prepares the seed's tenant Contoso on both sides:
//
//   - in the vault: Contoso's directory, two subscriptions, one premium
//     vault in each region with one RSA-HSM key, the Exchange Online
//     workload allowed get, wrapKey and unwrapKey;
//   - in the service: the tenant Contoso (same directory ID) with plan E5,
//     onboarded for EXO through New-CustomerKeyOnboardingRequest (Prepare,
//     then Enable, with officer cso@contoso.com), and a token of its
//     global admin, admin@contoso.com.
var (
	serviceURL    string    // https://localhost:PORT
	caFile        string    // the local CA that signed the service's certificate
	operatorToken string    // the operator's token (ck dev writes it to dev.json)
	adminToken    string    // Contoso's global admin's token
	keyURIs       [2]string // Contoso's two customer keys, in two vaults
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "client-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	stop, err := startService(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "start the service:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	stop()
	os.RemoveAll(dir)
	os.Exit(code)
}

// startService runs the vault and the service in this process and
// prepares Contoso; it returns a function that stops both.
func startService(dir string) (func(), error) {
	ctx := context.Background()
	v, stopVault, err := vaulttest.StartE(vaulttest.Options{Dir: filepath.Join(dir, "vault")}, nil)
	if err != nil {
		return nil, err
	}
	seed, err := v.SeedTenant()
	if err != nil {
		stopVault()
		return nil, err
	}
	master, err := keystore.OpenFile(filepath.Join(dir, "service-keystore.json"))
	if err != nil {
		stopVault()
		return nil, err
	}
	kc, err := kms.Local(v.WorkloadClient, client.ExchangeApp)
	if err != nil {
		stopVault()
		return nil, err
	}
	ring := keyring.New(kc, keyring.NewKeystore(v.Store, master), keyring.Config{Audit: audit.New(v.Store, nil, nil).KeyringEvent(client.ExchangeApp)})
	_, signer, _ := ed25519.GenerateKey(nil)
	svc, err := service.NewAPI(service.Parts{Store: v.Store, Workloads: map[dep.Kind]dep.Workload{dep.Mailbox: {App: client.ExchangeApp, KMS: kc, Ring: ring}},
		Azure: onboarding.VaultDirectory{C: v.WorkloadClient}, Signer: signer, JobLease: time.Second})
	if err != nil {
		stopVault()
		return nil, err
	}
	if operatorToken, err = tenant.EnsureOperatorToken(ctx, v.Store, filepath.Join(dir, tenant.OperatorTokenFile), time.Now()); err != nil {
		stopVault()
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		stopVault()
		return nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { svc.Serve(sctx, ln, v.Server.TLSConfig()); close(done) }()
	stop := func() { cancel(); <-done; stopVault() }
	serviceURL = fmt.Sprintf("https://localhost:%d", ln.Addr().(*net.TCPAddr).Port)
	caFile = v.Config.CAFile
	keyURIs = seed.KeyURIs
	if err := prepareContoso(ctx, seed); err != nil {
		stop()
		return nil, err
	}
	return stop, nil
}

// prepareContoso sets up the service side of the seed tenant with the
// client, as an operator and a tenant admin would.
func prepareContoso(ctx context.Context, seed vaulttest.Seed) error {
	op, err := client.New(client.Config{URL: serviceURL, Token: operatorToken, CAFile: caFile})
	if err != nil {
		return err
	}
	if _, err := op.CreateTenant(ctx, client.CreateTenantRequest{Name: "Contoso", ID: seed.Tenant}); err != nil {
		return err
	}
	if _, err := op.SetPlans(ctx, "Contoso", []string{"E5"}); err != nil {
		return err
	}
	tok, err := op.CreateToken(ctx, "Contoso", client.CreateTokenRequest{Subject: "admin@contoso.com", Role: client.RoleGlobalAdmin})
	if err != nil {
		return err
	}
	adminToken = tok.Token
	admin := op.WithToken(adminToken)
	req := client.OnboardingRequest{Scenario: client.ScenarioEXO, Mode: client.ModePrepare, Officers: []string{"cso@contoso.com"}}
	for i := range 2 {
		req.Subscriptions[i], req.Vaults[i], req.Keys[i] = seed.Vaults[i].SubscriptionID, seed.Vaults[i].Name, "key"
	}
	if _, err := admin.NewOnboardingRequest(ctx, "Contoso", req); err != nil {
		return err
	}
	// Prepare registers the mandatory retention period; Enable once it is.
	req.Mode = client.ModeEnable
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		r, err := admin.NewOnboardingRequest(ctx, "Contoso", req)
		if err != nil {
			return err
		}
		if r.EnablementResult == "Success" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("Contoso was not onboarded: %+v", r.ValidationResult)
		}
	}
}
