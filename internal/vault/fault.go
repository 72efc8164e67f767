package vault

import (
	"context"
	"fmt"
	"net"
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
	mu       sync.Mutex
	fault    vaultclient.Fault
	srv      *http.Server
	relisten chan net.Listener // the new listener when an outage ends
	timer    *time.Timer
	closed   bool
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
	case FaultOutage:
		// A request on a connection opened before the outage: drop the
		// connection, as an outage would.
		c.status, c.code = 0, "Outage"
		if hj, ok := c.w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return false
			}
		}
		c.fail(&apiError{Status: http.StatusServiceUnavailable, Code: "ServiceUnavailable", Message: "Drill: region " + c.region.Name + " is down."})
		return false
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

// setFault switches a region's fault. An outage stops the listener before
// it returns (new connections are refused), drops idle connections and
// lets requests in flight answer; switching it off listens again on the
// same port before it returns.
func (s *Server) setFault(r *Region, f vaultclient.Fault) error {
	st := &r.st
	st.mu.Lock()
	defer st.mu.Unlock()
	prev := st.fault.Mode
	if f.Mode != FaultOutage && prev == FaultOutage {
		ln, err := listenAgain(context.Background(), r.addr)
		if err != nil {
			return fmt.Errorf("region %s: listen again on %s: %w", r.Name, r.addr, err)
		}
		st.relisten <- ln
	}
	if st.timer != nil {
		st.timer.Stop()
		st.timer = nil
	}
	st.fault = f
	if f.Until != nil {
		st.timer = time.AfterFunc(time.Until(*f.Until), func() {
			s.cfg.Logger.Info("vault: fault drill ended", "region", r.Name, "mode", f.Mode)
			if err := s.setFault(r, vaultclient.Fault{Region: r.Name, Mode: FaultOff}); err != nil {
				s.cfg.Logger.Error("vault: ending a fault drill", "err", err)
			}
		})
	}
	if f.Mode == FaultOutage && prev != FaultOutage && st.srv != nil {
		srv, stopped := st.srv, make(chan struct{})
		var once sync.Once
		srv.RegisterOnShutdown(func() { once.Do(func() { close(stopped) }) }) // runs once the listener is closed
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			srv.Shutdown(ctx)
			srv.Close()
		}()
		select {
		case <-stopped:
		case <-time.After(5 * time.Second):
		}
	}
	s.cfg.Logger.Warn("vault: fault drill", "region", r.Name, "mode", f.Mode, "delayMs", f.DelayMS)
	return nil
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
		select {
		case <-ctx.Done():
			return
		case ln := <-r.st.relisten:
			r.ln = ln
		}
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
	if err := c.requireAdmin(); err != nil {
		return err
	}
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
	if f.Mode == FaultOutage && f.Until == nil {
		up := 0
		for _, other := range s.regions {
			if other != r && other.currentFault().Mode != FaultOutage {
				up++
			}
		}
		if up == 0 {
			return badParam("this would take every region down, and the management API with them, so nothing could switch the drill off: give a duration (forMs; ck vault fault --for) after which region %s comes back", r.Name)
		}
	}
	if err := s.setFault(r, f); err != nil {
		return err
	}
	c.reply(200, f)
	return nil
}
