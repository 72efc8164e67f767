package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/logtest"
	"github.com/customerkey/customerkey/vaultclient"
)

// serveCk runs a long-lived ck command in this process until the test ends.
func serveCk(t *testing.T, args ...string) *logtest.Buffer {
	t.Helper()
	out := &logtest.Buffer{}
	a := &app{stdout: out, stderr: out}
	root := a.rootCmd()
	root.SetArgs(args)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ck %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	})
	return out
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// eventually retries f for up to 20 s.
func eventually(t *testing.T, what string, out fmt.Stringer, f func() error) {
	t.Helper()
	var err error
	for range 200 {
		if err = f(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: %v\noutput:\n%s", what, err, out)
}

// ck vault server and ck server from one configuration file: secrets from
// ${ENV}, flags overriding the file, the service reaching the vault
// through the connection file the vault server wrote.
func TestServersFromConfigFile(t *testing.T) {
	dir := t.TempDir()
	token := "cksvc_" + strings.Repeat("c0ffee", 7)
	t.Setenv("TEST_CK_OPERATOR_TOKEN", token)
	t.Setenv("TEST_CK_SIGNING_KEY", strings.Repeat("17", 32))
	svcPort := freePort(t)
	config := fmt.Sprintf(`version: v1
dataDir: %[1]s/service
logging: {level: warn}
service:
  listen: 127.0.0.1:1            # --listen overrides it
vaults:
  connectionFile: %[1]s/vault/workload.json
signer: {key: "${TEST_CK_SIGNING_KEY}"}
operator: {token: "${TEST_CK_OPERATOR_TOKEN}"}
purge: {approvals: 2}
vaultServer:
  regions: [{name: westus, listen: "127.0.0.1:0"}]
  featureDelay: 100ms
`, dir)
	file := filepath.Join(dir, "ck.yaml")
	if err := os.WriteFile(file, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}

	// The vault server: dataDir is overridden by --data.
	vout := serveCk(t, "vault", "server", "--config", file, "--data", filepath.Join(dir, "vault"))
	var cc *vaultclient.Config
	eventually(t, "ck vault server writes vault.json", vout, func() (err error) {
		cc, err = vaultclient.LoadConfig(filepath.Join(dir, "vault", "vault.json"))
		return err
	})
	if len(cc.Regions) != 1 || cc.Regions[0].Name != "westus" || cc.ServiceURL != "" {
		t.Fatalf("vault.json = %+v, want the westus region of the file and no service", cc)
	}
	// The service's connection: the workload token, no admin token.
	wc, err := vaultclient.LoadConfig(filepath.Join(dir, "vault", "workload.json"))
	if err != nil || wc.AdminToken != "" || wc.WorkloadToken == "" || wc.ManagementURL != cc.ManagementURL {
		t.Fatalf("workload.json = %+v, %v: want the workload token, no admin token", wc, err)
	}

	// The service.
	sout := serveCk(t, "server", "--config", file, "--listen", fmt.Sprintf("127.0.0.1:%d", svcPort))
	var hc *http.Client
	eventually(t, "ck server starts", sout, func() error {
		pem, err := os.ReadFile(filepath.Join(dir, "service", "ca.pem"))
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		hc = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
		req, _ := http.NewRequest("GET", fmt.Sprintf("https://localhost:%d/v1/me", svcPort), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var me struct{ Role string }
		json.NewDecoder(resp.Body).Decode(&me)
		if resp.StatusCode != 200 || me.Role != "operator" {
			return fmt.Errorf("GET /v1/me with the configured operator token: %d %+v", resp.StatusCode, me)
		}
		return nil
	})
	if !strings.Contains(sout.String(), "operator token from the configuration") {
		t.Errorf("ck server output %q does not say where the operator token comes from", sout)
	}
	if _, err := os.Stat(filepath.Join(dir, "service", "service-operator.token")); err == nil {
		t.Error("ck server minted a token file although the configuration gives the token")
	}
}
