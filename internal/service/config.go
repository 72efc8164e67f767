package service

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/customerkey/customerkey/internal/api"
	"github.com/customerkey/customerkey/internal/kms"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/workload"
	"github.com/customerkey/customerkey/vaultclient"
)

// Version is the only version of the configuration file this build reads.
const Version = "v1"

// Config is the versioned configuration file of `ck server` and
// `ck vault server` (YAML or JSON; see docs/config.example.yaml), and what
// `ck dev`, the bench and tests fill in Go. Each section validates itself;
// Validate runs them all. Fields tagged json:"-" are wiring that only a Go
// caller sets.
type Config struct {
	// Version must be "v1".
	Version string `json:"version"`
	// DataDir holds what a node keeps on disk: the local CA and TLS
	// certificates, the SQLite database, and the key and token files
	// that are created on first start when no secret is configured.
	DataDir string `json:"dataDir,omitempty"`

	Logging LoggingConfig `json:"logging"`
	Store   StoreConfig   `json:"store"`
	// Cluster says whether this node is one of several over one database.
	Cluster ClusterConfig `json:"cluster"`

	// Service, when set, runs the Customer Key service (ck server, ck dev).
	Service *ServiceConfig `json:"service,omitempty"`
	// Vaults says how the service reaches tenants' customer keys.
	Vaults VaultsConfig `json:"vaults"`
	// Workloads maps each DEP kind (mailbox, site, mdep) to the service
	// principal that reaches its keys. Default: the three well-known
	// Microsoft 365 applications.
	Workloads map[string]WorkloadConfig `json:"workloads,omitempty"`
	Keystore  KeystoreConfig            `json:"keystore"`
	Signer    SignerConfig              `json:"signer"`
	Operator  OperatorConfig            `json:"operator"`
	Jobs      JobsConfig                `json:"jobs"`
	// Revocation tunes how a revocation without the tenant's signal is
	// found (S3).
	Revocation RevocationConfig `json:"revocation"`
	Events     EventsConfig     `json:"events"`
	Purge      PurgeConfig      `json:"purge"`

	// VaultServer, when set, runs built-in vault regions in this process
	// (ck vault server, ck dev).
	VaultServer *VaultServerConfig `json:"vaultServer,omitempty"`

	// Logger receives the logs (default: built from Logging, to stderr).
	Logger *slog.Logger `json:"-"`
	// Now is the clock (default time.Now).
	Now func() time.Time `json:"-"`

	// unset are the ${ENV} references Parse found unset, reported by
	// Validate for the sections this process runs.
	unset []*FieldError
}

// FieldError is a configuration error: the field (as written in the
// file), what is wrong and how to fix it.
type FieldError struct {
	Field   string
	Problem string
	Fix     string
	err     error
}

// Unwrap marks an unset environment variable (errUnset).
func (e *FieldError) Unwrap() error { return e.err }

// errUnset marks a reference to an unset environment variable.
var errUnset = errors.New("environment variable not set")

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s: %s. Fix: %s", e.Field, e.Problem, e.Fix)
}

func fieldErr(field, fix, format string, args ...any) error {
	return &FieldError{Field: field, Problem: fmt.Sprintf(format, args...), Fix: fix}
}

// Validate checks every section and returns all problems at once
// (errors.Join of *FieldError).
func (c *Config) Validate() error {
	var errs []error
	if c.Version != Version {
		errs = append(errs, c.versionError())
	}
	if c.DataDir == "" {
		errs = append(errs, fieldErr("dataDir", "set dataDir (or --data) to a directory for certificates, keys and the SQLite database", "empty"))
	}
	for _, e := range c.unset {
		if c.runs(e.Field) {
			errs = append(errs, e)
		}
	}
	if c.Service == nil && c.VaultServer == nil {
		errs = append(errs, fieldErr("service", "give a service section (ck server) or a vaultServer section (ck vault server)", "nothing to run"))
	}
	errs = append(errs, c.Logging.Validate(), c.Store.Validate())
	if c.Service != nil && c.Shared() {
		errs = append(errs, c.sharedSecrets())
		if c.Service.Blobs.Dir != "" {
			errs = append(errs, fieldErr("service.blobs.dir", "drop it: nodes over one database share large items through the database", "a directory is one node's, but this node is one of several (cluster.shared)"))
		}
	}
	if c.Service != nil {
		errs = append(errs, c.Service.Validate(), c.Vaults.Validate(), c.Keystore.Validate(), c.Signer.Validate(),
			c.Operator.Validate(), c.Jobs.Validate(), c.Revocation.Validate(), c.Events.Validate(), c.Purge.Validate(), validateWorkloads(c.Workloads))
	}
	if c.VaultServer != nil {
		errs = append(errs, c.VaultServer.Validate())
	}
	return errors.Join(errs...)
}

