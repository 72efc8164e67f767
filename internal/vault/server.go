// Package vault is the built-in key vault: a server that speaks the Azure
// Key Vault keys REST API (so the official azkeys client works against it
// unchanged) and a management API for what Azure Resource Manager would do
// (tenants, subscriptions, feature registration, principals, vaults, access
// policies and role assignments).
//
// Each region is one HTTPS listener. A vault is reached at
// https://{vault}.{base-domain}:{port} on its region's listener; the bare
// https://{base-domain}:{port} serves the management API. Private keys are
// sealed under the vault master key and never leave the server.
package vault

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/customerkey/customerkey/internal/events"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/vaultclient"
)

// AdminTokenFile holds the management admin token inside the data dir.
const AdminTokenFile = "admin.token"

// WorkloadTokenFile holds the workload token (vaultclient.Config's
// WorkloadToken) inside the data dir.
const WorkloadTokenFile = "workload.token"

// RegionConfig is one region: a name and the address to listen on.
type RegionConfig struct {
	Name string
	Addr string // host:port; port 0 picks a free port
}

// Config configures a Server.
type Config struct {
	DataDir       string // PKI, master key, issuer key and admin token live here
	Store         store.Store
	Regions       []RegionConfig
	BaseDomain    string        // default "localhost"
	ExtraNames    []string      // extra certificate names (DNS or IP)
	FeatureDelay  time.Duration // how long a feature stays Registering; default 1 minute
	TokenTTL      time.Duration // access-token lifetime; default 1 hour
	MasterKeyFile string        // default DataDir/vault-master.key (created if missing)
	Drill         bool          // allow fault drills (outage, slow, throttled, failing)
	// OpLogRetention: operation log entries older than this are deleted,
	// every hour (0: kept for ever).
	OpLogRetention time.Duration
	// Events carries access changes to the other vault nodes over the
	// same store (nil: one node).
	Events events.Bus
	Now    func() time.Time
	Logger *slog.Logger
}

