package kms_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/kms"
	"github.com/customerkey/customerkey/internal/logtest"
	"github.com/customerkey/customerkey/internal/vault/vaulttest"
)

func TestDomains(t *testing.T) {
	d, err := kms.ParseDomains([]string{"vault.azure.net", "Localhost:8443", "managedhsm.azure.net."})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		host string
		want bool
	}{
		{"contoso.vault.azure.net", true},
		{"contoso.vault.azure.net:443", true},
		{"CONTOSO.Vault.Azure.Net", true},
		{"contoso.vault.azure.net.", true},
		{"hsm1.managedhsm.azure.net", true},
		{"contoso-eastus.localhost:8443", true},
		{"contoso.vault.azure.net:8443", false}, // another port
		{"contoso-eastus.localhost", false},     // 443, not the region's port
		{"contoso-eastus.localhost:8444", false},
		{"vault.azure.net", false},     // the domain itself is no vault
		{"a.b.vault.azure.net", false}, // one label only
		{"evilvault.azure.net", false}, // not under the domain
		{"contoso.vault.azure.net.evil.example", false},
		{"127.0.0.1:8443", false},
		{"[::1]:8443", false},
		{"localhost:8443", false},
		{"", false},
	} {
		if got := d.Allows(tc.host); got != tc.want {
			t.Errorf("Allows(%q) = %v, want %v", tc.host, got, tc.want)
		}
	}
	for _, bad := range [][]string{nil, {}, {"https://vault.azure.net"}, {"*.vault.azure.net"}, {"127.0.0.1"}, {"localhost:0"}, {"localhost:x"}, {"vault azure"}, {"1.2.3"}} {
		if _, err := kms.ParseDomains(bad); err == nil {
			t.Errorf("ParseDomains(%q): no error", bad)
		}
	}
}

func TestChallengeDirectory(t *testing.T) {
	for _, tc := range []struct{ header, want string }{
		{`Bearer authorization="https://login.windows.net/72F988BF-86f1-41af-91ab-2d7cd011db47", resource="https://vault.azure.net"`, "72f988bf-86f1-41af-91ab-2d7cd011db47"},
		{`Bearer authorization="https://localhost:8443/7c8d9e0f-1a2b-4c3d-8e9f-0a1b2c3d4e5f", resource="https://localhost:8443"`, "7c8d9e0f-1a2b-4c3d-8e9f-0a1b2c3d4e5f"},
		{`Bearer authorization_uri="https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/authorize"`, "contoso.onmicrosoft.com"},
		{`Bearer authorization="https://localhost:8443/common", resource="https://localhost:8443"`, ""},
		{`Bearer authorization="https://login.windows.net/organizations"`, ""},
		{`Bearer resource="https://vault.azure.net"`, ""},
		{`Bearer authorization="http://login.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47"`, ""},
		{`Basic realm="vault"`, ""},
		{``, ""},
	} {
		if got := kms.ChallengeDirectory([]string{tc.header}); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.header, got, tc.want)
		}
	}
}

// The built-in vault names the directory of the vault in its challenge;
// a vault it does not have, none.
func TestDirectory(t *testing.T) {
	env, c, key := setup(t)
	dir, err := c.Directory(context.Background(), key)
	if err != nil || !strings.EqualFold(dir, envTenant(t, env)) {
		t.Fatalf("directory of %s: %q %v, want %s", key, dir, err, envTenant(t, env))
	}
	dir, err = c.Directory(context.Background(), strings.Replace(key, "contoso-eastus", "nosuch", 1))
	if err != nil || dir != "" {
		t.Fatalf("directory of a vault that does not exist: %q %v, want none", dir, err)
	}
}

func envTenant(t *testing.T, env *vaulttest.Env) string {
	t.Helper()
	var ten struct {
		ID string `json:"id"`
	}
	if err := env.Client.Do(context.Background(), "GET", "/tenants/Contoso", nil, &ten); err != nil {
		t.Fatal(err)
	}
	return ten.ID
}

