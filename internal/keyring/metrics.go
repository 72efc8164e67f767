package keyring

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the keyring's Prometheus metrics.
type Metrics struct {
	unwraps          *prometheus.CounterVec   // by vault and result class
	latency          *prometheus.HistogramVec // by vault
	availabilityUses *prometheus.CounterVec   // by initiator
	cacheHits        prometheus.Counter
	cacheMisses      prometheus.Counter
	refreshFailures  prometheus.Counter
	alerts           prometheus.Counter
	revocations      prometheus.Counter
	revokedRefusals  prometheus.Counter
	probes           *prometheus.CounterVec // revocation probes by result
}

// NewMetrics makes the metrics and registers them with reg (if not nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		unwraps: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "customerkey_keyring_unwraps_total",
			Help: "Customer-key unwraps by vault and result (ok, transient, denied by customer, invalid request, cancelled)."}, []string{"vault", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "customerkey_keyring_unwrap_seconds",
			Help: "Customer-key unwrap latency by vault.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)}, []string{"vault"}),
		availabilityUses: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "customerkey_keyring_availability_key_uses_total",
			Help: "DEP keys served with the availability key, by initiator."}, []string{"initiator"}),
		cacheHits:       prometheus.NewCounter(prometheus.CounterOpts{Name: "customerkey_keyring_cache_hits_total", Help: "DEP keys served from the cache."}),
		cacheMisses:     prometheus.NewCounter(prometheus.CounterOpts{Name: "customerkey_keyring_cache_misses_total", Help: "DEP key requests that missed the cache."}),
		refreshFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "customerkey_keyring_refresh_failures_total", Help: "Failed refreshes of cached DEP keys."}),
		alerts:          prometheus.NewCounter(prometheus.CounterOpts{Name: "customerkey_keyring_alerts_total", Help: "Alerts raised: refreshes failing before a cached key expires."}),
		revocations: prometheus.NewCounter(prometheus.CounterOpts{Name: "customerkey_keyring_revocations_total",
			Help: "DEPs seen revoked: a tenant's signal, or both customer keys refusing deliberately."}),
		revokedRefusals: prometheus.NewCounter(prometheus.CounterOpts{Name: "customerkey_keyring_revoked_refusals_total",
			Help: "Key requests refused because the DEP is revoked (the availability key was not asked)."}),
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "customerkey_keyring_revocation_probes_total",
			Help: "Unwraps of the revocation probe (S3) by result (ok, transient, denied by customer, invalid request)."}, []string{"result"}),
	}
	if reg != nil {
		reg.MustRegister(m.unwraps, m.latency, m.availabilityUses, m.cacheHits, m.cacheMisses, m.refreshFailures, m.alerts, m.revocations, m.revokedRefusals, m.probes)
	}
	return m
}
