package main

import (
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/customerkey/customerkey/internal/api"
	"github.com/customerkey/customerkey/internal/audit"
	"github.com/customerkey/customerkey/internal/keyfile"
	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/kms"
	"github.com/customerkey/customerkey/internal/store"
)

// signingKey loads the service's Ed25519 key that signs crypto-shred
// certificates: a 32-byte seed in DIR/service-signing.key, created if
// missing (keep it: certificates verify only with its public key).
func signingKey(dir string) (ed25519.PrivateKey, error) {
	seed, err := keyfile.Load(filepath.Join(dir, "service-signing.key"), true)
	if err != nil {
		return nil, err
	}
	defer clear(seed)
	return ed25519.NewKeyFromSeed(seed), nil
}

// workloads gives each DEP kind its workload: the application's kms client
// (from newKMS) and a keyring, all sharing one keystore of availability
// keys sealed under the service master key in dir (or masterKeyFile).
func workloads(st store.Store, dir, masterKeyFile string, logger *slog.Logger, newKMS func(app string) (kms.Client, error)) (map[string]api.Workload, error) {
	if masterKeyFile == "" {
		masterKeyFile = filepath.Join(dir, "service-master.key")
	}
	master, err := keyring.LoadServiceMasterKey(masterKeyFile, true)
	if err != nil {
		return nil, err
	}
	ks := keyring.NewKeystore(st, master)
	metrics := keyring.NewMetrics(nil)
	log := audit.New(st, nil, logger)
	out := map[string]api.Workload{}
	for kind, app := range map[string]string{"mailbox": api.ExchangeApp, "site": api.SharePointApp, "mdep": api.M365App} {
		c, err := newKMS(app)
		if err != nil {
			return nil, fmt.Errorf("workload %s: %w", kind, err)
		}
		out[kind] = api.Workload{App: app, KMS: c, Ring: keyring.New(c, ks, keyring.Config{Logger: logger.With("workload", kind), Metrics: metrics, Audit: log.KeyringEvent(app)})}
	}
	return out, nil
}
