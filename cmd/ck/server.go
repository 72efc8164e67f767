package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/customerkey/customerkey/internal/service"
)

func (a *app) serverCmd() *cobra.Command {
	var configFile, dir, listen, postgres, vaultConfig, masterKey, blobDir string
	var purgeApprovals int
	var jobLease time.Duration
	var rewrapRate float64
	var azure bool
	var names []string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the Customer Key service (REST API)",
		Long: `Run the Customer Key service: its REST API over HTTPS, described at
/openapi.json. State lives in SQLite in the data dir, or in PostgreSQL with
--postgres. The first start mints the operator's token into
DIR/service-operator.token.

Several nodes can share one PostgreSQL database. Each such node (cluster.shared,
the default with PostgreSQL) makes no secret of its own: provision once, and
give every node the same signing key (signer.key), operator token
(operator.token), keystore (keystore.pkcs11: one token; or keystore.file copied
to each node) and TLS (service.tls, or the cluster's CA copied into each data
dir). A node whose secrets differ from what the database records refuses to
start (docs/configuration.md, "Several nodes").

Settings come from flags, or from a configuration file (--config FILE, YAML or
JSON, "version: v1"; see docs/configuration.md and docs/config.example.yaml)
whose secrets are ${ENV} references, so every node reads the same ones. A flag
given on the command line overrides the file.`,
		Example: `  ck server --data /var/lib/ck --listen 0.0.0.0:9443 --name ck.example.internal
  ck server --config /etc/ck/server.yaml --listen 0.0.0.0:9444   # one node of many: secrets in the file`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(configFile)
			if err != nil {
				return err
			}
			f := cmd.Flags()
			cfg.VaultServer = nil // built-in vaults run under ck vault server
			if cfg.Service == nil {
				cfg.Service = &service.ServiceConfig{}
			}
			setFlag(f, "data", &cfg.DataDir, dir)
			setFlag(f, "listen", &cfg.Service.Listen, listen)
			setFlagList(f, "name", &cfg.Service.Names, names)
			setFlag(f, "blob-dir", &cfg.Service.Blobs.Dir, blobDir)
			setFlag(f, "postgres", &cfg.Store.Postgres, service.Secret(postgres))
			if f.Changed("postgres") {
				cfg.Store.SQLite = ""
			}
			switch {
			case vaultConfig != "" && azure:
				return fmt.Errorf("give --vault-config or --azure, not both")
			case vaultConfig != "":
				cfg.Vaults = service.VaultsConfig{Kind: service.VaultsBuiltin, ConnectionFile: vaultConfig}
			case azure:
				cfg.Vaults = service.VaultsConfig{Kind: service.VaultsAzure}
			}
			if f.Changed("service-master-key") {
				cfg.Keystore = service.KeystoreConfig{MasterKeyFile: masterKey}
			}
			setFlag(f, "job-lease", &cfg.Jobs.Lease, service.Duration(jobLease))
			setFlag(f, "rewrap-rate", &cfg.Jobs.RewrapRate, rewrapRate)
			setFlag(f, "purge-approvals", &cfg.Purge.Approvals, purgeApprovals)
			if verbose {
				cfg.Logging.Level = "debug"
			}
			if err := validateConfig(cfg, configFile); err != nil {
				return err
			}
			cfg.Logger = cfg.Logging.NewLogger(a.stderr)
			s, err := service.New(cmd.Context(), *cfg)
			if err != nil {
				return err
			}
			defer s.Close()
			token := "from the configuration"
			if file := s.OperatorTokenFile(); file != "" {
				token = "in " + file
			}
			ca := s.CAFile()
			if ca == "" {
				ca = "your certificate's"
			}
			fmt.Fprintf(a.stdout, "Customer Key service on https://%s (CA %s; operator token %s)\n", s.Addr(), ca, token)
			return s.Serve(cmd.Context())
		},
	}
	f := cmd.Flags()
	configFlag(cmd, &configFile)
	f.StringVar(&dir, "data", "ck-service-data", "data directory: TLS certificates, operator token, SQLite database")
	f.StringVar(&listen, "listen", "127.0.0.1:9443", "listen address")
	f.StringVar(&postgres, "postgres", "", "PostgreSQL URL (default: SQLite in the data dir)")
	f.StringSliceVar(&names, "name", nil, "extra DNS names or IPs for the server certificate")
	f.StringVar(&blobDir, "blob-dir", "", "keep large items' sealed chunks in files under this directory, for one node (default: in the database; service.blobs.dir)")
	f.BoolVarP(&verbose, "verbose", "v", false, "log every request")
	f.StringVar(&vaultConfig, "vault-config", "", "reach customer keys in a built-in vault: the service's connection file it writes (DIR/workload.json: acts as the service's applications only; an admin's vault.json or dev.json works too, and can do anything)")
	f.BoolVar(&azure, "azure", false, "reach customer keys in Azure Key Vault, authenticated by azidentity (managed identity, workload identity, environment)")
	f.StringVar(&masterKey, "service-master-key", "", "service master key file sealing availability keys (default DIR/service-master.key, created if missing)")
	f.DurationVar(&jobLease, "job-lease", 30*time.Second, "how long background jobs of a process that died wait before another process resumes them")
	f.Float64Var(&rewrapRate, "rewrap-rate", 0, "containers one job re-wraps per second, so a roll of many leaves room for the data plane (jobs.rewrapRate); 0: no bound")
	f.IntVar(&purgeApprovals, "purge-approvals", 1, "how many distinct authorised officers must approve a data purge")
	return cmd
}
