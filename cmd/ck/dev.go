package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/customerkey/customerkey/internal/api"
	"github.com/customerkey/customerkey/internal/kms"
	"github.com/customerkey/customerkey/internal/onboarding"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/store/sqlstore"
	"github.com/customerkey/customerkey/internal/vault"
	"github.com/customerkey/customerkey/vaultclient"
)

// DevFile is the connection file ck dev writes into its data dir.
const DevFile = "dev.json"

func (a *app) devCmd() *cobra.Command {
	var dir string
	var port int
	var featureDelay, jobLease time.Duration
	var verbose bool
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run everything on this machine: two vault regions over SQLite",
		Long: `Run customerkey on this machine: two built-in vault regions (eastus and
westus) on two HTTPS listeners, over SQLite in the data dir. The first start
creates a local CA, a vault master key and an admin token there; later starts
keep all state. Connection details go to DIR/dev.json, which every other ck
command reads by default. Ctrl-C stops cleanly.`,
		Example: `  ck dev                         # ./ck-data, ports 8443 (eastus) and 8444 (westus)
  ck dev --data /tmp/ck --port 0  # free ports`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if port < 0 || port > 65534 {
				return fmt.Errorf("--port %d: use 0 (free ports) or 1-65534 (eastus on N, westus on N+1)", port)
			}
			east, west, svc := "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
			if port != 0 {
				east, west, svc = "127.0.0.1:"+strconv.Itoa(port), "127.0.0.1:"+strconv.Itoa(port+1), "127.0.0.1:"+strconv.Itoa(port+2)
			}
			return a.serveVault(cmd.Context(), serveOptions{
				dir:          dir,
				regions:      []vault.RegionConfig{{Name: "eastus", Addr: east}, {Name: "westus", Addr: west}},
				featureDelay: featureDelay,
				connFile:     DevFile,
				drill:        true,
				service:      svc,
				verbose:      verbose,
				jobLease:     jobLease,
			})
		},
	}
	cmd.Flags().StringVar(&dir, "data", "ck-data", "data directory (created if missing)")
	cmd.Flags().IntVar(&port, "port", 8443, "eastus listens on this port, westus on the next, the service on the one after; 0 picks free ports")
	cmd.Flags().DurationVar(&featureDelay, "feature-delay", 5*time.Second, "how long a feature registration stays Registering")
	cmd.Flags().DurationVar(&jobLease, "job-lease", 30*time.Second, "how long background jobs of a process that died wait before they are resumed")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "log every request")
	return cmd
}

type serveOptions struct {
	dir          string
	postgres     string
	regions      []vault.RegionConfig
	baseDomain   string
	extraNames   []string
	masterKey    string
	featureDelay time.Duration
	tokenTTL     time.Duration
	connFile     string
	verbose      bool
	drill        bool
	service      string // also run the Customer Key service on this address
	jobLease     time.Duration
}

// serveVault opens the store, starts the vault regions, writes the
// connection file and serves until ctx is done.
func (a *app) serveVault(ctx context.Context, o serveOptions) error {
	if err := os.MkdirAll(o.dir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
	var st store.Store
	var err error
	if o.postgres != "" {
		st, err = sqlstore.OpenPostgres(ctx, o.postgres)
	} else {
		st, err = sqlstore.OpenSQLite(ctx, filepath.Join(o.dir, "ck.db"))
	}
	if err != nil {
		return err
	}
	defer st.Close()
	srv, err := vault.New(vault.Config{
		DataDir: o.dir, Store: st, Regions: o.regions, BaseDomain: o.baseDomain, ExtraNames: o.extraNames,
		MasterKeyFile: o.masterKey, FeatureDelay: o.featureDelay, TokenTTL: o.tokenTTL, Logger: logger, Drill: o.drill,
	})
	if err != nil {
		return err
	}
	cc := srv.ClientConfig()
	var svc *api.Server
	var svcLn net.Listener
	if o.service != "" {
		vc, err := vaultclient.New(&cc)
		if err != nil {
			return err
		}
		ws, err := workloads(st, o.dir, "", logger, func(app string) (kms.Client, error) { return kms.Local(vc, app) })
		if err != nil {
			return err
		}
		signer, err := signingKey(o.dir)
		if err != nil {
			return err
		}
		if svc, err = api.New(api.Config{Store: st, Logger: logger, Workloads: ws, Azure: onboarding.VaultDirectory{C: vc}, Signer: signer, JobLease: o.jobLease}); err != nil {
			return err
		}
		if cc.ServiceToken, err = api.EnsureOperatorToken(ctx, st, filepath.Join(o.dir, api.OperatorTokenFile), time.Now()); err != nil {
			return err
		}
		if svcLn, err = net.Listen("tcp", o.service); err != nil {
			return fmt.Errorf("service: listen on %s: %w", o.service, err)
		}
		cc.ServiceURL = fmt.Sprintf("https://localhost:%d", svcLn.Addr().(*net.TCPAddr).Port)
	}
	if abs, err := filepath.Abs(cc.CAFile); err == nil {
		cc.CAFile = abs
	}
	if abs, err := filepath.Abs(cc.DataDir); err == nil {
		cc.DataDir = abs
	}
	data, _ := json.MarshalIndent(cc, "", "  ")
	connPath := filepath.Join(o.dir, o.connFile)
	if err := os.WriteFile(connPath, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", connPath, err)
	}
	w := a.stdout
	fmt.Fprintf(w, "customerkey is running (data in %s)\n", cc.DataDir)
	for _, r := range srv.Regions() {
		_, port, _ := net.SplitHostPort(r.URL[len("https://"):])
		fmt.Fprintf(w, "  vault region %-7s %s   (vaults at https://{vault-name}.localhost:%s)\n", r.Name, r.URL, port)
	}
	fmt.Fprintf(w, "  management API       %s\n", cc.ManagementURL)
	if svc != nil {
		fmt.Fprintf(w, "  Customer Key service %s   (OpenAPI at /openapi.json)\n", cc.ServiceURL)
	}
	fmt.Fprintf(w, "  local CA             %s\n", cc.CAFile)
	fmt.Fprintf(w, "  connection file      %s   (admin token inside; ck reads it by default)\n", connPath)
	if o.drill {
		fmt.Fprintln(w, "  fault drills         on (ck vault fault REGION outage|slow|throttled|failing|off)")
	}
	fmt.Fprintln(w, "Press Ctrl-C to stop.")
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	if svc != nil {
		go func() { errc <- svc.Serve(ctx, svcLn, srv.TLSConfig()) }()
	}
	err = srv.Serve(ctx)
	cancel()
	if svc != nil {
		if serr := <-errc; err == nil {
			err = serr
		}
	}
	fmt.Fprintln(w, "customerkey stopped.")
	return err
}