// A key URI outside the domains is refused, for every operation, before a
// connection is made: the loopback listener it names accepts nothing.
func TestHostNotAllowedBeforeDialling(t *testing.T) {
	env, c, _ := setup(t)
	l := vaulttest.Listen(t, vaulttest.PlainTCP, 0)
	region := env.Config.Regions[0].URL[strings.LastIndex(env.Config.Regions[0].URL, ":")+1:]
	ops := map[string]func(ctx context.Context, uri string) error{
		"get":  func(ctx context.Context, uri string) error { _, err := c.Get(ctx, uri); return err },
		"wrap": func(ctx context.Context, uri string) error { _, err := c.Wrap(ctx, uri, make([]byte, 32)); return err },
		"unwrap": func(ctx context.Context, uri string) error {
			_, err := c.Unwrap(ctx, uri+"/"+strings.Repeat("a", 32), make([]byte, 256))
			return err
		},
		"directory": func(ctx context.Context, uri string) error { _, err := c.Directory(ctx, uri); return err },
	}
	for _, host := range []string{
		fmt.Sprintf("127.0.0.1:%d", l.Port),
		fmt.Sprintf("localhost:%d", l.Port),
		fmt.Sprintf("contoso-eastus.localhost:%d", l.Port),
		"a.contoso-eastus.localhost:" + region,
		"contoso-eastus.localhost",
	} {
		for name, op := range ops {
			err := op(context.Background(), "https://"+host+"/keys/key")
			if kms.ReasonOf(err) != kms.HostNotAllowed || kms.ClassOf(err) != kms.Invalid {
				t.Errorf("%s on %s: got %v, want %v", name, host, err, kms.HostNotAllowed)
			}
		}
	}
	if n := l.Accepts(); n != 0 {
		t.Fatalf("the listener accepted %d connections, want none", n)
	}
}

// Whatever listens (or not) on a port, a failed connection says the same:
// a closed port, a listener that says nothing, one that answers in plain
// text, one with a TLS certificate for another name. The port is the same
// in every case, so the messages must be equal byte for byte.
func TestConnectionFailuresLookAlike(t *testing.T) {
	env := vaulttest.Start(t, vaulttest.Options{})
	seed, err := env.SeedTenant()
	if err != nil {
		t.Fatal(err)
	}
	port := vaulttest.ClosedPort(t)
	var logs logtest.Buffer
	c, err := kms.NewAzure(kms.AzureConfig{Credential: env.Client.Credential(seed.Workload), HTTPClient: env.Client.HTTP(), MaxRetries: -1, TryTimeout: 300 * time.Millisecond,
		Domains: []string{fmt.Sprintf("localhost:%d", port)}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	uri := fmt.Sprintf("https://contoso-eastus.localhost:%d/keys/key", port)
	var msgs []string
	for _, tc := range []struct {
		name   string
		listen func() *vaulttest.Listener
		log    string // what the service log says, and the error does not
	}{
		{"closed port", func() *vaulttest.Listener { return nil }, "connection refused"},
		{"silent listener", func() *vaulttest.Listener { return vaulttest.Listen(t, vaulttest.Silent, port) }, "reason=\"vault did not answer in time\""},
		{"plain TCP", func() *vaulttest.Listener { return vaulttest.Listen(t, vaulttest.PlainTCP, port) }, "gave HTTP response to HTTPS client"},
		{"TLS with a certificate for another name", func() *vaulttest.Listener { return vaulttest.Listen(t, vaulttest.WrongTLS, port) }, "certificate"},
	} {
		logs.Reset()
		l := tc.listen()
		var got []string
		for _, op := range []func() error{
			func() error { _, err := c.Get(context.Background(), uri); return err },
			func() error { _, err := c.Directory(context.Background(), uri); return err },
		} {
			err := op()
			if kms.ClassOf(err) != kms.Transient {
				t.Fatalf("%s: got %v, want a transient failure", tc.name, err)
			}
			got = append(got, err.Error())
		}
		if l != nil {
			if l.Accepts() == 0 {
				t.Fatalf("%s: the listener was not reached", tc.name)
			}
			l.Close()
		}
		if log := logs.String(); !strings.Contains(log, tc.log) {
			t.Errorf("%s: the log says %q, want the detail %q", tc.name, log, tc.log)
		}
		msg := strings.Join(got, "\n")
		if !strings.Contains(msg, "the vault at "+fmt.Sprintf("contoso-eastus.localhost:%d", port)+" could not be reached") {
			t.Fatalf("%s: %q", tc.name, msg)
		}
		msgs = append(msgs, msg)
		if msg != msgs[0] {
			t.Errorf("%s says %q, a closed port %q", tc.name, msg, msgs[0])
		}
	}
}
