package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/customerkey/customerkey/internal/service"
)

func (a *app) vaultServerCmd() *cobra.Command {
	var configFile, dir, region, listen, baseDomain, postgres, masterKey string
	var names []string
	var featureDelay, tokenTTL, opLogRetention time.Duration
	var verbose, drill bool
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the built-in key vault (one region)",
		Long: `Run one region of the built-in key vault: an HTTPS server that speaks the Azure
Key Vault keys API at https://{vault}.{base-domain}:{port} and the management
API at https://{base-domain}:{port}. State lives in SQLite in the data dir, or
in PostgreSQL with --postgres. Connection details go to DIR/vault.json (the admin token: for ck) and
DIR/workload.json (the workload token: for ck server --vault-config, which
then acts as the service's applications only and grants no access).

Settings come from flags, or from a configuration file (--config, its
vaultServer, store, dataDir and logging sections; see docs/configuration.md);
a flag given on the command line overrides the file.`,
		Example: `  ck vault server --data /var/lib/ck-vault --region eastus --listen 0.0.0.0:8443 \
      --base-domain vault.example.internal --postgres postgres://ck@db/ck
  ck vault server --config /etc/ck/vault.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(configFile)
			if err != nil {
				return err
			}
			f := cmd.Flags()
			cfg.Service = nil // the service runs under ck server
			if cfg.VaultServer == nil {
				cfg.VaultServer = &service.VaultServerConfig{}
			}
			v := cfg.VaultServer
			switch {
			case len(v.Regions) > 1 && (f.Changed("region") || f.Changed("listen")):
				return fmt.Errorf("--region and --listen set one region, but the configuration gives %d (vaultServer.regions): change them there", len(v.Regions))
			case len(v.Regions) == 0:
				v.Regions = []service.RegionConfig{{}}
				fallthrough
			case len(v.Regions) == 1:
				setFlag(f, "region", &v.Regions[0].Name, region)
				setFlag(f, "listen", &v.Regions[0].Listen, listen)
			}
			setFlag(f, "data", &cfg.DataDir, dir)
			setFlag(f, "base-domain", &v.BaseDomain, baseDomain)
			setFlagList(f, "name", &v.Names, names)
			setFlag(f, "master-key-file", &v.MasterKeyFile, masterKey)
			setFlag(f, "feature-delay", &v.FeatureDelay, service.Duration(featureDelay))
			setFlag(f, "token-ttl", &v.TokenTTL, service.Duration(tokenTTL))
			setFlag(f, "op-log-retention", &v.OpLogRetention, service.Duration(opLogRetention))
			setFlag(f, "drill", &v.Drill, drill)
			setFlag(f, "postgres", &cfg.Store.Postgres, service.Secret(postgres))
			if f.Changed("postgres") {
				cfg.Store.SQLite = ""
			}
			if verbose {
				cfg.Logging.Level = "debug"
			}
			if err := validateConfig(cfg, configFile); err != nil {
				return err
			}
			return a.serve(cmd.Context(), *cfg, "vault.json", nil)
		},
	}
	f := cmd.Flags()
	configFlag(cmd, &configFile)
	f.StringVar(&dir, "data", "ck-vault-data", "data directory: CA, keys, admin token, SQLite database")
	f.StringVar(&region, "region", "eastus", "region name this server serves")
	f.StringVar(&listen, "listen", "127.0.0.1:8443", "listen address")
	f.StringVar(&baseDomain, "base-domain", "localhost", "vaults are served at {vault}.{base-domain}")
	f.StringSliceVar(&names, "name", nil, "extra DNS names or IPs for the server certificate")
	f.StringVar(&postgres, "postgres", "", "PostgreSQL URL (default: SQLite in the data dir)")
	f.StringVar(&masterKey, "master-key-file", "", "vault master key file, 64 hex characters (default DIR/vault-master.key, created if missing)")
	f.DurationVar(&featureDelay, "feature-delay", time.Minute, "how long a feature registration stays Registering")
	f.DurationVar(&tokenTTL, "token-ttl", time.Hour, "lifetime of access tokens from the local issuer")
	f.DurationVar(&opLogRetention, "op-log-retention", 0, "delete operation log entries older than this, every hour (0: keep every entry; else at least 24h, e.g. 8760h)")
	f.BoolVarP(&verbose, "verbose", "v", false, "log every request")
	f.BoolVar(&drill, "drill", false, "allow fault drills (ck vault fault); never on in production")
	return cmd
}
