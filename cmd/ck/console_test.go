package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/customerkey/customerkey/client"
)

// TestConsoleOpenKeepsTokenOffCommandLines: ck console open gives the
// browser opener the path of a private page that forwards to the sign-in
// link, never the link: every local user reads every process's arguments
// (/proc/PID/cmdline), and the link carries a token. The page is 0600 in a
// 0700 directory, carries the link, and is gone once ck returns.
func TestConsoleOpenKeepsTokenOffCommandLines(t *testing.T) {
	const token = "LONG-LIVED-EXO-TOKEN-7d"
	cfg := stubService(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/me" {
			reply(w, 200, client.Me{Subject: "exo@contoso.com", Role: "exchange-admin", Tenant: "t1", Expires: time.Now().Add(7 * 24 * time.Hour)})
			return
		}
		http.NotFound(w, r)
	})
	// A fake xdg-open records its arguments, the page's mode, its
	// directory's mode and the page (reading it, as a browser does).
	bin, rec := t.TempDir(), t.TempDir()
	script := `#!/bin/sh
printf '%s\n' "$@" > "` + rec + `/argv.tmp" && mv "` + rec + `/argv.tmp" "` + rec + `/argv"
stat -c %a "$1" > "` + rec + `/mode"
stat -c %a "$(dirname "$1")" > "` + rec + `/dirmode"
cat "$1" > "` + rec + `/page"
`
	if err := os.WriteFile(filepath.Join(bin, "xdg-open"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	stdout, stderr, code := ck("--config", cfg, "--token", token, "console", "open")
	if code != 0 {
		t.Fatalf("exit %d; stderr %q", code, stderr)
	}
	link := strings.TrimSpace(stdout)
	if !strings.Contains(link, "#token="+token) {
		t.Fatalf("the link printed: got %q, want one with the token", stdout)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(rec, name))
		for deadline := time.Now().Add(5 * time.Second); err != nil && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			b, err = os.ReadFile(filepath.Join(rec, name)) // an opener ck did not wait for
		}
		if err != nil {
			t.Fatalf("the opener did not run (or not to the end): %v", err)
		}
		return strings.TrimSpace(string(b))
	}
	argv := read("argv")
	if strings.Contains(argv, token) || strings.Contains(argv, "token=") {
		t.Errorf("the opener's arguments hold the token: %q", argv)
	}
	page := argv
	if !filepath.IsAbs(page) || strings.Contains(page, "\n") || !strings.HasSuffix(page, ".html") {
		t.Fatalf("the opener's arguments: got %q, want one path to an HTML page", argv)
	}
	if m := read("mode"); m != "600" {
		t.Errorf("the page's mode: got %s, want 600", m)
	}
	if m := read("dirmode"); m != "700" {
		t.Errorf("its directory's mode: got %s, want 700", m)
	}
	js, _ := json.Marshal(link)
	html := read("page")
	if !strings.Contains(html, "location.replace("+string(js)+")") || !strings.Contains(html, `<meta name="referrer" content="no-referrer">`) {
		t.Errorf("the page: got %q, want location.replace(%s) and no referrer", html, js)
	}
	if _, err := os.Stat(filepath.Dir(page)); !os.IsNotExist(err) {
		t.Errorf("the page's directory is still there after ck returned (%v)", err)
	}
}