// runs says whether field belongs to a section this process runs: the
// service's sections without Service, vaultServer without VaultServer,
// are read but unused.
func (c *Config) runs(field string) bool {
	section, _, _ := strings.Cut(field, ".")
	section, _, _ = strings.Cut(section, "[")
	switch section {
	case "service", "vaults", "workloads", "keystore", "signer", "operator", "jobs", "purge", "cluster":
		return c.Service != nil
	case "vaultServer":
		return c.VaultServer != nil
	}
	return true
}

// ClusterConfig: whether this node is one of several ck server nodes over
// one database (SPEC S1). A shared node invents no secret: the signing
// key, the keystore and the operator's token must come from the
// configuration, the same on every node, and the node refuses to start
// when they differ from what the first node recorded in the database.
type ClusterConfig struct {
	// Shared: one node of many. Default: true with store.postgres, false
	// with SQLite. Set false to run a single node over PostgreSQL with
	// secrets in its data dir.
	Shared *bool `json:"shared,omitempty"`
}

// Shared says whether the service runs as one node of many: as
// cluster.shared says, else whenever the store is PostgreSQL.
func (c *Config) Shared() bool {
	if c.Cluster.Shared != nil {
		return *c.Cluster.Shared
	}
	return c.Store.Postgres != ""
}

// sharedSecrets checks that a node of many is given every secret the
// nodes share, rather than left to make its own (SPEC S1).
func (c *Config) sharedSecrets() error {
	var errs []error
	const why = "a node of many (cluster.shared, or store.postgres) does not make its own"
	if c.Signer.Key == "" && c.Signer.KeyFile == "" {
		errs = append(errs, fieldErr("signer.key", "give every node the cluster's signing key: signer.key: ${CK_SIGNING_KEY} (made once with `openssl rand -hex 32`), or signer.keyFile provisioned to each node", "missing: "+why))
	}
	if c.Operator.Token == "" && c.Operator.TokenFile == "" {
		errs = append(errs, fieldErr("operator.token", "give every node the cluster's operator token: operator.token: ${CK_OPERATOR_TOKEN} (made once with `echo cksvc_$(openssl rand -hex 32)`), or operator.tokenFile provisioned to each node", "missing: "+why))
	}
	if c.Keystore.PKCS11 == nil && c.Keystore.File == "" {
		errs = append(errs, fieldErr("keystore", "give every node the same PKCS#11 token (keystore.pkcs11), or the same keystore file provisioned to each node (keystore.file; a purge rotates it on one node only: docs/configuration.md)", "missing: "+why))
	}
	return errors.Join(errs...)
}

// Secret is a configuration value that must not show up in logs or
// output: a key, a token, a URL with a password. Write it in the file as
// a ${ENV} reference so the same file serves every node (SPEC S1).
type Secret string

// String hides the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString hides the value from %#v.
func (s Secret) GoString() string { return `service.Secret("` + s.String() + `")` }

// LogValue hides the value from slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON hides the value: a Config marshals without its secrets.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// Duration is a time.Duration written as in Go ("30s", "5m", "1h30m").
type Duration time.Duration

// UnmarshalJSON reads "30s"-style strings.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration such as \"30s\" or \"5m\", got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration such as \"30s\" or \"5m\", got %q", s)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// LoggingConfig: how much is logged and in which format.
type LoggingConfig struct {
	Level  string `json:"level,omitempty"`  // debug, info (default), warn, error
	Format string `json:"format,omitempty"` // text (default) or json
}

