package client

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"1", time.Second},
		{" 7 ", 7 * time.Second},
		{"0", 0},
		{"-3", 0},
		{"soon", 0},
		{"86400", maxRetryAfter}, // bounded
		{now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second}, // an HTTP date
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},                    // in the past
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// A refusal's Retry-After reaches the Problem, and the pauses before
// trying again are at least what it asks.
func TestRetryAfterWaitedOut(t *testing.T) {
	busyBody := []byte(`{"status":429,"rule":"Content.Streams","detail":"busy"}`)
	err := fmt.Errorf("part: %w", parseProblem(429, http.Header{"Retry-After": {"9"}}, busyBody))
	var p *Problem
	if !errors.As(err, &p) || p.RetryAfter != 9*time.Second || p.Rule != RuleContentStreams {
		t.Fatalf("parseProblem = %+v, want rule %s and RetryAfter 9s", p, RuleContentStreams)
	}
	oneSecond := func(int) time.Duration { return time.Second }
	tests := []struct {
		name string
		err  error
		want time.Duration
	}{
		{"Retry-After longer than the client's pause", err, 9 * time.Second},
		{"no Retry-After", parseProblem(503, http.Header{}, []byte(`{"status":503}`)), time.Second},
		{"Retry-After shorter", parseProblem(503, http.Header{"Retry-After": {"0"}}, nil), time.Second},
		{"Upload.Busy", parseProblem(409, http.Header{}, []byte(`{"status":409,"rule":"Upload.Busy"}`)), 15 * time.Second},
		{"not a problem", errors.New("connection reset"), time.Second},
	}
	for _, tt := range tests {
		if got := wait(oneSecond, 1, tt.err); got != tt.want {
			t.Errorf("%s: wait = %v, want %v", tt.name, got, tt.want)
		}
	}
	if got := retryAfter(err, time.Second); got != 9*time.Second {
		t.Errorf("retryAfter = %v, want 9s", got)
	}
}
