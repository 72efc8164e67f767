package service

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

// exampleEnv sets every variable docs/config.example.yaml references.
var exampleEnv = map[string]string{
	"CK_POSTGRES_URL":   "postgres://ck:pw@db.example.internal/ck",
	"CK_KEYSTORE_PIN":   "1234",
	"CK_SIGNING_KEY":    strings.Repeat("cd", 32),
	"CK_OPERATOR_TOKEN": "cksvc_" + strings.Repeat("x", 40),
}

func lookupIn(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestExampleFile(t *testing.T) {
	data, err := os.ReadFile("../../docs/config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(data, lookupIn(exampleEnv))
	if err != nil {
		t.Fatalf("docs/config.example.yaml: %v", err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("docs/config.example.yaml does not validate: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"store.postgres", string(c.Store.Postgres), exampleEnv["CK_POSTGRES_URL"]},
		{"operator.token", string(c.Operator.Token), exampleEnv["CK_OPERATOR_TOKEN"]},
		{"service.listen", c.Service.Listen, "0.0.0.0:9443"},
		{"jobs.lease", time.Duration(c.Jobs.Lease), 30 * time.Second},
		{"jobs.rewrapRate", c.Jobs.RewrapRate, 0.0},
		{"purge.approvals", c.Purge.Approvals, 2},
		{"vaults.kind", c.Vaults.Kind, VaultsBuiltin},
		{"workloads.mailbox.app", c.Workloads["mailbox"].App, defaultWorkloads["mailbox"]},
		{"vaultServer.regions[0].name", c.VaultServer.Regions[0].Name, "eastus"},
		{"vaultServer.featureDelay", time.Duration(c.VaultServer.FeatureDelay), time.Minute},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s = %v, want %v", ck.name, ck.got, ck.want)
		}
	}

	// The same file as JSON reads the same.
	js, _ := json.Marshal(map[string]any{"version": "v1", "dataDir": "d", "service": map[string]any{"listen": "127.0.0.1:0"}, "jobs": map[string]any{"lease": "1m"}})
	cj, err := Parse(js, lookupIn(nil))
	if err != nil || cj.Validate() != nil || time.Duration(cj.Jobs.Lease) != time.Minute {
		t.Fatalf("JSON configuration: %v / %v", err, cj.Validate())
	}
}

// valid is a configuration that validates; each case breaks one field.
func valid() Config {
	return Config{
		Version: Version, DataDir: "/var/lib/ck",
		Service:     &ServiceConfig{Listen: "127.0.0.1:9443"},
		VaultServer: &VaultServerConfig{Regions: []RegionConfig{{Name: "eastus", Listen: "127.0.0.1:8443"}}},
	}
}

func TestValidate(t *testing.T) {
	hex64 := strings.Repeat("0f", 32)
	cases := []struct {
		name  string
		edit  func(c *Config)
		field string // "" = valid
	}{
		{"valid", func(c *Config) {}, ""},
		{"every section", func(c *Config) {
			c.Logging = LoggingConfig{Level: "debug", Format: "json"}
			c.Store.Postgres = "postgresql://ck@db/ck"
			c.Service.Names = []string{"ck.example.internal"}
			c.Vaults = VaultsConfig{Kind: VaultsAzure, AzureTenantID: "t"}
			c.Workloads = map[string]WorkloadConfig{"mailbox": {App: defaultWorkloads["mailbox"]}}
			c.Keystore.MasterKey, c.Signer.Key = Secret(hex64), Secret(hex64)
			c.Operator.Token = Secret(strings.Repeat("t", 32))
			c.Keystore.File = "/etc/ck/keystore.json"
			c.Jobs.Lease, c.Purge.Approvals = Duration(time.Second), 3
		}, ""},
		{"no version", func(c *Config) { c.Version = "" }, "version"},
		{"version v2", func(c *Config) { c.Version = "v2" }, "version"},
		{"no data dir", func(c *Config) { c.DataDir = "" }, "dataDir"},
		{"nothing to run", func(c *Config) { c.Service, c.VaultServer = nil, nil }, "service"},
		{"log level", func(c *Config) { c.Logging.Level = "loud" }, "logging.level"},
		{"log format", func(c *Config) { c.Logging.Format = "xml" }, "logging.format"},
		{"two stores", func(c *Config) { c.Store = StoreConfig{SQLite: "ck.db", Postgres: "postgres://db/ck"} }, "store"},
		{"shared without a signing key", func(c *Config) {
			c.Store.Postgres = "postgres://db/ck"
			c.Operator.Token, c.Keystore.File = Secret(strings.Repeat("t", 32)), "k.json"
		}, "signer.key"},
		{"shared without a keystore", func(c *Config) {
			yes := true
			c.Cluster.Shared = &yes
			c.Operator.Token, c.Signer.KeyFile = Secret(strings.Repeat("t", 32)), "s.key"
		}, "keystore"},
		{"postgres URL", func(c *Config) { c.Store.Postgres = "mysql://db/ck" }, "store.postgres"},
		{"postgres no host", func(c *Config) { c.Store.Postgres = "postgres:///ck" }, "store.postgres"},
		{"listen", func(c *Config) { c.Service.Listen = "9443" }, "service.listen"},
		{"half a TLS pair", func(c *Config) { c.Service.TLS.CertFile = "c.pem" }, "service.tls"},
		{"negative limit", func(c *Config) { c.Service.Limits.File = -1 }, "service.limits"},
		{"negative streams", func(c *Config) { c.Service.Limits.TenantStreams = -1 }, "service.limits.tenantStreams"},
		{"a tenant's streams over the node's", func(c *Config) { c.Service.Limits.Streams, c.Service.Limits.TenantStreams = 16, 17 }, "service.limits.tenantStreams"},
		{"a tenant's streams over the default node's", func(c *Config) { c.Service.Limits.TenantStreams = 257 }, "service.limits.tenantStreams"},
		{"blob directory on a shared node", func(c *Config) {
			c.Store.Postgres = "postgres://db/ck"
			c.Operator.Token, c.Keystore.File, c.Signer.KeyFile = Secret(strings.Repeat("t", 32)), "k.json", "s.key"
			c.Service.Blobs.Dir = "/var/lib/ck/blobs"
		}, "service.blobs.dir"},
		{"blob directory and limits", func(c *Config) {
			c.Service.Blobs.Dir, c.Service.Limits.File = "/var/lib/ck/blobs", 1<<30
		}, ""},
		{"names with own certificate", func(c *Config) {
			c.Service.TLS = TLSFiles{"c.pem", "k.pem"}
			c.Service.Names = []string{"x"}
		}, "service.names"},
		{"vault kind", func(c *Config) { c.Vaults.Kind = "hsm" }, "vaults.kind"},
		{"azure with connection file", func(c *Config) { c.Vaults = VaultsConfig{Kind: VaultsAzure, ConnectionFile: "v.json"} }, "vaults.connectionFile"},
		{"builtin with tenant", func(c *Config) { c.Vaults = VaultsConfig{AzureTenantID: "t"} }, "vaults.azureTenantID"},
		{"none with settings", func(c *Config) { c.Vaults = VaultsConfig{Kind: VaultsNone, ConnectionFile: "v.json"} }, "vaults"},
		{"vault domain with a scheme", func(c *Config) { c.Vaults.Domains = []string{"https://vault.azure.net"} }, "vaults.domains"},
		{"vault domain an IP", func(c *Config) { c.Vaults.Domains = []string{"127.0.0.1"} }, "vaults.domains"},
		{"vault domain a wildcard", func(c *Config) { c.Vaults.Domains = []string{"*.vault.azure.net"} }, "vaults.domains"},
		{"vault domain port", func(c *Config) { c.Vaults.Domains = []string{"localhost:0"} }, "vaults.domains"},
		{"vault domains without vaults", func(c *Config) { c.Vaults = VaultsConfig{Kind: VaultsNone, Domains: []string{"vault.azure.net"}} }, "vaults.domains"},
		{"vault domains", func(c *Config) {
			c.Vaults = VaultsConfig{Kind: VaultsAzure, Domains: []string{"vault.azure.cn", "managedhsm.azure.cn", "vault.example.internal:8443"}}
		}, ""},
		{"workload kind", func(c *Config) { c.Workloads = map[string]WorkloadConfig{"teams": {App: defaultWorkloads["site"]}} }, "workloads.teams"},
		{"workload app", func(c *Config) { c.Workloads = map[string]WorkloadConfig{"site": {App: "sharepoint"}} }, "workloads.site.app"},
		{"master key", func(c *Config) { c.Keystore.MasterKey = "abc" }, "keystore.masterKey"},
		{"master key and file", func(c *Config) { c.Keystore = KeystoreConfig{MasterKey: Secret(hex64), MasterKeyFile: "k"} }, "keystore.masterKey"},
		{"keystore file and token", func(c *Config) {
			c.Keystore = KeystoreConfig{File: "k", PKCS11: &PKCS11Config{Module: "m", TokenLabel: "t", PIN: "1"}}
		}, "keystore.file"},
		{"token without module", func(c *Config) { c.Keystore.PKCS11 = &PKCS11Config{TokenLabel: "t", PIN: "1"} }, "keystore.pkcs11.module"},
		{"token without label", func(c *Config) { c.Keystore.PKCS11 = &PKCS11Config{Module: "m", PIN: "1"} }, "keystore.pkcs11.tokenLabel"},
		{"token without PIN", func(c *Config) { c.Keystore.PKCS11 = &PKCS11Config{Module: "m", TokenLabel: "t"} }, "keystore.pkcs11.pin"},
		{"signer key", func(c *Config) { c.Signer.Key = Secret(hex64 + "00") }, "signer.key"},
		{"short operator token", func(c *Config) { c.Operator.Token = "secret" }, "operator.token"},
		{"operator token with space", func(c *Config) { c.Operator.Token = Secret(strings.Repeat("t", 20) + " " + strings.Repeat("t", 20)) }, "operator.token"},
		{"operator token and file", func(c *Config) {
			c.Operator = OperatorConfig{Token: Secret(strings.Repeat("t", 32)), TokenFile: "f"}
		}, "operator.token"},
		{"job lease", func(c *Config) { c.Jobs.Lease = Duration(time.Millisecond) }, "jobs.lease"},
		{"negative rewrap rate", func(c *Config) { c.Jobs.RewrapRate = -1 }, "jobs.rewrapRate"},
		{"rewrap rate not a number", func(c *Config) { c.Jobs.RewrapRate = math.NaN() }, "jobs.rewrapRate"},
		{"rewrap rate", func(c *Config) { c.Jobs.RewrapRate = 2000 }, ""},
		{"purge approvals", func(c *Config) { c.Purge.Approvals = -1 }, "purge.approvals"},
		{"no regions", func(c *Config) { c.VaultServer.Regions = nil }, "vaultServer.regions"},
		{"region name", func(c *Config) { c.VaultServer.Regions[0].Name = "East US" }, "vaultServer.regions[0].name"},
		{"region twice", func(c *Config) {
			c.VaultServer.Regions = append(c.VaultServer.Regions, RegionConfig{Name: "eastus", Listen: ":1"})
		}, "vaultServer.regions[1].name"},
		{"region listen", func(c *Config) { c.VaultServer.Regions[0].Listen = "localhost" }, "vaultServer.regions[0].listen"},
		{"feature delay", func(c *Config) { c.VaultServer.FeatureDelay = -1 }, "vaultServer.featureDelay"},
		{"op log retention under a day", func(c *Config) { c.VaultServer.OpLogRetention = Duration(time.Hour) }, "vaultServer.opLogRetention"},
		{"service sections unused", func(c *Config) { c.Service = nil; c.Operator.Token = "short" }, ""},
	}
	for _, tc := range cases {
		c := valid()
		tc.edit(&c)
		err := c.Validate()
		if tc.field == "" {
			if err != nil {
				t.Errorf("%s: Validate() = %v, want nil", tc.name, err)
			}
			continue
		}
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Errorf("%s: Validate() = %v, want an error on %s", tc.name, err, tc.field)
			continue
		}
		if fe.Field != tc.field || fe.Fix == "" || !strings.Contains(err.Error(), "Fix: ") {
			t.Errorf("%s: Validate() = %q (field %q), want field %q with a fix", tc.name, err, fe.Field, tc.field)
		}
	}
}

func TestValidateReportsAll(t *testing.T) {
	c := valid()
	c.DataDir, c.Logging.Level, c.Purge.Approvals = "", "loud", 99
	err := c.Validate()
	for _, f := range []string{"dataDir:", "logging.level:", "purge.approvals:"} {
		if err == nil || !strings.Contains(err.Error(), f) {
			t.Errorf("Validate() = %v, want it to name %s", err, f)
		}
	}
}

func TestExpandEnv(t *testing.T) {
	env := lookupIn(map[string]string{"PW": "s3cr$t", "EMPTY": "", "HOST": "db"})
	cases := []struct {
		in, want string
		err      string // a substring of the error, "" = none
	}{
		{"plain", "plain", ""},
		{"${PW}", "s3cr$t", ""},
		{"postgres://ck:${PW}@${HOST}/ck", "postgres://ck:s3cr$t@db/ck", ""},
		{"${EMPTY}", "", ""},
		{"$PW stays", "$PW stays", ""},
		{"$${PW} is literal", "${PW} is literal", ""},
		{"price $5", "price $5", ""},
		{"${MISSING}", "", "environment variable MISSING is not set. Fix: export MISSING"},
		{"${PW", "", "unclosed ${"},
		{"${9X}", "", "${9X} is not a variable reference"},
		{"${}", "", "${} is not a variable reference"},
	}
	for _, tc := range cases {
		got, err := expandEnv(tc.in, "store.postgres", env)
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("expandEnv(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || !strings.HasPrefix(err.Error(), "store.postgres: ")):
			t.Errorf("expandEnv(%q) = %q, %v; want an error on store.postgres containing %q", tc.in, got, err, tc.err)
		}
	}
}

func TestParse(t *testing.T) {
	env := lookupIn(map[string]string{"TOKEN": strings.Repeat("t", 40)})
	cases := []struct {
		name, in string
		err      string // a substring of Parse's error, or of Validate's with "validate: "
	}{
		{"minimal", "version: v1\ndataDir: d\nservice: {listen: ':0'}\n", ""},
		{"env", "version: v1\ndataDir: d\nservice: {}\noperator: {token: '${TOKEN}'}\n", ""},
		{"unset for a section that runs", "version: v1\ndataDir: d\nservice: {}\noperator: {token: '${NOPE}'}\n", "validate: operator.token: environment variable NOPE is not set"},
		{"unset for a section that does not run", "version: v1\ndataDir: d\nvaultServer: {regions: [{name: eastus, listen: ':0'}]}\noperator: {token: '${NOPE}'}\n", ""},
		{"unset in a list", "version: v1\ndataDir: d\nvaultServer: {regions: [{name: eastus, listen: '${NOPE}'}]}\n", "validate: vaultServer.regions[0].listen: environment variable NOPE is not set"},
		{"no version", "dataDir: d\n", "version: missing"},
		{"version 2", "version: v2\n", `version: "v2" is not known`},
		{"unknown field", "version: v1\nservice: {lisen: ':0'}\n", "service.lisen: not a known field"},
		{"unknown field in a list", "version: v1\nvaultServer: {regions: [{nme: eastus}]}\n", "vaultServer.regions[0].nme: not a known field"},
		{"unknown field in a map", "version: v1\nworkloads: {site: {application: x}}\n", "workloads.site.application: not a known field"},
		{"case matters", "version: v1\nDataDir: d\n", "DataDir: not a known field"},
		{"duplicate key", "version: v1\ndataDir: a\ndataDir: b\n", "dataDir"},
		{"bad duration", "version: v1\njobs: {lease: 30}\n", "duration"},
		{"bad type", "version: v1\npurge: {approvals: many}\n", "purge.approvals: got a string"},
		{"not a mapping", "- version\n", "want a mapping"},
		{"unclosed reference", "version: v1\ndataDir: '${X'\n", "dataDir: unclosed ${"},
	}
	for _, tc := range cases {
		c, err := Parse([]byte(tc.in), env)
		if err == nil {
			if verr := c.Validate(); verr != nil {
				err = fmt.Errorf("validate: %w", verr)
			}
		}
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v, want no error", tc.name, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.err)
		}
	}
}

func TestSecretsDoNotPrint(t *testing.T) {
	const secret = "postgres://ck:hunter2@db/ck"
	c := valid()
	c.Store.Postgres = secret
	c.Operator.Token = Secret(strings.Repeat("hunter2", 6))
	js, _ := json.Marshal(c)
	var log strings.Builder
	slog.New(slog.NewTextHandler(&log, nil)).Info("config", "postgres", c.Store.Postgres, "store", c.Store)
	for name, out := range map[string]string{
		"%v": fmt.Sprintf("%v", c.Store), "%+v": fmt.Sprintf("%+v", c.Operator), "%#v": fmt.Sprintf("%#v", c.Store),
		"%s": fmt.Sprint(c.Store.Postgres), "json": string(js), "slog": log.String(),
	} {
		if strings.Contains(out, "hunter2") {
			t.Errorf("%s shows the secret: %s", name, out)
		}
	}
}