// Validate checks the logging section.
func (l LoggingConfig) Validate() error {
	var errs []error
	if _, ok := logLevels[strings.ToLower(l.Level)]; !ok {
		errs = append(errs, fieldErr("logging.level", "use debug, info, warn or error", "%q is not a level", l.Level))
	}
	switch strings.ToLower(l.Format) {
	case "", "text", "json":
	default:
		errs = append(errs, fieldErr("logging.format", "use text or json", "%q is not a format", l.Format))
	}
	return errors.Join(errs...)
}

var logLevels = map[string]slog.Level{"": slog.LevelInfo, "debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}

// NewLogger returns the logger the section describes, writing to w.
func (l LoggingConfig) NewLogger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: logLevels[strings.ToLower(l.Level)]}
	if strings.EqualFold(l.Format, "json") {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// StoreConfig: where state lives. SQLite in the data dir by default;
// PostgreSQL for several nodes.
type StoreConfig struct {
	// SQLite is the database file (default DATADIR/ck.db).
	SQLite string `json:"sqlite,omitempty"`
	// Postgres is a postgres:// URL; it often carries a password, so
	// write it as ${ENV}.
	Postgres Secret `json:"postgres,omitempty"`

	// Use is an open store to use instead (the bench, tests); New does
	// not close it.
	Use store.Store `json:"-"`
}

// Validate checks the store section.
func (s StoreConfig) Validate() error {
	if s.SQLite != "" && s.Postgres != "" {
		return fieldErr("store", "keep one of store.sqlite and store.postgres", "both sqlite and postgres are set")
	}
	if s.Postgres != "" {
		u, err := url.Parse(string(s.Postgres))
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
			return fieldErr("store.postgres", "write a URL such as postgres://ck@db.example.internal/ck (the password through ${ENV})", "not a postgres:// URL")
		}
	}
	return nil
}

// ServiceConfig: the service's HTTPS listener.
type ServiceConfig struct {
	// Listen is host:port (":0" picks a free port). Empty: no listener;
	// a Go caller serves Service.Handler itself.
	Listen string `json:"listen,omitempty"`
	// Names are extra DNS names or IPs for the certificate the local CA
	// issues (the CA lives in the data dir).
	Names []string `json:"names,omitempty"`
	// TLS is a certificate of your own instead of the local CA's.
	TLS TLSFiles `json:"tls"`
	// Blobs says where the sealed chunks of large items live (SPEC D8).
	Blobs BlobsConfig `json:"blobs"`
	// Limits are the largest contents the API takes, in bytes (0: the
	// default: files 250 GB, mailbox items 150 MB, records 250 GB), and
	// the transfers of content it runs at once (0: 256 on the node, 64
	// for one tenant).
	Limits api.Limits `json:"limits"`
}

// BlobsConfig is where the sealed chunks of large items live.
type BlobsConfig struct {
	// Dir keeps them in files under a directory of this node: faster
	// than the database, for one node only. Empty: in the database (the
	// default), which every node over one PostgreSQL shares.
	Dir string `json:"dir,omitempty"`
}

// TLSFiles is a PEM certificate chain and its private key.
type TLSFiles struct {
	CertFile string `json:"certFile,omitempty"`
	KeyFile  string `json:"keyFile,omitempty"`
}

// Validate checks the service section.
func (s ServiceConfig) Validate() error {
	var errs []error
	if s.Listen != "" {
		if _, _, err := net.SplitHostPort(s.Listen); err != nil {
			errs = append(errs, fieldErr("service.listen", "write host:port, e.g. 0.0.0.0:9443 or 127.0.0.1:0", "%q is not host:port", s.Listen))
		}
	}
	errs = append(errs, s.TLS.validate("service.tls"))
	if s.Limits.File < 0 || s.Limits.Item < 0 || s.Limits.Record < 0 {
		errs = append(errs, fieldErr("service.limits", "give sizes in bytes, or 0 for the default", "a limit is negative"))
	}
	if s.Limits.Streams < 0 {
		errs = append(errs, fieldErr("service.limits.streams", "give a number of transfers, or 0 for the default (256)", "%d is negative", s.Limits.Streams))
	}
	if s.Limits.TenantStreams < 0 {
		errs = append(errs, fieldErr("service.limits.tenantStreams", "give a number of transfers, or 0 for the default (64)", "%d is negative", s.Limits.TenantStreams))
	}
	if node := cmp.Or(s.Limits.Streams, workload.DefaultStreams); s.Limits.TenantStreams > node {
		errs = append(errs, fieldErr("service.limits.tenantStreams", "give a tenant at most the node's limits.streams", "a tenant's %d transfers are more than the node's %d", s.Limits.TenantStreams, node))
	}
	if s.TLS.CertFile != "" && len(s.Names) > 0 {
		errs = append(errs, fieldErr("service.names", "put the names into your certificate, or drop service.tls to let the local CA issue one", "names are for the local CA's certificate, but service.tls gives a certificate"))
	}
	return errors.Join(errs...)
}

