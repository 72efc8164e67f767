package service

import (
	"context"
	"errors"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/customerkey/customerkey/internal/api"
	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/kms"
)

// Metrics are every Prometheus metric of a node, in one registry that
// /metrics serves (SPEC S5). Each package that counts something gets its
// part from here: the keyring (keyring.Metrics), the API (api.Metrics),
// the jobs runner (Job), the vault calls (a kms.Client wrapper) and the
// events of internal/events (Events).
type Metrics struct {
	Registry *prometheus.Registry
	Keyring  *keyring.Metrics
	API      *api.Metrics

	jobs       *prometheus.CounterVec
	jobsActive *prometheus.GaugeVec
	vaultCalls *prometheus.CounterVec
	// Events counts the cross-node events (revocation, DEP disable or
	// purge, token revocation, re-assignment, roll) by kind and by
	// direction: "published" by this node, "received" from another
	// (internal/events counts them through its Count hook).
	Events *prometheus.CounterVec
}

// NewMetrics makes a node's registry with every metric registered, the Go
// runtime's and the process's included.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		Registry: reg,
		Keyring:  keyring.NewMetrics(reg),
		API:      api.NewMetrics(reg),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "customerkey_jobs_total",
			Help: "Runs of background jobs on this node by kind and event: started, done, failed, retry, interrupted, lost (another node took the lease)."}, []string{"kind", "event"}),
		jobsActive: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "customerkey_jobs_running",
			Help: "Background jobs running on this node now, by kind."}, []string{"kind"}),
		vaultCalls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "customerkey_vault_calls_total",
			Help: "Calls to customer keys' vaults by vault, operation (get, wrap, unwrap, directory) and result (ok, or the kms reason: access removed, vault unreachable, ...; vault \"invalid\" for a key URI refused before any call)."}, []string{"vault", "op", "result"}),
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "customerkey_events_total",
			Help: "Cross-node cache events by kind and direction (published by this node, received from another)."}, []string{"kind", "direction"}),
	}
	reg.MustRegister(m.jobs, m.jobsActive, m.vaultCalls, m.Events)
	return m
}

// Job is the jobs runner's Observe hook.
func (m *Metrics) Job(kind, event string) {
	m.jobs.WithLabelValues(kind, event).Inc()
	if event == "started" {
		m.jobsActive.WithLabelValues(kind).Inc()
	} else {
		m.jobsActive.WithLabelValues(kind).Dec()
	}
}

// KMS wraps a kms client so that each vault call is counted.
func (m *Metrics) KMS(c kms.Client) kms.Client { return &countedKMS{c: c, m: m} }

type countedKMS struct {
	c kms.Client
	m *Metrics
}

func (k *countedKMS) count(op, keyURI string, err error) {
	vault, result := "invalid", "ok"
	if err != nil {
		r := kms.ReasonOf(err)
		result = r.String()
		if r.Class() != kms.Invalid {
			vault, _, _, _ = kms.ParseKeyURI(keyURI)
		}
	} else {
		vault, _, _, _ = kms.ParseKeyURI(keyURI)
	}
	k.m.vaultCalls.WithLabelValues(strings.TrimPrefix(vault, "https://"), op, result).Inc()
}

func (k *countedKMS) Get(ctx context.Context, keyURI string) (kms.KeyInfo, error) {
	info, err := k.c.Get(ctx, keyURI)
	k.count("get", keyURI, err)
	return info, err
}

func (k *countedKMS) Wrap(ctx context.Context, keyURI string, key []byte) (kms.Wrapped, error) {
	w, err := k.c.Wrap(ctx, keyURI, key)
	k.count("wrap", keyURI, err)
	return w, err
}

func (k *countedKMS) Unwrap(ctx context.Context, keyURI string, wrapped []byte) ([]byte, error) {
	key, err := k.c.Unwrap(ctx, keyURI, wrapped)
	k.count("unwrap", keyURI, err)
	return key, err
}

// Directory keeps the wrapped client's kms.DirectoryReader (SPEC T4).
func (k *countedKMS) Directory(ctx context.Context, keyURI string) (string, error) {
	d, ok := k.c.(kms.DirectoryReader)
	if !ok {
		return "", errors.New("kms: this client cannot read a vault's directory")
	}
	dir, err := d.Directory(ctx, keyURI)
	k.count("directory", keyURI, err)
	return dir, err
}
