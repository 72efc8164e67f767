package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/customerkey/customerkey/internal/vault"
)

func (a *app) vaultServerCmd() *cobra.Command {
	o := serveOptions{connFile: "vault.json"}
	var region, listen string
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the built-in key vault (one region)",
		Long: `Run one region of the built-in key vault: an HTTPS server that speaks the Azure
Key Vault keys API at https://{vault}.{base-domain}:{port} and the management
API at https://{base-domain}:{port}. State lives in SQLite in the data dir, or
in PostgreSQL with --postgres. Connection details go to DIR/vault.json.`,
		Example: `  ck vault server --data /var/lib/ck-vault --region eastus --listen 0.0.0.0:8443 \
      --base-domain vault.example.internal --postgres postgres://ck@db/ck`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.regions = []vault.RegionConfig{{Name: region, Addr: listen}}
			return a.serveVault(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dir, "data", "ck-vault-data", "data directory: CA, keys, admin token, SQLite database")
	f.StringVar(&region, "region", "eastus", "region name this server serves")
	f.StringVar(&listen, "listen", "127.0.0.1:8443", "listen address")
	f.StringVar(&o.baseDomain, "base-domain", "localhost", "vaults are served at {vault}.{base-domain}")
	f.StringSliceVar(&o.extraNames, "name", nil, "extra DNS names or IPs for the server certificate")
	f.StringVar(&o.postgres, "postgres", "", "PostgreSQL URL (default: SQLite in the data dir)")
	f.StringVar(&o.masterKey, "master-key-file", "", "vault master key file, 64 hex characters (default DIR/vault-master.key, created if missing)")
	f.DurationVar(&o.featureDelay, "feature-delay", time.Minute, "how long a feature registration stays Registering")
	f.DurationVar(&o.tokenTTL, "token-ttl", time.Hour, "lifetime of access tokens from the local issuer")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "log every request")
	f.BoolVar(&o.drill, "drill", false, "allow fault drills (ck vault fault); never on in production")
	return cmd
}
