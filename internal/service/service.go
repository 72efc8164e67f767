// Package service is customerkey's one composition root: New turns a
// Config (the versioned configuration file, or the same struct filled in
// Go) into a running process, whether that is the Customer Key service
// (ck server), built-in vault regions (ck vault server), or both over one
// store (ck dev). The bench and tests build the service the same way.
//
//	cfg, err := service.Load("/etc/ck/server.yaml") // ${ENV} expanded
//	// ... apply flags ...
//	s, err := service.New(ctx, *cfg)                // validates, opens, binds
//	defer s.Close()
//	err = s.Serve(ctx)                              // until ctx is done
package service

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/customerkey/customerkey/internal/api"
	"github.com/customerkey/customerkey/internal/audit"
	"github.com/customerkey/customerkey/internal/blob"
	"github.com/customerkey/customerkey/internal/dep"
	"github.com/customerkey/customerkey/internal/envelope"
	"github.com/customerkey/customerkey/internal/events"
	"github.com/customerkey/customerkey/internal/keyfile"
	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/keystore"
	"github.com/customerkey/customerkey/internal/kms"
	"github.com/customerkey/customerkey/internal/onboarding"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/store/sqlstore"
	"github.com/customerkey/customerkey/internal/tenant"
	"github.com/customerkey/customerkey/internal/tlsconf"
	"github.com/customerkey/customerkey/internal/vault"
	"github.com/customerkey/customerkey/vaultclient"
)

// Files in the data dir, used when the configuration gives no secret.
const (
	DatabaseFile      = "ck.db"
	KeystoreFile      = "service-keystore.json"
	MasterKeyFile     = "service-master.key" // the old master key, read only to re-seal
	SigningKeyFile    = "service-signing.key"
	OperatorTokenFile = tenant.OperatorTokenFile
)

// Service is a built process: its store, and the service API and/or the
// built-in vault regions, bound to their listeners but not yet serving.
type Service struct {
	cfg        Config
	log        *slog.Logger
	st         store.Store
	closeStore bool

	vault *vault.Server

	api       *api.Server
	ln        net.Listener
	tls       *tls.Config
	caFile    string
	opToken   string
	opFile    string
	workloads map[dep.Kind]dep.Workload
	keks      keystore.Keystore
	bus       interface {
		events.Bus
		Close() error
	}
	metrics *Metrics
	// freshKeystore: this start made the keystore's first version.
	freshKeystore bool

	mu     sync.Mutex
	served bool
}

