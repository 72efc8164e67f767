package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/customerkey/customerkey/client"
)

// consoleLink is what ck console open prints with -o json.
type consoleLink struct {
	URL     string    `json:"url"`
	Subject string    `json:"subject"`
	Role    string    `json:"role"`
	Expires time.Time `json:"expires"`
	Issued  bool      `json:"issued" doc:"a short-lived token was issued for the link"`
}

func (a *app) consoleCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "console", Short: "The web console for tenant admins, served at /console/ on the service's listener"}
	var validFor time.Duration
	var reuse, noBrowser bool
	open := &cobra.Command{
		Use:   "open",
		Short: "Print (and open in a browser) a sign-in link to the web console",
		Long: `Print a sign-in link to the web console of the service in the connection
file, and open it with xdg-open when there is one (never with --no-browser).
The browser is given a private sign-in page (a 0600 file in a 0700
temporary directory that forwards to the link), not the link itself: a
command line is readable by every user of the machine. The page is removed
once the browser has read it, or after 10s.

The token travels in the link's fragment (#token=...), which a browser
never sends to a server; the console keeps it in the tab's session storage
and calls the service's REST API with it, so the console can do exactly
what the token's role may. A global admin's link carries a new token of the
same subject and role that expires after --valid-for (default 1h, the
shortest the service issues); any other admin's link carries the token
given (--token-file), which expires when it does.`,
		Example: `  ck console open --token-file admin.token
  ck console open --token-file exo.token --no-browser -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			c, err := a.service()
			if err != nil {
				return err
			}
			me, err := c.Me(ctx)
			if err != nil {
				return err
			}
			if me.Tenant == "" {
				return fmt.Errorf("the operator's token opens no console: the console is for tenant admins; give a tenant admin's token (--token-file FILE, from ck tenant token)")
			}
			cfg, _ := a.config()
			link := consoleLink{Subject: me.Subject, Role: me.Role, Expires: me.Expires}
			token := a.token
			if me.Role == "global-admin" && !reuse {
				tok, err := c.CreateToken(ctx, me.Tenant, client.CreateTokenRequest{Subject: me.Subject, Role: me.Role, ValidFor: validFor.String()})
				if err != nil {
					return err
				}
				token, link.Expires, link.Issued = tok.Token, tok.Expires, true
			}
			link.URL = client.ConsoleSignInLink(cfg.ServiceURL, token)
			if a.output == "json" {
				if err := a.printJSON(link); err != nil {
					return err
				}
			} else {
				fmt.Fprintln(a.stdout, link.URL)
				printf(a.stderr, "Sign-in link for %s (%s), valid until %s. Anyone holding it acts as you until then.\n", me.Subject, me.Role, link.Expires.Local().Format(time.RFC3339))
			}
			if noBrowser {
				return nil
			}
			if xdg, err := exec.LookPath("xdg-open"); err == nil {
				if err := openSignIn(ctx, xdg, link.URL); err != nil {
					fmt.Fprintln(a.stderr, "xdg-open:", err, "(open the link yourself)")
				}
			}
			return nil
		},
	}
	open.Flags().DurationVar(&validFor, "valid-for", time.Hour, "lifetime of the token a global admin's link carries (1h to 2160h)")
	open.Flags().BoolVar(&reuse, "reuse-token", false, "a global admin's link carries the given token instead of a new short-lived one")
	open.Flags().BoolVar(&noBrowser, "no-browser", false, "only print the link")
	cmd.AddCommand(open)
	return cmd
}

// signInGrace is how long ck console open keeps the sign-in page for the
// browser to read, at most.
var signInGrace = 10 * time.Second

// openSignIn opens link in a browser with opener (xdg-open) without
// putting it on a command line: the link carries a token, and every
// local user reads every process's arguments (/proc/PID/cmdline), the
// opener's and the browser's it starts. The opener is given the path of
// a page that forwards to the link instead: a 0600 file in a fresh 0700
// directory, so only this user reads it, that replaces itself with the
// link (so Back does not return to it) and sends no Referer.
//
// The page must outlive the opener's start (the browser reads it later,
// a cold one after seconds), and must not outlive its use. So ck waits,
// at most signInGrace, until the file's access time passes its
// modification time (the browser has read it; with relatime, the
// default, the first read after a write updates it), then removes the
// directory, also when interrupted. A ck killed meanwhile leaves the
// directory behind; the next console open removes it.
func openSignIn(ctx context.Context, opener, link string) error {
	base := signInBase()
	removeStaleSignIns(base)
	dir, err := os.MkdirTemp(base, signInPrefix) // 0700
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	js, err := json.Marshal(link) // escapes <, > and & too: nothing ends the script early
	if err != nil {
		return err
	}
	page := filepath.Join(dir, "sign-in.html")
	html := `<!doctype html>
<meta charset="utf-8">
<meta name="referrer" content="no-referrer">
<title>customerkey console: signing in</title>
<script>location.replace(` + string(js) + `)</script>
`
	f, err := os.OpenFile(page, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(html); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	cmd := exec.Command(opener, page)
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }() // the opener may run as long as the browser it starts
	waitRead(ctx, page, signInGrace)
	return nil
}

// signInPrefix names openSignIn's temporary directories.
const signInPrefix = "ck-console-"

// waitRead waits until file has been read since it was written (its
// access time is past its modification time), ctx ends or limit passes.
func waitRead(ctx context.Context, file string, limit time.Duration) {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			return
		case <-tick.C:
			if fileRead(file) {
				// Read: give the browser a moment past its first read.
				select {
				case <-ctx.Done():
				case <-time.After(500 * time.Millisecond):
				}
				return
			}
		}
	}
}

// signInBase is where sign-in pages are made: the user's runtime directory
// ($XDG_RUNTIME_DIR: the user's own, in memory) when there is one, else
// the temporary directory.
func signInBase() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			return d
		}
	}
	return os.TempDir()
}

// removeStaleSignIns removes this user's sign-in pages in base that a ck
// killed before it removed them left, a minute old or more.
func removeStaleSignIns(base string) {
	dirs, _ := filepath.Glob(filepath.Join(base, signInPrefix+"*"))
	for _, d := range dirs {
		fi, err := os.Lstat(d)
		if err != nil || !fi.IsDir() || !ownedByMe(fi) || time.Since(fi.ModTime()) < time.Minute {
			continue
		}
		os.RemoveAll(d)
	}
}