// Validate checks the configuration and fills defaults.
func (c *Config) Validate() error {
	if c.Store == nil {
		return errors.New("vault config: no store")
	}
	if c.DataDir == "" {
		return errors.New("vault config: no data dir")
	}
	if len(c.Regions) == 0 {
		return errors.New("vault config: no regions; give at least one (name and listen address)")
	}
	seen := map[string]bool{}
	for _, r := range c.Regions {
		if !validRegion(r.Name) {
			return fmt.Errorf("vault config: region name %q: use lower-case letters and digits (e.g. eastus)", r.Name)
		}
		if seen[r.Name] {
			return fmt.Errorf("vault config: region %q given twice", r.Name)
		}
		seen[r.Name] = true
	}
	if c.BaseDomain == "" {
		c.BaseDomain = "localhost"
	}
	c.BaseDomain = strings.ToLower(c.BaseDomain)
	if c.FeatureDelay < 0 {
		return errors.New("vault config: feature delay must not be negative")
	}
	if c.FeatureDelay == 0 {
		c.FeatureDelay = time.Minute
	}
	if c.TokenTTL <= 0 {
		c.TokenTTL = time.Hour
	}
	if c.OpLogRetention != 0 && c.OpLogRetention < 24*time.Hour {
		return errors.New("vault config: the operation log's retention is 0 (kept for ever) or at least a day (24h): it is the tenants' record of who used their keys")
	}
	if c.MasterKeyFile == "" {
		c.MasterKeyFile = filepath.Join(c.DataDir, MasterKeyFile)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

func validRegion(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// Region is a running region listener.
type Region struct {
	Name string
	URL  string // https://{base}:{port}; the management URL and the token audience
	host string // {base}:{port}
	addr string // the listener's address, kept across outage drills
	ln   net.Listener
	st   regionState
}

// Server is the built-in vault.
type Server struct {
	cfg    Config
	st     store.Store
	mk     *masterKey
	iss    *issuer
	tls    *tls.Config
	leaves *leafCerts
	caFile string
	admin  [32]byte // SHA-256 of the admin token
	token  string
	// workload is the SHA-256 of the workload token, workloadToken the
	// token: the Customer Key service's, minting tokens for its
	// applications only (vaultclient.WorkloadApps).
	workload      [32]byte
	workloadToken string
	regions       []*Region
	mgmt          *http.ServeMux
	keys          keyCache
	ops           *opLog
	snap          *snapshot
	shared        events.Shared // set when vault nodes are separate processes over one database
}

// publishAccess tells every vault node that a write may have changed a
// vault's record, access or keys (events.VaultAccess): they drop their
// snapshots.
func (s *Server) publishAccess(ctx context.Context, op string) {
	if s.cfg.Events == nil {
		return
	}
	events.Tell(ctx, s.cfg.Events, events.Event{Kind: events.VaultAccess, Detail: op}, s.cfg.Logger, "a vault access change ("+op+")")
}

// New prepares a server: PKI, master key, issuer key, admin token and the
// region listeners (bound, not yet serving).
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, st: cfg.Store, keys: keyCache{m: map[string]any{}}, snap: newSnapshot()}
	if cfg.Events != nil {
		cfg.Events.Subscribe(func(e events.Event) {
			if e.Kind == events.VaultAccess {
				s.snap.invalidate()
				if e.Detail == "KeyPurge" || e.Detail == "VaultPurge" { // another node's purge: its keys go here too
					s.keys.drop("")
				}
			}
		})
		s.shared, _ = cfg.Events.(events.Shared)
	}
	var err error
	if s.leaves, s.caFile, err = ensurePKI(cfg.DataDir, cfg.BaseDomain, cfg.ExtraNames, s.vaultExists); err != nil {
		return nil, err
	}
	s.tls = s.leaves.config()
	if s.mk, err = loadMasterKey(cfg.MasterKeyFile, true); err != nil {
		return nil, err
	}
	if s.iss, err = loadIssuer(filepath.Join(cfg.DataDir, IssuerKeyFile), cfg.Now); err != nil {
		return nil, err
	}
	if s.token, err = loadToken(filepath.Join(cfg.DataDir, AdminTokenFile), "ckadm_"); err != nil {
		return nil, fmt.Errorf("admin token: %w", err)
	}
	s.admin = sha256.Sum256([]byte(s.token))
	if s.workloadToken, err = loadToken(filepath.Join(cfg.DataDir, WorkloadTokenFile), "ckwl_"); err != nil {
		return nil, fmt.Errorf("workload token: %w", err)
	}
	s.workload = sha256.Sum256([]byte(s.workloadToken))
	for _, rc := range cfg.Regions {
		ln, err := net.Listen("tcp", rc.Addr)
		if err != nil {
			s.closeListeners()
			return nil, fmt.Errorf("region %s: listen on %s: %w", rc.Name, rc.Addr, err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		host := cfg.BaseDomain + ":" + strconv.Itoa(port)
		s.regions = append(s.regions, &Region{Name: rc.Name, URL: "https://" + host, host: host, addr: ln.Addr().String(), ln: ln,
			st: regionState{fault: vaultclient.Fault{Region: rc.Name, Mode: FaultOff}, relisten: make(chan net.Listener, 1)}})
	}
	s.mgmt = s.mgmtRoutes()
	s.ops = newOpLog(cfg.Store, cfg.Logger)
	return s, nil
}

func (s *Server) closeListeners() {
	for _, r := range s.regions {
		r.ln.Close()
	}
}

// loadToken reads a token file, making it (32 random bytes after
// prefix, mode 0600) if there is none.
func loadToken(path, prefix string) (string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		b := make([]byte, 32)
		rand.Read(b)
		data = []byte(prefix + base64.RawURLEncoding.EncodeToString(b))
		err = os.WriteFile(path, append(data, '\n'), 0o600)
	}
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(data)), nil
}

// Regions returns the running regions.
func (s *Server) Regions() []*Region { return s.regions }

// TLSConfig is the server TLS configuration (local CA), for other listeners
// of the same process (the service under ck dev).
func (s *Server) TLSConfig() *tls.Config { return s.tls }

// MintedCertificates is how many per-vault certificates the server has
// issued since it started (one per existing vault asked for, at most).
func (s *Server) MintedCertificates() int { return s.leaves.minted() }

// vaultExists says whether a vault of that name is stored (deleted or not).
func (s *Server) vaultExists(ctx context.Context, name string) bool {
	_, err := s.st.Vault(ctx, name)
	return err == nil
}

// CAFile is the path of the local CA certificate clients must trust.
func (s *Server) CAFile() string { return s.caFile }

// AdminToken is the management admin token.
func (s *Server) AdminToken() string { return s.token }

// Serve serves every region until ctx is done, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, len(s.regions))
	var wg sync.WaitGroup
	for _, r := range s.regions {
		wg.Go(func() { s.serveRegion(ctx, r, errc) })
	}
	if s.cfg.OpLogRetention > 0 {
		wg.Go(func() { s.pruneOps(ctx) })
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		cancel()
	}
	shutCtx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	var sw sync.WaitGroup
	for _, r := range s.regions {
		sw.Go(func() { r.stopRegion(shutCtx) })
	}
	sw.Wait()
	wg.Wait()
	s.ops.close()
	return err
}

func (s *Server) httpServer(r *Region) *http.Server {
	return &http.Server{
		Handler:           s.handler(r),
		TLSConfig:         s.tls.Clone(), // each server owns its copy (servers write into it)
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      3 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelDebug),
		TLSNextProto:      map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
}

