package main

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/customerkey/customerkey/client"
)

// TestFriendlyPrintable: the error line is printable whatever the error
// (SPEC T9): a problem's, a vault's, and any other, such as a failed job's
// error, which is a server's words. Only the lines ck itself puts in an
// error (linesError) stay lines.
func TestFriendlyPrintable(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"plain", errors.New("boom\x1b[2K\rjob j1 succeeded"), `boom\x1b[2K\rjob j1 succeeded`},
		{"a newline", errors.New("boom\njob j1 succeeded"), `boom\njob j1 succeeded`},
		{"a failed job", fmt.Errorf("wait: %w", &client.JobError{Job: client.Job{ID: "j1", Error: "boom\u202e\x1b[32m"}}), `wait: job j1 failed: boom\u202e\x1b[32m`},
		{"ck's own lines", &linesError{lines: []string{"config c.yaml: 2 problem(s):", "  a: bad\x1b[2K", "  b: bad"}}, "config c.yaml: 2 problem(s):\n  a: bad\\x1b[2K\n  b: bad"},
	} {
		if got := friendly(tc.err); got != tc.want {
			t.Errorf("%s: friendly(%q) = %q, want %q", tc.name, tc.err, got, tc.want)
		}
	}
}

// TestJobErrorPrintable: ck job show --wait of a job that failed with an
// error holding an escape sequence and a carriage return: the error line
// shows them escaped, so they cannot overwrite it with "succeeded".
func TestJobErrorPrintable(t *testing.T) {
	cfg := stubService(t, func(w http.ResponseWriter, r *http.Request) {
		reply(w, 200, client.Job{ID: "j1", Kind: "purge", Target: "DEP-1", State: client.JobFailed, Error: "boom\x1b[2K\rjob j1 succeeded"})
	})
	_, stderr, code := ck("--config", cfg, "--tenant", "t1", "job", "show", "j1", "--wait")
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr %q", code, stderr)
	}
	_, last, _ := strings.Cut(stderr, "Error: ")
	if want := "job j1 failed: boom\\x1b[2K\\rjob j1 succeeded\n"; last != want {
		t.Errorf("the error line: got %q, want %q (all of stderr: %q)", last, want, stderr)
	}
}
