package api

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/rule"
)

// Metrics are the API's Prometheus metrics: requests by route (the
// operation ID of the route table; "none" for a path no route serves)
// and status, and their latency by route.
type Metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// NewMetrics makes the API's metrics and registers them with reg (if not
// nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "customerkey_http_requests_total",
			Help: "Requests to the service API by route (operation ID) and status."}, []string{"route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "customerkey_http_request_seconds",
			Help: "Latency of the service API by route (operation ID), until the handler returns.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 18)}, []string{"route"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.latency)
	}
	return m
}

func (m *Metrics) observe(route string, status int, d time.Duration) {
	if m == nil {
		return
	}
	if route == "" {
		route = "none"
	}
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}

// ReadyCheck is one dependency /readyz asks: Check returns nil when it is
// reachable.
type ReadyCheck struct {
	Name  string // what is down, as /readyz names it: database, keystore
	Check func(ctx context.Context) error
}

// noteRoute tells the request's record which route serves it, for the
// metrics and the request's log line. It runs first.
func (s *Server) noteRoute(ctx huma.Context, next func(huma.Context)) {
	if op := ctx.Operation(); op != nil {
		if r := requestOf(ctx.Context()); r != nil {
			r.route = op.OperationID
		}
	}
	next(ctx)
}

// metricsText is the Prometheus text exposition.
type metricsText struct {
	ContentType string `header:"Content-Type"`
	Body        []byte
}

func (s *Server) metrics(ctx context.Context, _ *struct{}) (*metricsText, error) {
	mfs, err := s.cfg.Gatherer.Gather()
	if err != nil {
		return nil, err
	}
	format := expfmt.NewFormat(expfmt.TypeTextPlain)
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, format)
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return nil, err
		}
	}
	return &metricsText{ContentType: string(format), Body: b.Bytes()}, nil
}

// ready answers whether this node can serve: each dependency is asked
// (within 5 s); a 503 problem names every one that is down.
func (s *Server) ready(ctx context.Context, _ *struct{}) (*body[client.Health], error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var down []string
	var errs []error
	for _, c := range s.cfg.Ready {
		if err := c.Check(ctx); err != nil {
			down = append(down, c.Name)
			errs = append(errs, err)
		}
	}
	if len(down) > 0 {
		logOf(ctx, s.cfg.Logger).Warn("api: not ready", "down", strings.Join(down, ","), "err", errors.Join(errs...))
		return nil, rule.Unavailable(client.RuleServiceReady, "see the service log for the cause; bring back "+strings.Join(down, " and ")+", or take the node out of the load balancer",
			"not ready: %s down", strings.Join(down, ", "))
	}
	return &body[client.Health]{client.Health{Status: "ready"}}, nil
}
