package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/customerkey/customerkey/internal/service"
)

// DevFile is the connection file ck dev writes into its data dir.
const DevFile = "dev.json"

// WorkloadFile is the Customer Key service's connection to the built-in vault
// (the workload token), written beside the admin's connection file.
const WorkloadFile = "workload.json"

func (a *app) devCmd() *cobra.Command {
	var dir string
	var port int
	var featureDelay, jobLease time.Duration
	var rewrapRate float64
	var verbose bool
	var blobDir string
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run everything on this machine: two vault regions over SQLite",
		Long: `Run customerkey on this machine: two built-in vault regions (eastus and
westus) on two HTTPS listeners, over SQLite in the data dir. The first start
creates a local CA, a vault master key and an admin token there; later starts
keep all state, ports included (DIR/ports.json), since stored key URIs carry
the vault's port. Connection details go to DIR/dev.json, which every other ck
command reads by default. Ctrl-C stops cleanly.`,
		Example: `  ck dev                         # ./ck-data, ports 8443 (eastus) and 8444 (westus)
  ck dev --data /tmp/ck --port 0  # free ports, kept for later starts on /tmp/ck`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if port < 0 || port > 65533 {
				return fmt.Errorf("--port %d: use 0 (free ports) or 1-65533 (eastus on N, westus on N+1, the service on N+2)", port)
			}
			ports, recorded, err := chooseDevPorts(dir, port, cmd.Flags().Changed("port"))
			if err != nil {
				return err
			}
			addr := func(p int) string { return "127.0.0.1:" + strconv.Itoa(p) }
			level := "info"
			if verbose {
				level = "debug"
			}
			cfg := service.Config{
				Version: service.Version,
				DataDir: dir,
				Logging: service.LoggingConfig{Level: level},
				Service: &service.ServiceConfig{Listen: addr(ports.Service), Blobs: service.BlobsConfig{Dir: blobDir}},
				Jobs:    service.JobsConfig{Lease: service.Duration(jobLease), RewrapRate: rewrapRate},
				VaultServer: &service.VaultServerConfig{
					Regions:      []service.RegionConfig{{Name: "eastus", Listen: addr(ports.Eastus)}, {Name: "westus", Listen: addr(ports.Westus)}},
					FeatureDelay: service.Duration(featureDelay),
					Drill:        true,
				},
			}
			return a.serve(cmd.Context(), cfg, DevFile, func(s *service.Service) error {
				got := devPorts{Service: urlPort(s.URL())}
				for _, r := range s.Vault().Regions() {
					switch r.Name {
					case "eastus":
						got.Eastus = urlPort(r.URL)
					case "westus":
						got.Westus = urlPort(r.URL)
					}
				}
				if recorded && got == ports {
					return nil
				}
				return recordDevPorts(dir, got)
			})
		},
	}
	cmd.Flags().StringVar(&dir, "data", "ck-data", "data directory (created if missing)")
	cmd.Flags().IntVar(&port, "port", 8443, "eastus listens on this port, westus on the next, the service on the one after; 0 picks free ports; a data dir keeps the ports of its first start")
	cmd.Flags().DurationVar(&featureDelay, "feature-delay", 5*time.Second, "how long a feature registration stays Registering")
	cmd.Flags().DurationVar(&jobLease, "job-lease", 30*time.Second, "how long background jobs of a process that died wait before they are resumed")
	cmd.Flags().Float64Var(&rewrapRate, "rewrap-rate", 0, "containers one job re-wraps per second (a roll, a re-assignment); 0: no bound")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "log every request")
	cmd.Flags().StringVar(&blobDir, "blob-dir", "", "keep large items' sealed chunks in files under this directory (default: in the SQLite database)")
	return cmd
}

// serve builds the process cfg describes (ck dev, ck vault server), runs
// started once its listeners are bound, writes the connection file into
// the data dir, prints where everything is and serves until ctx is done.
func (a *app) serve(ctx context.Context, cfg service.Config, connFile string, started func(*service.Service) error) error {
	if cfg.Logger == nil {
		cfg.Logger = cfg.Logging.NewLogger(a.stderr)
	}
	s, err := service.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	if started != nil {
		if err := started(s); err != nil {
			return err
		}
	}
	cc := s.ClientConfig()
	if abs, err := filepath.Abs(cc.CAFile); err == nil {
		cc.CAFile = abs
	}
	if abs, err := filepath.Abs(cc.DataDir); err == nil {
		cc.DataDir = abs
	}
	data, _ := json.MarshalIndent(cc, "", "  ")
	connPath := filepath.Join(cfg.DataDir, connFile)
	if err := writeFileAtomic(connPath, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", connPath, err)
	}
	// The Customer Key service's connection: the workload token, not the
	// admin's (ck server --vault-config DIR/workload.json).
	wc := s.Vault().WorkloadConfig()
	wc.CAFile = cc.CAFile
	data, _ = json.MarshalIndent(wc, "", "  ")
	workloadPath := filepath.Join(cfg.DataDir, WorkloadFile)
	if err := writeFileAtomic(workloadPath, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", workloadPath, err)
	}
	w := a.stdout
	fmt.Fprintf(w, "customerkey is running (data in %s)\n", cc.DataDir)
	for _, r := range s.Vault().Regions() {
		fmt.Fprintf(w, "  vault region %-7s %s   (vaults at https://{vault-name}.localhost:%d)\n", r.Name, r.URL, urlPort(r.URL))
	}
	fmt.Fprintf(w, "  management API       %s\n", cc.ManagementURL)
	if cc.ServiceURL != "" {
		fmt.Fprintf(w, "  Customer Key service %s   (OpenAPI at /openapi.json)\n", cc.ServiceURL)
	}
	fmt.Fprintf(w, "  local CA             %s\n", cc.CAFile)
	fmt.Fprintf(w, "  connection file      %s   (admin token inside; ck reads it by default)\n", connPath)
	fmt.Fprintf(w, "  service connection   %s   (for ck server --vault-config: acts as the service's applications only)\n", workloadPath)
	if cfg.VaultServer.Drill {
		fmt.Fprintln(w, "  fault drills         on (ck vault fault REGION outage|slow|throttled|failing|off)")
	}
	fmt.Fprintln(w, "Press Ctrl-C to stop.")
	err = s.Serve(ctx)
	fmt.Fprintln(w, "customerkey stopped.")
	return err
}