func (t TLSFiles) validate(field string) error {
	if (t.CertFile == "") != (t.KeyFile == "") {
		return fieldErr(field, "give both certFile and keyFile, or neither (the local CA then issues a certificate)", "only one of certFile and keyFile is set")
	}
	return nil
}

// Vault kinds of VaultsConfig.Kind.
const (
	VaultsBuiltin = "builtin" // the built-in vault (ck vault server, or ck dev's)
	VaultsAzure   = "azure"   // Azure Key Vault
	VaultsNone    = "none"    // no vaults: DEPs cannot be created
)

// VaultsConfig: how the service reaches the vaults that hold tenants'
// customer keys.
type VaultsConfig struct {
	// Kind is builtin, azure or none. Default: builtin if a connection
	// file is given or a vault server runs in this process, else none.
	Kind string `json:"kind,omitempty"`
	// ConnectionFile is a built-in vault's connection file (vault.json
	// from ck vault server, or dev.json).
	ConnectionFile string `json:"connectionFile,omitempty"`
	// AzureTenantID pins the Entra tenant of the workloads' service
	// principals (azure; default: the one the vault's challenge names).
	AzureTenantID string `json:"azureTenantID,omitempty"`
	// Domains are the only vault hosts the service connects to (SPEC
	// T4): a key URI's host must be one label under one of them, on its
	// port (443 unless it names one), or the key is refused before any
	// connection. Default: azure, vault.azure.net and
	// managedhsm.azure.net; builtin, each region of the connection
	// (e.g. localhost:8443).
	Domains []string `json:"domains,omitempty"`

	// Connection is a built-in vault's connection, given in Go (the
	// bench, tests) instead of ConnectionFile.
	Connection *vaultclient.Config `json:"-"`
}

// Validate checks the vaults section.
func (v VaultsConfig) Validate() error {
	if len(v.Domains) > 0 {
		if v.Kind == VaultsNone {
			return fieldErr("vaults.domains", "drop domains, or choose vaults.kind builtin or azure", "kind is none but vault domains are given")
		}
		if _, err := kms.ParseDomains(v.Domains); err != nil {
			return fieldErr("vaults.domains", "give DNS names with an optional port, e.g. [vault.azure.net, managedhsm.azure.net] or [localhost:8443]", "%v", err)
		}
	}
	switch v.Kind {
	case "", VaultsBuiltin:
		if v.AzureTenantID != "" {
			return fieldErr("vaults.azureTenantID", "set vaults.kind: azure, or drop azureTenantID", "is for Azure Key Vault, but vaults.kind is builtin")
		}
	case VaultsAzure:
		if v.ConnectionFile != "" {
			return fieldErr("vaults.connectionFile", "drop connectionFile (Azure needs none), or set vaults.kind: builtin", "is for the built-in vault, but vaults.kind is azure")
		}
	case VaultsNone:
		if v.ConnectionFile != "" || v.AzureTenantID != "" {
			return fieldErr("vaults", "drop connectionFile and azureTenantID, or choose vaults.kind builtin or azure", "kind is none but vault settings are given")
		}
	default:
		return fieldErr("vaults.kind", "use builtin, azure or none", "%q is not a kind", v.Kind)
	}
	return nil
}

// WorkloadConfig: the service principal (application ID) that reaches
// one DEP kind's customer keys. Tenants grant it get, wrapKey and
// unwrapKey on their keys.
type WorkloadConfig struct {
	App string `json:"app"`
}

