// Package console is the web console for tenant admins (SPEC A3): a
// small single-page app (HTML, CSS and JavaScript modules, no build step,
// nothing fetched from the network) embedded in the binary and served at
// /console/ on the service's own listener.
//
// The console holds no state and no privilege of its own: the browser
// signs in with a tenant token (pasted, or carried in the fragment of a
// sign-in link from `ck console open`, which never reaches a server) and
// calls the service's public REST API with it, so every permission is the
// API's. Pages a role may not use are not offered, and the API refuses
// them anyway.
//
// Every answer carries a Content-Security-Policy that allows scripts,
// styles and connections from the service's own origin only, and no
// inline script; assets are served gzip-compressed with an ETag, so a
// returning browser revalidates with one 304 per asset.
package console

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/customerkey/customerkey/client"
)

// Path is where the console is served.
const Path = "/console/"

//go:embed static
var static embed.FS

// CSP is the console's Content-Security-Policy: its own scripts, styles
// and API only; no inline script, no framing, no plug-ins.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

type asset struct {
	body, gz    []byte
	etag, ctype string
}

// Handler serves the console's assets under Path.
func Handler() http.Handler {
	assets := map[string]asset{}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression) // a valid level: no error
		if _, err := zw.Write(b); err != nil {
			return err
		}
		if err := zw.Close(); err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ct := mime.TypeByExtension(path.Ext(p))
		if strings.HasSuffix(p, ".js") {
			ct = "text/javascript; charset=utf-8" // whatever the host's mime table says
		}
		assets[strings.TrimPrefix(p, "static/")] = asset{body: b, gz: gz.Bytes(), etag: `"` + hex.EncodeToString(sum[:8]) + `"`, ctype: ct}
		return nil
	})
	if err != nil {
		panic("console: embedded assets: " + err.Error()) // the binary was built without them
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			problem(w, http.StatusMethodNotAllowed, client.RuleRequestMethod, "use GET (the console's pages are read, not written)", r.Method+" is not allowed on "+r.URL.Path)
			return
		}
		name := strings.TrimPrefix(r.URL.Path, Path)
		if name == "" {
			name = "index.html"
		}
		a, ok := assets[name]
		if !ok {
			problem(w, http.StatusNotFound, client.RuleRequestPath, "open the console at "+Path, "no console page at "+r.URL.Path)
			return
		}
		h.Set("Content-Type", a.ctype)
		h.Set("ETag", a.etag)
		h.Set("Cache-Control", "no-cache") // revalidate: a new binary's assets show at once
		h.Add("Vary", "Accept-Encoding")
		if inm := r.Header.Get("If-None-Match"); inm != "" && strings.Contains(inm, a.etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		b := a.body
		if acceptsGzip(r) {
			h.Set("Content-Encoding", "gzip")
			b = a.gz
		}
		w.Write(b)
	})
}

func acceptsGzip(r *http.Request) bool {
	for _, e := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		if strings.TrimSpace(strings.SplitN(e, ";", 2)[0]) == "gzip" {
			return true
		}
	}
	return false
}

// problem answers an error as the API does (SPEC T9): problem+json with
// the rule and its fix. A failed write is the client gone: nothing to do.
func problem(w http.ResponseWriter, status int, rule, fix, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(client.Problem{Type: "urn:customerkey:problem:" + rule, Title: http.StatusText(status), Status: status, Detail: detail, Rule: rule, Fix: fix})
}