// New validates cfg and builds what it describes: the store (SQLite file or
// PostgreSQL URL), the built-in vault regions (VaultServer), the keyrings of
// the workloads, onboarding's view of the vaults, the signer, the operator's
// token and the API (Service). Listeners are bound, so ports are known
// before Serve.
func New(ctx context.Context, cfg Config) (_ *Service, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = cfg.Logging.NewLogger(os.Stderr)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("dataDir: %w", err)
	}
	s := &Service{cfg: cfg, log: cfg.Logger}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if err := s.openStore(ctx); err != nil {
		return nil, err
	}
	if cfg.Service != nil {
		s.metrics = NewMetrics() // before the events bus, which counts into it
	}
	if err := s.openEvents(ctx); err != nil {
		return nil, err
	}
	if cfg.VaultServer != nil {
		if err := s.buildVault(); err != nil {
			return nil, err
		}
	}
	if cfg.Service != nil {
		if err := s.buildService(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *Service) openStore(ctx context.Context) error {
	c := s.cfg.Store
	var err error
	switch {
	case c.Use != nil:
		s.st = c.Use
		return nil
	case c.Postgres != "":
		s.st, err = sqlstore.OpenPostgres(ctx, string(c.Postgres))
	default:
		file := c.SQLite
		if file == "" {
			file = filepath.Join(s.cfg.DataDir, DatabaseFile)
		}
		s.st, err = sqlstore.OpenSQLite(ctx, file)
	}
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	s.closeStore = true
	return nil
}

// openEvents starts the events bus of this node: LISTEN/NOTIFY over a
// PostgreSQL store (nodes share it), in-process over SQLite (one process).
func (s *Service) openEvents(ctx context.Context) error {
	host, _ := os.Hostname()
	ec := events.Config{Store: s.st, Node: fmt.Sprintf("%s/%d", host, os.Getpid()), Interval: time.Duration(s.cfg.Events.Interval), Logger: s.log}
	if s.metrics != nil {
		ec.Count = func(kind, direction string) { s.metrics.Events.WithLabelValues(kind, direction).Inc() }
	}
	if s.cfg.Store.Postgres != "" && s.cfg.Store.Use == nil {
		b, err := events.NewPostgres(ctx, string(s.cfg.Store.Postgres), ec)
		if err != nil {
			return fmt.Errorf("events: %w", err)
		}
		s.bus = b
		return nil
	}
	b, err := events.NewLocal(ctx, ec)
	if err != nil {
		return fmt.Errorf("events: %w", err)
	}
	s.bus = b
	return nil
}

// Events is this node's events bus.
func (s *Service) Events() events.Bus { return s.bus }

func (s *Service) buildVault() error {
	v := s.cfg.VaultServer
	regions := make([]vault.RegionConfig, len(v.Regions))
	for i, r := range v.Regions {
		regions[i] = vault.RegionConfig{Name: r.Name, Addr: r.Listen}
	}
	var err error
	s.vault, err = vault.New(vault.Config{
		DataDir: s.cfg.DataDir, Store: s.st, Regions: regions, BaseDomain: v.BaseDomain, ExtraNames: v.Names,
		MasterKeyFile: v.MasterKeyFile, FeatureDelay: time.Duration(v.FeatureDelay), TokenTTL: time.Duration(v.TokenTTL), OpLogRetention: time.Duration(v.OpLogRetention), Logger: s.log, Drill: v.Drill, Now: s.cfg.Now, Events: s.bus,
	})
	return err
}

func (s *Service) buildService(ctx context.Context) error {
	cfg := s.cfg
	newKMS, az, err := s.vaults()
	if err != nil {
		return err
	}
	if newKMS != nil {
		if s.workloads, err = s.buildWorkloads(newKMS); err != nil {
			return err
		}
	} else {
		s.log.Warn("no key vaults configured (vaults.kind builtin or azure; --vault-config or --azure): DEPs cannot be created")
	}
	signer, err := s.signer()
	if err != nil {
		return err
	}
	var blobs blob.Store // nil: the database
	if dir := cfg.Service.Blobs.Dir; dir != "" {
		if blobs, err = blob.Dir(dir, envelope.ChunkSize+envelope.TagSize); err != nil {
			return fmt.Errorf("service.blobs.dir: %w", err)
		}
	}
	if s.api, err = NewAPI(Parts{
		Store: s.st, Logger: s.log, Now: cfg.Now, Workloads: s.workloads, Azure: az, Signer: signer,
		PurgeApprovals: cfg.Purge.Approvals, JobLease: time.Duration(cfg.Jobs.Lease), RewrapRate: cfg.Jobs.RewrapRate,
		RevocationProbe: time.Duration(cfg.Revocation.ProbeInterval), Events: s.bus,
		Metrics: s.metrics, Ready: s.readyChecks(), Blobs: blobs, Limits: cfg.Service.Limits,
	}); err != nil {
		return err
	}
	if err := s.operatorToken(ctx); err != nil {
		return err
	}
	if cfg.Shared() {
		if err := s.checkCluster(ctx, signer); err != nil {
			return err
		}
	} else if cfg.Store.Postgres != "" {
		s.warnPerNodeSecrets()
	}
	if err := s.serviceTLS(); err != nil {
		return err
	}
	if cfg.Service.Listen != "" {
		if s.ln, err = net.Listen("tcp", cfg.Service.Listen); err != nil {
			return fmt.Errorf("service.listen: %w", err)
		}
	}
	return nil
}

// vaults resolves the vaults section: how each workload's kms client is
// made, and where onboarding reads subscriptions and vaults.
func (s *Service) vaults() (func(app string) (kms.Client, error), onboarding.Azure, error) {
	v := s.cfg.Vaults
	kind := v.Kind
	if kind == "" {
		kind = VaultsNone
		if v.ConnectionFile != "" || v.Connection != nil || s.vault != nil {
			kind = VaultsBuiltin
		}
	}
	switch kind {
	case VaultsAzure:
		return func(string) (kms.Client, error) { return kms.ForAzure(v.AzureTenantID, v.Domains, s.log) }, nil, nil
	case VaultsBuiltin:
		var cc *vaultclient.Config
		switch {
		case v.Connection != nil:
			cc = v.Connection
		case v.ConnectionFile != "":
			var err error
			if cc, err = vaultclient.LoadConfig(v.ConnectionFile); err != nil {
				return nil, nil, fmt.Errorf("vaults.connectionFile: %w", err)
			}
		case s.vault != nil: // ck dev: the service gets the workload token, not the admin's
			c := s.vault.WorkloadConfig()
			cc = &c
		default:
			return nil, nil, fieldErr("vaults.connectionFile", "give the built-in vault's connection file (vault.json from ck vault server)", "vaults.kind is builtin but no connection file is given")
		}
		vc, err := vaultclient.New(cc)
		if err != nil {
			return nil, nil, fmt.Errorf("vaults: %w", err)
		}
		domains := v.Domains
		if len(domains) == 0 {
			domains = vc.VaultDomains()
		}
		return func(app string) (kms.Client, error) {
			if cc.AdminToken == "" && !slices.ContainsFunc(vaultclient.WorkloadApps, func(a string) bool { return strings.EqualFold(a, app) }) {
				return nil, fieldErr("workloads", "use one of "+strings.Join(vaultclient.WorkloadApps, ", ")+", or give the service the vault admin's connection file (vault.json), which can act as any application",
					"the built-in vault's workload token (workload.json) mints tokens only for the service's own applications, not %s", app)
			}
			return kms.NewAzure(kms.AzureConfig{Credential: vc.Credential(app), HTTPClient: vc.HTTP(), Domains: domains, Logger: s.log})
		}, onboarding.VaultDirectory{C: vc}, nil
	}
	return nil, nil, nil
}

// buildWorkloads gives each DEP kind its workload: the application's kms
// client and a keyring, one per application, all sharing one keystore of
// availability keys sealed under the key-encryption keys of the configured
// keystore (a file by default, or a PKCS#11 token).
func (s *Service) buildWorkloads(newKMS func(app string) (kms.Client, error)) (map[dep.Kind]dep.Workload, error) {
	keks, err := s.openKeystore()
	if err != nil {
		return nil, err
	}
	s.keks = keks
	if v, err := keks.Current(context.Background()); err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	} else if v == 0 { // a new keystore: its first version, now
		if _, err := keks.Rotate(context.Background()); err != nil {
			return nil, fmt.Errorf("keystore: %w", err)
		}
		s.freshKeystore = true
	}
	ks := keyring.NewKeystore(s.st, keks)
	if err := s.migrateMasterKey(ks); err != nil {
		return nil, err
	}
	log := audit.New(s.st, s.cfg.Now, s.log)
	apps := map[string]string{}
	for kind, w := range s.cfg.Workloads {
		apps[kind] = w.App
	}
	if len(apps) == 0 {
		apps = defaultWorkloads
	}
	kinds := make([]string, 0, len(apps))
	for k := range apps {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	byApp := map[string]dep.Workload{}
	out := map[dep.Kind]dep.Workload{}
	for _, kind := range kinds {
		app := strings.ToLower(apps[kind])
		if w, ok := byApp[app]; ok {
			out[dep.Kind(kind)] = w
			continue
		}
		c, err := newKMS(app)
		if err != nil {
			return nil, fmt.Errorf("workloads.%s: %w", kind, err)
		}
		c = s.metrics.KMS(c)
		w := dep.Workload{App: app, KMS: c, Ring: keyring.New(c, ks, keyring.Config{Logger: s.log.With("workload", kind), Metrics: s.metrics.Keyring, Audit: log.KeyringEvent(app)})}
		byApp[app], out[dep.Kind(kind)] = w, w
	}
	return out, nil
}

// openKeystore opens the keystore of key-encryption keys: the PKCS#11
// token configured, else the keystore file (DATADIR/service-keystore.json
// by default, created on first use).
func (s *Service) openKeystore() (keystore.Keystore, error) {
	k := s.cfg.Keystore
	if p := k.PKCS11; p != nil {
		ks, err := keystore.OpenPKCS11(keystore.PKCS11Config{Module: p.Module, TokenLabel: p.TokenLabel, PIN: strings.TrimSpace(string(p.PIN))})
		if err != nil {
			return nil, fmt.Errorf("keystore.pkcs11: %w", err)
		}
		return ks, nil
	}
	file := k.File
	if file == "" {
		file = filepath.Join(s.cfg.DataDir, KeystoreFile)
	}
	ks, err := keystore.OpenFile(file)
	if err != nil {
		return nil, fmt.Errorf("keystore.file: %w", err)
	}
	return ks, nil
}

// migrateMasterKey re-seals, under the keystore, the availability keys of
// a database from before it, which the old service master key sealed
// (docs/lifecycle.md). Nothing to do, and no master key read, once done.
func (s *Service) migrateMasterKey(ks *keyring.Keystore) error {
	ctx := context.Background()
	need, err := ks.NeedsMasterKey(ctx)
	if err != nil || !need {
		return err
	}
	master, err := s.masterKey()
	if err != nil {
		return fmt.Errorf("availability keys sealed under the old service master key need it to be re-sealed: %w", err)
	}
	n, err := ks.MigrateMasterKey(ctx, master)
	if err != nil {
		return fmt.Errorf("keystore: re-seal the availability keys sealed under the service master key: %w", err)
	}
	s.log.Warn("keystore: availability keys re-sealed from the old service master key under the keystore; the master key is no longer used: remove it (and keystore.masterKey) once no backup from before needs restoring, since until then it opens those backups' availability keys",
		"keys", n)
	return nil
}

// masterKey is the old service master key, which sealed availability keys
// before the keystore: from the configuration, else from its file (never
// created).
func (s *Service) masterKey() (cipher.AEAD, error) {
	k := s.cfg.Keystore
	if k.MasterKey != "" {
		raw, err := hex.DecodeString(strings.TrimSpace(string(k.MasterKey)))
		if err != nil || len(raw) != 32 {
			return nil, fieldErr("keystore.masterKey", "give 64 hex characters", "not 64 hex characters")
		}
		defer clear(raw)
		// The same AEAD as keyring.LoadServiceMasterKey builds from a file.
		block, err := aes.NewCipher(raw)
		if err != nil {
			return nil, err
		}
		return cipher.NewGCM(block)
	}
	file := k.MasterKeyFile
	if file == "" {
		file = filepath.Join(s.cfg.DataDir, MasterKeyFile)
	}
	return keyring.LoadServiceMasterKey(file, false)
}

// signer is the Ed25519 key that signs crypto-shred certificates.
func (s *Service) signer() (ed25519.PrivateKey, error) {
	c := s.cfg.Signer
	var seed []byte
	var err error
	if c.Key != "" {
		if seed, err = hex.DecodeString(strings.TrimSpace(string(c.Key))); err != nil || len(seed) != ed25519.SeedSize {
			return nil, fieldErr("signer.key", "give 64 hex characters", "not 64 hex characters")
		}
	} else {
		file := c.KeyFile
		if file == "" {
			file = filepath.Join(s.cfg.DataDir, SigningKeyFile)
		}
		if s.cfg.Shared() {
			if err := provisioned("signer.keyFile", file, "the cluster's signing key file"); err != nil {
				return nil, err
			}
		}
		if seed, err = keyfile.Load(file, !s.cfg.Shared()); err != nil {
			return nil, fmt.Errorf("signer: %w", err)
		}
	}
	defer clear(seed)
	return ed25519.NewKeyFromSeed(seed), nil
}

// operatorToken makes sure the store knows the operator's token: the one
// the configuration gives (every node the same), else the one in the
// token file, minted on first start.
func (s *Service) operatorToken(ctx context.Context) error {
	o := s.cfg.Operator
	now := s.cfg.Now()
	if o.Token == "" && s.cfg.Shared() { // the cluster's token, provisioned: never minted here
		if err := provisioned("operator.tokenFile", o.TokenFile, "the cluster's operator token file"); err != nil {
			return err
		}
		b, err := os.ReadFile(o.TokenFile)
		if err != nil {
			return fmt.Errorf("operator.tokenFile: %w", err)
		}
		o.Token = Secret(strings.TrimSpace(string(b)))
		if err := (OperatorConfig{Token: o.Token}).Validate(); err != nil {
			return fieldErr("operator.tokenFile", "write the cluster's operator token (32+ characters, no spaces) into "+o.TokenFile, "%v", err)
		}
		s.opFile = o.TokenFile
	}
	if o.Token == "" {
		s.opFile = o.TokenFile
		if s.opFile == "" {
			s.opFile = filepath.Join(s.cfg.DataDir, OperatorTokenFile)
		}
		var err error
		s.opToken, err = tenant.EnsureOperatorToken(ctx, s.st, s.opFile, now)
		return err
	}
	tok := strings.TrimSpace(string(o.Token))
	hash := tenant.HashToken(tok)
	if s.cfg.Shared() {
		if err := s.checkOperatorToken(ctx, hash); err != nil {
			return err
		}
	}
	if _, err := s.st.Token(ctx, hash); err == nil {
		s.opToken = tok
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("operator.token: %w", err)
	}
	err := s.st.CreateToken(ctx, store.APIToken{Hash: hash, Role: tenant.RoleOperator, Subject: "operator", Created: now, Expires: now.AddDate(10, 0, 0)})
	if err != nil {
		if _, again := s.st.Token(ctx, hash); again != nil { // another node may have stored it first
			return fmt.Errorf("operator.token: store: %w", err)
		}
	}
	s.opToken = tok
	return nil
}

// warnPerNodeSecrets warns when nodes sharing a PostgreSQL database would
// each make their own secret (SPEC S1).
func (s *Service) warnPerNodeSecrets() {
	c := s.cfg
	for _, f := range []struct {
		field      string
		inline     Secret
		file, name string
	}{
		{"signer.key", c.Signer.Key, c.Signer.KeyFile, SigningKeyFile},
		{"operator.token", c.Operator.Token, c.Operator.TokenFile, OperatorTokenFile},
	} {
		if f.inline == "" && f.file == "" {
			s.log.Warn("a per-node secret over a shared PostgreSQL store: every node needs the same one; set it from ${ENV} in the configuration (SPEC S1)",
				"field", f.field, "file", filepath.Join(c.DataDir, f.name))
		}
	}
	if c.Keystore.PKCS11 == nil {
		s.log.Warn("a file keystore over a shared PostgreSQL store: the key-encryption keys are per node and a purge rotates them on one node only; give every node the same PKCS#11 token (keystore.pkcs11) to run more than one (SPEC S1, T8)")
	}
}

func (s *Service) serviceTLS() error {
	c := s.cfg.Service
	var err error
	switch {
	case c.TLS.CertFile != "":
		pair, err := tls.LoadX509KeyPair(c.TLS.CertFile, c.TLS.KeyFile)
		if err != nil {
			return fmt.Errorf("service.tls: %w", err)
		}
		s.tls = tlsconf.Server()
		s.tls.Certificates = []tls.Certificate{pair}
	case s.vault != nil && len(c.Names) == 0:
		s.tls, s.caFile = s.vault.TLSConfig(), s.vault.CAFile()
	default:
		if s.cfg.Shared() && c.Listen != "" {
			if err := s.sharedCA(); err != nil {
				return err
			}
		}
		if s.tls, s.caFile, err = vault.EnsurePKI(s.cfg.DataDir, "localhost", c.Names); err != nil {
			return fmt.Errorf("service: %w", err)
		}
	}
	return nil
}

// Serve serves every listener (the service API and its background jobs,
// the vault regions) until ctx is done or one of them fails, then shuts
// them all down. A service without a listener runs its jobs only.
func (s *Service) Serve(ctx context.Context) error {
	s.mu.Lock()
	if s.served {
		s.mu.Unlock()
		return errors.New("service: Serve called twice")
	}
	s.served = true
	s.mu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	run := func(f func() error) {
		wg.Go(func() {
			err := f()
			errc <- err
			cancel()
		})
	}
	if s.api != nil {
		if s.ln != nil {
			run(func() error { return s.api.Serve(ctx, s.ln, s.tls) })
		} else {
			run(func() error { s.api.RunJobs(ctx); return nil })
		}
	}
	if s.vault != nil {
		run(func() error { return s.vault.Serve(ctx) })
	}
	wg.Wait()
	close(errc)
	var first error
	for err := range errc {
		if err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Close releases what New opened: listeners never served, and the store
// (unless the configuration gave an open one).
func (s *Service) Close() error {
	s.mu.Lock()
	served := s.served
	s.served = true
	s.mu.Unlock()
	if !served {
		if s.ln != nil {
			s.ln.Close()
		}
		if s.vault != nil { // stops at once and closes the region listeners
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if err := s.vault.Serve(ctx); err != nil && !errors.Is(err, context.Canceled) {
				s.log.Warn("service: closing the vault", "err", err)
			}
		}
	}
	if s.bus != nil {
		s.bus.Close()
		s.bus = nil
	}
	if s.keks != nil {
		s.keks.Close()
		s.keks = nil
	}
	if s.closeStore && s.st != nil {
		s.closeStore = false
		return s.st.Close()
	}
	return nil
}

// readyChecks are what /readyz asks: the database (a query) and the
// keystore (its current version), when the node has one.
func (s *Service) readyChecks() []api.ReadyCheck {
	checks := []api.ReadyCheck{{Name: "database", Check: func(ctx context.Context) error {
		p, ok := s.st.(interface{ Ping(context.Context) error })
		if !ok {
			return nil
		}
		return p.Ping(ctx)
	}}}
	return append(checks, api.ReadyCheck{Name: "keystore", Check: func(ctx context.Context) error {
		if s.keks == nil {
			return nil
		}
		_, err := s.keks.Current(ctx)
		return err
	}})
}

// Metrics are the node's Prometheus metrics (nil without a service).
func (s *Service) Metrics() *Metrics { return s.metrics }

// Store is the store the service runs on.
func (s *Service) Store() store.Store { return s.st }

// Vault is the built-in vault of this process, or nil.
func (s *Service) Vault() *vault.Server { return s.vault }

// Handler serves the service API (nil without a service section), for a
// caller that serves it itself (httptest); RunJobs then runs the jobs.
func (s *Service) Handler() http.Handler {
	if s.api == nil {
		return nil
	}
	return s.api.Handler()
}

// RunJobs runs the background jobs until ctx is done (Serve does it).
func (s *Service) RunJobs(ctx context.Context) {
	if s.api != nil {
		s.api.RunJobs(ctx)
	}
}

// Addr is the service listener's address, or nil.
func (s *Service) Addr() net.Addr {
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// URL is the service's base URL (https://localhost:PORT), or "".
func (s *Service) URL() string {
	if s.ln == nil {
		return ""
	}
	return fmt.Sprintf("https://localhost:%d", s.ln.Addr().(*net.TCPAddr).Port)
}

// CAFile is the local CA that issued the service's certificate ("" for a
// configured certificate).
func (s *Service) CAFile() string { return s.caFile }

// OperatorToken is the service operator's bearer token.
func (s *Service) OperatorToken() string { return s.opToken }

// OperatorTokenFile is where the operator's token is kept, or "" when the
// configuration gives it.
func (s *Service) OperatorTokenFile() string { return s.opFile }

// Keyring is the keyring of a DEP kind's workload (mailbox, site, mdep),
// or nil.
func (s *Service) Keyring(kind string) *keyring.Keyring { return s.workloads[dep.Kind(kind)].Ring }

// KMS is the kms client of a DEP kind's workload, or nil.
func (s *Service) KMS(kind string) kms.Client { return s.workloads[dep.Kind(kind)].KMS }

// ClientConfig is what a client needs to connect: the built-in vault's
// connection (when it runs here), the service URL and the operator's
// token.
func (s *Service) ClientConfig() vaultclient.Config {
	var c vaultclient.Config
	if s.vault != nil {
		c = s.vault.ClientConfig()
	}
	c.ServiceURL, c.ServiceToken = s.URL(), s.opToken
	if c.DataDir == "" {
		c.DataDir = s.cfg.DataDir
	}
	return c
}