// Workload kinds and their default applications.
var defaultWorkloads = map[string]string{
	"mailbox": "00000002-0000-0ff1-ce00-000000000000", // Office 365 Exchange Online
	"site":    "00000003-0000-0ff1-ce00-000000000000", // Office 365 SharePoint Online
	"mdep":    "c066d759-24ae-40e7-a56f-027002b5d3e4", // M365DataAtRestEncryption
}

var guid = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func validateWorkloads(ws map[string]WorkloadConfig) error {
	var errs []error
	kinds := make([]string, 0, len(ws))
	for k := range ws {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		field := "workloads." + k
		if _, ok := defaultWorkloads[k]; !ok {
			errs = append(errs, fieldErr(field, "use the DEP kinds mailbox, site and mdep", "%q is not a DEP kind", k))
			continue
		}
		if !guid.MatchString(ws[k].App) {
			errs = append(errs, fieldErr(field+".app", "write the application ID as a GUID, e.g. "+defaultWorkloads[k], "%q is not a GUID", ws[k].App))
		}
	}
	return errors.Join(errs...)
}

// KeystoreConfig: where the key-encryption keys (KEKs) that seal
// availability keys live (SPEC T8): a file (the default,
// DATADIR/service-keystore.json) or a PKCS#11 token. MasterKey and
// MasterKeyFile name the old service master key, read only to re-seal the
// availability keys of a database from before the keystore.
type KeystoreConfig struct {
	// File is the keystore file (default DATADIR/service-keystore.json,
	// created on first use). One node only: nodes that share a database
	// share a PKCS#11 token instead.
	File string `json:"file,omitempty"`
	// PKCS11 is a token holding the KEKs as non-extractable AES keys.
	PKCS11 *PKCS11Config `json:"pkcs11,omitempty"`
	// MasterKey is the old master key, 64 hex characters, best as ${ENV}.
	MasterKey Secret `json:"masterKey,omitempty"`
	// MasterKeyFile holds the old master key (default
	// DATADIR/service-master.key, read if present). Ignored when MasterKey
	// is set.
	MasterKeyFile string `json:"masterKeyFile,omitempty"`
}

// PKCS11Config names the token of a PKCS#11 keystore.
type PKCS11Config struct {
	// Module is the PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so.
	Module string `json:"module"`
	// TokenLabel is the token's label.
	TokenLabel string `json:"tokenLabel"`
	// PIN is the user PIN, best as ${ENV}.
	PIN Secret `json:"pin"`
}

// Validate checks the keystore section.
func (k KeystoreConfig) Validate() error {
	var errs []error
	if p := k.PKCS11; p != nil {
		if k.File != "" {
			errs = append(errs, fieldErr("keystore.file", "keep one of keystore.file and keystore.pkcs11", "both a keystore file and a PKCS#11 token are set"))
		}
		if p.Module == "" {
			errs = append(errs, fieldErr("keystore.pkcs11.module", "give the path of the PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so", "missing"))
		}
		if p.TokenLabel == "" {
			errs = append(errs, fieldErr("keystore.pkcs11.tokenLabel", "give the label of the token holding the keys", "missing"))
		}
		if p.PIN == "" {
			errs = append(errs, fieldErr("keystore.pkcs11.pin", "give the token's user PIN, e.g. ${CK_KEYSTORE_PIN}", "missing"))
		}
	}
	errs = append(errs, validateKey("keystore.masterKey", "keystore.masterKeyFile", k.MasterKey, k.MasterKeyFile))
	return errors.Join(errs...)
}

// SignerConfig: the Ed25519 key that signs crypto-shred certificates.
// Keep it: certificates verify only with its public key.
type SignerConfig struct {
	// Key is the 32-byte seed as 64 hex characters, best as ${ENV}.
	Key Secret `json:"key,omitempty"`
	// KeyFile holds the seed (default DATADIR/service-signing.key,
	// created if missing). Ignored when Key is set.
	KeyFile string `json:"keyFile,omitempty"`
}

// Validate checks the signer section.
func (s SignerConfig) Validate() error {
	return validateKey("signer.key", "signer.keyFile", s.Key, s.KeyFile)
}

var hex64 = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)

