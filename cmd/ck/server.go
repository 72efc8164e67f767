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
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/store/sqlstore"
	"github.com/customerkey/customerkey/internal/vault"
)

func (a *app) serverCmd() *cobra.Command {
	var dir, listen, postgres string
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
			svc, err := api.New(api.Config{Store: st, Logger: logger})
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
	return cmd
}
