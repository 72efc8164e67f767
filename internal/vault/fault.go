package vault

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/customerkey/customerkey/vaultclient"
)

// Fault modes for drills (SPEC B6).
const (
	FaultOff       = "off"
	FaultOutage    = "outage"    // the region refuses connections
	FaultSlow      = "slow"      // the keys API answers after a delay
	FaultThrottled = "throttled" // the keys API answers 429
	FaultFailing   = "failing"   // the keys API answers 503
)

// regionState is a region's fault switch and its current HTTP server.
type regionState struct {
	mu     sync.Mutex
	fault  vaultclient.Fault
	srv    *http.Server
	up     chan struct{} // closed when an outage ends
	timer  *time.Timer
	closed bool
}

func (r *Region) currentFault() vaultclient.Fault {
	r.st.mu.Lock()
	defer r.st.mu.Unlock()
	return r.st.fault
}

// applyFault answers a keys-API request as the region's fault says; it
// reports whether the request may go on.
func (c *call) applyFault() bool {
	f := c.region.currentFault()
	switch f.Mode {
	case FaultSlow:
		select {
		case <-time.After(time.Duration(f.DelayMS) * time.Millisecond):
		case <-c.r.Context().Done():
			return false
		}
	case FaultThrottled:
		c.w.Header().Set("Retry-After", "1")
		c.fail(&apiError{Status: http.StatusTooManyRequests, Code: "Throttled", Message: "Drill: region " + c.region.Name + " is throttling requests."})
		return false
	case FaultFailing:
		c.fail(&apiError{Status: http.StatusServiceUnavailable, Code: "ServiceUnavailable", Message: "Drill: region " + c.region.Name + " is failing."})
		return false
	}
	return true
}

// setFault switches a region's fault. An outage closes the listener and
// every open connection; switching it off listens again on the same port.
func (s *Server) setFault(r *Region, f vaultclient.Fault) {
	st := &r.st
	st.mu.Lock()
	defer st.mu.Unlock()
	prev := st.fault.Mode
	if st.timer != nil {
		st.timer.Stop()
		st.timer = nil
	}
	st.fault = f
	if f.Until != nil {
		st.timer = time.AfterFunc(time.Until(*f.Until), func() {
			s.cfg.Logger.Info("vault: fault drill ended", "region", r.Name, "mode", f.Mode)
			s.setFault(r, vaultclient.Fault{Region: r.Name, Mode: FaultOff})
		})
	}
	switch {
	case f.Mode == FaultOutage && prev != FaultOutage:
		st.up = make(chan struct{})
		if st.srv != nil {
			st.srv.Close()
		}
	case f.Mode != FaultOutage && prev == FaultOutage:
		close(st.up)
	}
	s.cfg.Logger.Warn("vault: fault drill", "region", r.Name, "mode", f.Mode, "delayMs", f.DelayMS)
}

// serveRegion serves one region until ctx ends, restarting the listener
// after an outage drill.
func (s *Server) serveRegion(ctx context.Context, r *Region, errc chan<- error) {
	for {
		srv := s.httpServer(r)
		r.st.mu.Lock()
		if r.st.closed {
			r.st.mu.Unlock()
			return
		}
		r.st.srv = srv
		r.st.mu.Unlock()
		err := srv.ServeTLS(r.ln, "", "")
		if ctx.Err() != nil {
			return
		}
		if err != http.ErrServerClosed {
			errc <- fmt.Errorf("region %s: %w", r.Name, err)
			return
		}
		r.st.mu.Lock()
		up := r.st.up
		r.st.mu.Unlock()
		if up == nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-up:
		}
		ln, err := listenAgain(ctx, r.ln.Addr().String())
		if err != nil {
			errc <- fmt.Errorf("region %s: listen again after the outage drill: %w", r.Name, err)
			return
		}
		r.ln = ln
	}
}

// stopRegion shuts the region's server down for good.
func (r *Region) stopRegion(ctx context.Context) {
	r.st.mu.Lock()
	r.st.closed = true
	srv := r.st.srv
	if r.st.timer != nil {
		r.st.timer.Stop()
	}
	r.st.mu.Unlock()
	if srv != nil {
		srv.Shutdown(ctx)
	}
}

// ---- management API ----

func (s *Server) faultRegion(c *call) (*Region, error) {
	if !s.cfg.Drill {
		return nil, notFound("DrillsOff", "fault drills are off on this vault server; start it with --drill (ck dev always has them)")
	}
	if err := c.requireAdmin(); err != nil {
		return nil, err
	}
	r := s.region(strings.ToLower(c.r.PathValue("region")))
	if r == nil {
		return nil, notFound("RegionNotFound", "region %q is not served here; use one of: %s", c.r.PathValue("region"), s.regionNames())
	}
	return r, nil
}

func (s *Server) listFaults(c *call) error {
	if !s.cfg.Drill {
		return notFound("DrillsOff", "fault drills are off on this vault server; start it with --drill (ck dev always has them)")
	}
	out := []vaultclient.Fault{}
	for _, r := range s.regions {
		out = append(out, r.currentFault())
	}
	c.reply(200, map[string]any{"value": out})
	return nil
}

func (s *Server) putFault(c *call) error {
	r, err := s.faultRegion(c)
	if err != nil {
		return err
	}
	var req struct {
		Mode    string `json:"mode"`
		DelayMS int64  `json:"delayMs"`
		ForMS   int64  `json:"forMs"`
	}
	if err := c.decode(&req, false); err != nil {
		return err
	}
	f := vaultclient.Fault{Region: r.Name, Mode: strings.ToLower(req.Mode)}
	switch f.Mode {
	case FaultOff, FaultOutage, FaultThrottled, FaultFailing:
	case FaultSlow:
		f.DelayMS = req.DelayMS
		if f.DelayMS == 0 {
			f.DelayMS = 2000
		}
		if f.DelayMS < 1 || f.DelayMS > 120000 {
			return badParam("delayMs %d is out of range: 1-120000", req.DelayMS)
		}
	default:
		return badParam("fault mode %q is not known; use off, outage, slow, throttled or failing", req.Mode)
	}
	if req.ForMS < 0 || req.ForMS > 24*3600*1000 {
		return badParam("forMs %d is out of range: 0 (until switched off) to 86400000", req.ForMS)
	}
	if req.ForMS > 0 && f.Mode != FaultOff {
		until := time.Now().Add(time.Duration(req.ForMS) * time.Millisecond).UTC()
		f.Until = &until
	}
	if f.Mode == FaultOutage && len(s.regions) == 1 && f.Until == nil {
		return badParam("this server has one region, so an outage also takes its management API down: give a duration (forMs) after which it comes back")
	}
	s.setFault(r, f)
	c.reply(200, f)
	return nil
}