func validateKey(field, fileField string, key Secret, file string) error {
	if key == "" {
		return nil
	}
	if file != "" {
		return fieldErr(field, "keep one of "+field+" and "+fileField, "both the key and a key file are set")
	}
	if !hex64.MatchString(strings.TrimSpace(string(key))) {
		return fieldErr(field, "give 64 hex characters (32 bytes), e.g. from `openssl rand -hex 32`", "not 64 hex characters")
	}
	return nil
}

// OperatorConfig: the service operator's bearer token.
type OperatorConfig struct {
	// Token is the operator's token, best as ${ENV}; the service stores
	// its hash on first start. Every node needs the same one.
	Token Secret `json:"token,omitempty"`
	// TokenFile holds the token (default DATADIR/service-operator.token,
	// minted on first start). Ignored when Token is set.
	TokenFile string `json:"tokenFile,omitempty"`
}

// Validate checks the operator section.
func (o OperatorConfig) Validate() error {
	if o.Token == "" {
		return nil
	}
	if o.TokenFile != "" {
		return fieldErr("operator.token", "keep one of operator.token and operator.tokenFile", "both a token and a token file are set")
	}
	if n := len(strings.TrimSpace(string(o.Token))); n < 32 {
		return fieldErr("operator.token", "use at least 32 random characters, e.g. cksvc_$(openssl rand -hex 32)", "too short (%d characters)", n)
	}
	if strings.ContainsAny(strings.TrimSpace(string(o.Token)), " \t\r\n") {
		return fieldErr("operator.token", "use a token without spaces", "contains white space")
	}
	return nil
}

// EventsConfig: cache invalidation across nodes (internal/events).
type EventsConfig struct {
	// Interval is the periodic sequence check that delivers events a
	// node missed (a lost LISTEN connection): default 1s.
	Interval Duration `json:"interval,omitempty"`
}

// Validate checks the events section.
func (e EventsConfig) Validate() error {
	if d := time.Duration(e.Interval); d < 0 || (d > 0 && d < 10*time.Millisecond) || d > time.Minute {
		return fieldErr("events.interval", "use a duration from 10ms to 1m, e.g. 1s", "%s is out of range", d)
	}
	return nil
}

// JobsConfig: background jobs (re-wraps, rolls, purges).
type JobsConfig struct {
	// Lease is how long a crashed node holds its jobs before another
	// resumes them (default 30s).
	Lease Duration `json:"lease,omitempty"`
	// RewrapRate bounds how many containers one job re-wraps per second
	// (a roll, a re-assignment, a recovery, a rollback), so that a roll
	// of a million containers leaves the database and the cores to the
	// data plane. 0 (the default): as fast as the job goes.
	RewrapRate float64 `json:"rewrapRate,omitempty"`
}

// RevocationConfig is the revocation probe (S3): every node asks one
// customer key of each DEP whose key it holds in memory to unwrap it, every
// ProbeInterval; both keys refusing revokes the DEP on every node.
type RevocationConfig struct {
	// ProbeInterval (default 60s; "off" is not offered: a revocation
	// without a signal would then wait for the cache's expiry).
	ProbeInterval Duration `json:"probeInterval,omitempty"`
}

// Validate checks the revocation section.
func (r RevocationConfig) Validate() error {
	if r.ProbeInterval < 0 || (r.ProbeInterval > 0 && time.Duration(r.ProbeInterval) < time.Second) {
		return fieldErr("revocation.probeInterval", "use a duration of at least 1s, e.g. 60s", "%s is too short", time.Duration(r.ProbeInterval))
	}
	return nil
}

// Validate checks the jobs section.
func (j JobsConfig) Validate() error {
	if j.Lease < 0 || (j.Lease > 0 && time.Duration(j.Lease) < 100*time.Millisecond) {
		return fieldErr("jobs.lease", "use a duration of at least 100ms, e.g. 30s", "%s is too short", time.Duration(j.Lease))
	}
	if j.RewrapRate < 0 || j.RewrapRate > 1e6 || j.RewrapRate != j.RewrapRate {
		return fieldErr("jobs.rewrapRate", "use containers per second from 0 (no bound) to 1000000, e.g. 2000", "%v is out of range", j.RewrapRate)
	}
	return nil
}

// PurgeConfig: data purges (SPEC R6).
type PurgeConfig struct {
	// Approvals is how many distinct authorised officers must approve a
	// purge (default 1).
	Approvals int `json:"approvals,omitempty"`
}

