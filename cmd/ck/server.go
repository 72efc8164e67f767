package main

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
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

func (a *app) serverCmd() *cobra.Command {
	var dir, listen, postgres, vaultConfig, masterKey string
	var purgeApprovals int
	var jobLease time.Duration
	var azure bool
	var names []string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the Customer Key service (REST API)",
		Long: `Run the Customer Key service: its REST API over HTTPS, described at
/openapi.json. State lives in SQLite in the data dir, or in PostgreSQL with
--postgres (several nodes can share one database). The first start mints the
operator's token into DIR/service-operator.token.`,
		Example: `  ck server --data /var/lib/ck --listen 0.0.0.0:9443 --name ck.example.internal --postgres postgres://ck@db/ck`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return err
			}
			level := slog.LevelInfo
			if verbose {
				level = slog.LevelDebug
			}
			logger := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
			var st store.Store
			var err error
			if postgres != "" {
				st, err = sqlstore.OpenPostgres(ctx, postgres)
			} else {
				st, err = sqlstore.OpenSQLite(ctx, filepath.Join(dir, "ck.db"))
			}
			if err != nil {
				return err
			}
			defer st.Close()
			tlsConfig, caFile, err := vault.EnsurePKI(dir, "localhost", names)
			if err != nil {
				return err
			}
			var newKMS func(string) (kms.Client, error)
			var az onboarding.Azure
			switch {
			case vaultConfig != "" && azure:
				return fmt.Errorf("give --vault-config or --azure, not both")
			case vaultConfig != "":
				vcfg, err := vaultclient.LoadConfig(vaultConfig)
				if err != nil {
					return err
				}
				vc, err := vaultclient.New(vcfg)
				if err != nil {
					return err
				}
				newKMS = func(app string) (kms.Client, error) { return kms.Local(vc, app) }
				az = onboarding.VaultDirectory{C: vc}
			case azure:
				newKMS = func(string) (kms.Client, error) { return kms.ForAzure("") }
			}
			var ws map[string]api.Workload
			if newKMS != nil {
				if ws, err = workloads(st, dir, masterKey, logger, newKMS); err != nil {
					return err
				}
			} else {
				logger.Warn("no key vaults configured (--vault-config or --azure): DEPs cannot be created")
			}
			signer, err := signingKey(dir)
			if err != nil {
				return err
			}
			svc, err := api.New(api.Config{Store: st, Logger: logger, Workloads: ws, Azure: az, Signer: signer, PurgeApprovals: purgeApprovals, JobLease: jobLease})
			if err != nil {
				return err
			}
			tokenFile := filepath.Join(dir, api.OperatorTokenFile)
			if _, err := api.EnsureOperatorToken(ctx, st, tokenFile, time.Now()); err != nil {
				return err
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Customer Key service on https://%s (CA %s; operator token in %s)\n", ln.Addr(), caFile, tokenFile)
			return svc.Serve(ctx, ln, tlsConfig)
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "data", "ck-service-data", "data directory: TLS certificates, operator token, SQLite database")
	f.StringVar(&listen, "listen", "127.0.0.1:9443", "listen address")
	f.StringVar(&postgres, "postgres", "", "PostgreSQL URL (default: SQLite in the data dir)")
	f.StringSliceVar(&names, "name", nil, "extra DNS names or IPs for the server certificate")
	f.BoolVarP(&verbose, "verbose", "v", false, "log every request")
	f.StringVar(&vaultConfig, "vault-config", "", "reach customer keys in a built-in vault: its connection file (vault.json or dev.json)")
	f.BoolVar(&azure, "azure", false, "reach customer keys in Azure Key Vault, authenticated by azidentity (managed identity, workload identity, environment)")
	f.StringVar(&masterKey, "service-master-key", "", "service master key file sealing availability keys (default DIR/service-master.key, created if missing)")
	f.DurationVar(&jobLease, "job-lease", 30*time.Second, "how long background jobs of a process that died wait before another process resumes them")
	f.IntVar(&purgeApprovals, "purge-approvals", 1, "how many distinct authorised officers must approve a data purge")
	return cmd
}