func listenAgain(ctx context.Context, addr string) (net.Listener, error) {
	var err error
	for range 50 {
		var ln net.Listener
		if ln, err = net.Listen("tcp", addr); err == nil {
			return ln, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil, err
}

func (s *Server) now() time.Time { return s.cfg.Now().UTC() }

func (s *Server) region(name string) *Region {
	for _, r := range s.regions {
		if r.Name == name {
			return r
		}
	}
	return nil
}

func (s *Server) regionNames() string {
	var names []string
	for _, r := range s.regions {
		names = append(names, r.Name)
	}
	return strings.Join(names, ", ")
}

// VaultURL is the data-plane URL of a vault in a region served here, or "".
func (s *Server) VaultURL(name, region string) string {
	if r := s.region(region); r != nil {
		return "https://" + strings.ToLower(name) + "." + r.host
	}
	return ""
}

// maxBody bounds every request body.
const maxBody = 1 << 20

// handler routes by Host: the bare base domain is the management API, a
// single label under it is a vault.
func (s *Server) handler(r *Region) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		c := &call{s: s, w: w, r: req, region: r, start: time.Now()}
		defer c.finish()
		host := strings.ToLower(req.Host)
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		switch {
		case host == s.cfg.BaseDomain:
			s.serveMgmt(c)
		case strings.HasSuffix(host, "."+s.cfg.BaseDomain) && !strings.Contains(strings.TrimSuffix(host, "."+s.cfg.BaseDomain), "."):
			if c.applyFault() {
				s.serveVault(c, strings.TrimSuffix(host, "."+s.cfg.BaseDomain))
			}
		default:
			c.op = "Unknown"
			c.fail(badParam("host %q is not served here: use https://%s for management or https://{vault-name}.%s for a vault", req.Host, r.host, r.host))
		}
	})
}

// bearer returns the bearer token of the request, or "".
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

func (s *Server) isAdmin(tok string) bool {
	sum := sha256.Sum256([]byte(tok))
	return tok != "" && subtle.ConstantTimeCompare(sum[:], s.admin[:]) == 1
}

func (s *Server) isWorkload(tok string) bool {
	sum := sha256.Sum256([]byte(tok))
	return tok != "" && subtle.ConstantTimeCompare(sum[:], s.workload[:]) == 1
}

// authenticate verifies the bearer token for this region. On failure it
// answers 401 with the Azure challenge naming tenant, before any body is read.
func (c *call) authenticate(tenant string, allowAdmin bool) bool {
	tok := bearer(c.r)
	if allowAdmin && c.s.isAdmin(tok) {
		c.admin = true
		c.principal = "admin"
		return true
	}
	if allowAdmin && c.s.isWorkload(tok) {
		c.directory = true
		c.principal = "workload"
		return true
	}
	msg := "AKV10000: Request is missing a Bearer or PoP token."
	if tok != "" {
		claims, err := c.s.iss.verify(tok, c.region.URL)
		switch {
		case err != nil:
			msg = "AKV10022: Invalid audience, signature or lifetime: " + err.Error()
		case tenant != "" && tenant != "common" && claims.TenantID != tenant:
			msg = fmt.Sprintf("AKV10032: Invalid issuer. Expected a token for tenant %s, found tenant %s.", tenant, claims.TenantID)
		default:
			c.claims = claims
			c.principal, c.tenant = claims.Subject, claims.TenantID
			return true
		}
	}
	if tenant == "" {
		tenant = "common"
	}
	c.w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer authorization="%s/%s", resource="%s"`, c.region.URL, tenant, c.region.URL))
	c.fail(&apiError{Status: http.StatusUnauthorized, Code: "Unauthorized", Message: msg})
	return false
}

// keyCache holds parsed private keys by vault/name/version. Entries are
// immutable (a version's key never changes), so no invalidation is needed;
// the size bound keeps memory in check.
type keyCache struct {
	mu sync.Mutex
	m  map[string]any
}

const keyCacheMax = 4096

func (k *keyCache) get(id string) (any, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.m[id]
	return v, ok
}

// drop forgets every key whose ID begins with prefix (a vault's
// "name/", a key's "vault/name/"): a purged key's material leaves the
// process's memory with the purge, not at the next restart.
func (k *keyCache) drop(prefix string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for id := range k.m {
		if strings.HasPrefix(id, strings.ToLower(prefix)) {
			delete(k.m, id)
		}
	}
}

func (k *keyCache) put(id string, v any) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.m) >= keyCacheMax {
		for id := range k.m { // evict an arbitrary entry
			delete(k.m, id)
			break
		}
	}
	k.m[id] = v
}

// ClientConfig is what a client needs to connect (written to dev.json):
// the admin's connection.
func (s *Server) ClientConfig() vaultclient.Config {
	c := vaultclient.Config{CAFile: s.caFile, ManagementURL: s.regions[0].URL, AdminToken: s.token, DataDir: s.cfg.DataDir}
	for _, r := range s.regions {
		c.Regions = append(c.Regions, vaultclient.Region{Name: r.Name, URL: r.URL})
	}
	return c
}

// WorkloadConfig is the Customer Key service's connection (written to
// workload.json): the workload token instead of the admin token, so that
// whoever runs the service cannot give itself access to a tenant's keys,
// nor give back access the tenant removed (SPEC T1, T5).
func (s *Server) WorkloadConfig() vaultclient.Config {
	c := s.ClientConfig()
	c.AdminToken, c.WorkloadToken, c.DataDir = "", s.workloadToken, ""
	return c
}