// Validate checks the purge section.
func (p PurgeConfig) Validate() error {
	if p.Approvals < 0 || p.Approvals > 10 {
		return fieldErr("purge.approvals", "use 1 to 10", "%d is out of range", p.Approvals)
	}
	return nil
}

// VaultServerConfig: built-in vault regions served by this process.
type VaultServerConfig struct {
	// Regions: each a name (e.g. eastus) and a listen address.
	Regions []RegionConfig `json:"regions"`
	// BaseDomain: vaults are served at {vault}.{baseDomain} (default
	// localhost).
	BaseDomain string `json:"baseDomain,omitempty"`
	// Names are extra DNS names or IPs for the server certificate.
	Names []string `json:"names,omitempty"`
	// MasterKeyFile seals the vault's keys (default
	// DATADIR/vault-master.key, created if missing).
	MasterKeyFile string `json:"masterKeyFile,omitempty"`
	// FeatureDelay: how long a feature registration stays Registering
	// (default 1m).
	FeatureDelay Duration `json:"featureDelay,omitempty"`
	// TokenTTL: lifetime of access tokens from the local issuer (default
	// 1h).
	TokenTTL Duration `json:"tokenTTL,omitempty"`
	// Drill allows fault drills (ck vault fault); never in production.
	Drill bool `json:"drill,omitempty"`
	// OpLogRetention: operation log entries older than this are deleted
	// every hour (0, the default: kept for ever; else at least 24h).
	OpLogRetention Duration `json:"opLogRetention,omitempty"`
}

// RegionConfig is one vault region: its name and listen address.
type RegionConfig struct {
	Name   string `json:"name"`
	Listen string `json:"listen"`
}

var regionName = regexp.MustCompile(`^[a-z0-9]{1,32}$`)

// Validate checks the vaultServer section.
func (v VaultServerConfig) Validate() error {
	var errs []error
	if len(v.Regions) == 0 {
		errs = append(errs, fieldErr("vaultServer.regions", "give at least one region, e.g. {name: eastus, listen: 127.0.0.1:8443}", "empty"))
	}
	seen := map[string]bool{}
	for i, r := range v.Regions {
		field := fmt.Sprintf("vaultServer.regions[%d]", i)
		if !regionName.MatchString(r.Name) {
			errs = append(errs, fieldErr(field+".name", "use 1-32 lower-case letters and digits, e.g. eastus", "%q is not a region name", r.Name))
		} else if seen[r.Name] {
			errs = append(errs, fieldErr(field+".name", "give each region once", "%q is given twice", r.Name))
		}
		seen[r.Name] = true
		if _, _, err := net.SplitHostPort(r.Listen); err != nil {
			errs = append(errs, fieldErr(field+".listen", "write host:port, e.g. 0.0.0.0:8443", "%q is not host:port", r.Listen))
		}
	}
	if v.FeatureDelay < 0 {
		errs = append(errs, fieldErr("vaultServer.featureDelay", "use a duration of 0 or more, e.g. 1m", "negative"))
	}
	if v.TokenTTL < 0 {
		errs = append(errs, fieldErr("vaultServer.tokenTTL", "use a positive duration, e.g. 1h", "negative"))
	}
	if v.OpLogRetention != 0 && time.Duration(v.OpLogRetention) < 24*time.Hour {
		errs = append(errs, fieldErr("vaultServer.opLogRetention", "use 0 (keep every entry) or a day or more, e.g. 8760h for a year: the log is the tenants' record of who used their keys", "%s is under a day", time.Duration(v.OpLogRetention)))
	}
	return errors.Join(errs...)
}

// Load reads a configuration file (YAML or JSON), expands ${ENV}
// references from the environment and checks the version. It does not
// validate the sections: a caller applies flags first, then calls
// Validate (New does too).
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(data, os.LookupEnv)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Parse reads a configuration (YAML or JSON), expanding ${NAME} in every
// string value with lookup; $${ writes a literal ${. Unknown fields are
// errors. An unset variable leaves its field empty and is an error of
// Validate, naming the variable and the field, when the process runs
// that field's section (so one file can serve ck server and ck vault
// server, each host setting the variables of its own sections).
func Parse(data []byte, lookup func(string) (string, bool)) (*Config, error) {
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, err
	}
	var tree any
	if err := json.Unmarshal(js, &tree); err != nil {
		return nil, err
	}
	if _, ok := tree.(map[string]any); !ok {
		return nil, errors.New(`want a mapping of sections, starting with "version: v1"`)
	}
	if err := knownFields(tree, reflect.TypeFor[Config](), ""); err != nil {
		return nil, err
	}
	var unset []*FieldError
	if tree, err = expandTree(tree, "", lookup, &unset); err != nil {
		return nil, err
	}
	if js, err = json.Marshal(tree); err != nil {
		return nil, err
	}
	var c Config
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, decodeError(err)
	}
	if c.Version != Version {
		return nil, (&Config{Version: c.Version}).versionError()
	}
	c.unset = unset
	return &c, nil
}

func (c *Config) versionError() error {
	if c.Version == "" {
		return fieldErr("version", `start the file with "version: v1"`, "missing")
	}
	return fieldErr("version", `this version reads files of version "v1" only: write the file for v1, or install a newer release`, "%q is not known", c.Version)
}

// decodeError names the field of a JSON decoding error.
func decodeError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fieldErr(te.Field, "write a "+te.Type.String()+" there", "got a %s", te.Value)
	}
	return err
}

// knownFields reports the first field of a decoded JSON tree that t does
// not have, with its path (encoding/json names only the key, and matches
// keys case-insensitively).
func knownFields(v any, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return nil // a type error, which decoding reports
		}
		for k, e := range m {
			f, ok := jsonField(t, k)
			if !ok {
				return fieldErr(join(k), "check the spelling (and case) against docs/config.example.yaml", "not a known field")
			}
			if err := knownFields(e, f.Type, join(k)); err != nil {
				return err
			}
		}
	case reflect.Map:
		if m, ok := v.(map[string]any); ok {
			for k, e := range m {
				if err := knownFields(e, t.Elem(), join(k)); err != nil {
					return err
				}
			}
		}
	case reflect.Slice:
		if l, ok := v.([]any); ok {
			for i, e := range l {
				if err := knownFields(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// jsonField is t's field whose JSON name is exactly name.
func jsonField(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.IsExported() && tag == name && tag != "-" {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// expandTree expands ${NAME} in every string of a decoded JSON tree; a
// string with an unset variable becomes "" and its error goes to unset.
func expandTree(v any, path string, lookup func(string) (string, bool), unset *[]*FieldError) (any, error) {
	switch t := v.(type) {
	case string:
		x, err := expandEnv(t, path, lookup)
		var fe *FieldError
		if errors.As(err, &fe) && errors.Is(err, errUnset) {
			*unset = append(*unset, fe)
			return "", nil
		}
		return x, err
	case map[string]any:
		for k, e := range t {
			p := k
			if path != "" {
				p = path + "." + k
			}
			x, err := expandTree(e, p, lookup, unset)
			if err != nil {
				return nil, err
			}
			t[k] = x
		}
	case []any:
		for i, e := range t {
			x, err := expandTree(e, fmt.Sprintf("%s[%d]", path, i), lookup, unset)
			if err != nil {
				return nil, err
			}
			t[i] = x
		}
	}
	return v, nil
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// expandEnv replaces each ${NAME} in s with the variable's value.
func expandEnv(s, field string, lookup func(string) (string, bool)) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		if i > 0 && s[i-1] == '$' { // $${ is a literal ${
			b.WriteString(s[:i-1] + "${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", fieldErr(field, "close the reference: ${NAME} (write $${ for a literal ${)", "unclosed ${")
		}
		name := s[i+2 : i+end]
		if !envName.MatchString(name) {
			return "", fieldErr(field, "name an environment variable with letters, digits and _, e.g. ${CK_OPERATOR_TOKEN}", "${%s} is not a variable reference", name)
		}
		val, ok := lookup(name)
		if !ok {
			return "", &FieldError{Field: field, Problem: "environment variable " + name + " is not set", Fix: "export " + name + " before starting ck, or write the value in the file", err: errUnset}
		}
		b.WriteString(val)
		s = s[i+end+1:]
	}
}
