package api_test

// The role matrix (SPEC T3, T5; issue 10): every operation of the route
// table, with every role, on every kind of container (or DEP) its
// parameters can name. What each cell must answer is data, in
// testdata/matrix.txt, written from the SPEC (its header says how), never
// computed from the route table: a route added without its rows, a row
// without its route, or a cell that answers otherwise, fails.
//
// Counts, go test -race -run TestRoleMatrix ./internal/api/ (one
// environment: 13-22 s under -race on the shared 2-core dev machine):
//
//	cells tried: 924 (58 routes, 132 route × kind rows, 7 role columns)
//	wrong before branch t3's fixes: 32 (same data, the workload package
//	  and route table of d2f8973)
//	  - 8: get-mailboxstatistics answered SharePoint and compliance admins
//	    (a mailbox's statistics: its DEP and item count) — now Exchange
//	    roles only;
//	  - 24: site file and record listings and deletes did not read the
//	    container at all (site:alice@contoso.com listed as an empty site,
//	    a delete answered "no such file"): no data crossed, since stored
//	    IDs are prefixed by kind, but no route checked the kind — now the
//	    one check in workload.find does.
//	wrong after: 0
//
// The operator's cells are the "operator" column; on top of its cell,
// every operator call is checked to return no content and, outside
// operatorWrites, to change nothing.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/api"
	"github.com/customerkey/customerkey/internal/store"
)

// The columns of testdata/matrix.txt: the roles of a tenant's admins, the
// operator, no token at all, and another tenant's global admin.
var matrixRoles = []string{"operator", "global-admin", "exchange-admin", "sharepoint-admin", "compliance-admin", "none", "other"}

// The kinds a route's parameters can name: containers for the routes that
// take one ({mailbox}, {site}, {workload}, and new-mailbox's kind), DEPs
// for the routes that take one ({dep}); "-" for the others.
var (
	containerKinds = []string{"mailbox", "mailuser", "site", "workload"}
	depKindNames   = []string{"mailbox-dep", "mdep", "site-dep"}
)

func kindsOf(r api.Route) []string {
	switch {
	case r.ID == "new-mailbox", strings.Contains(r.Path, "{mailbox}"), strings.Contains(r.Path, "{site}"), strings.Contains(r.Path, "{workload}"):
		return containerKinds
	case strings.Contains(r.Path, "{dep}"):
		return depKindNames
	}
	return []string{"-"}
}

// operatorWrites are the operator's documented routes that change a
// tenant's data (T5). Every other operation the operator may call leaves
// the tenant's data as it was.
var operatorWrites = map[string]bool{
	"create-tenant":      true,
	"new-access-request": true, // a pending request: the tenant decides
	"set-plans":          true,
	"set-licence":        true,
	"rollback-m365dataatrestencryptionpolicy": true,
	"recover-dataencryptionpolicy":            true,
	"recover-spodataencryptionpolicy":         true,
}

// contentRoutes answer content (item, file and record bodies, search
// results): the operator never gets a success from them (T5).
var contentRoutes = []string{"get-item", "get-record", "get-file", "search-mailbox"}

// readMatrix reads testdata/matrix.txt: route, kind, then one cell per
// column of matrixRoles.
func readMatrix(t *testing.T) map[[2]string][]string {
	t.Helper()
	f, err := os.Open("testdata/matrix.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[[2]string][]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fs := strings.Fields(line)
		if len(fs) != 2+len(matrixRoles) {
			t.Fatalf("testdata/matrix.txt:%d: %d fields, want route, kind and %d cells", n, len(fs), len(matrixRoles))
		}
		k := [2]string{fs[0], fs[1]}
		if _, dup := out[k]; dup {
			t.Fatalf("testdata/matrix.txt:%d: %s %s twice", n, fs[0], fs[1])
		}
		out[k] = fs[2:]
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// matrixWorld is one tenant with a container of every kind, each holding
// doc-1 (its canary content), a DEP of every kind, and tokens of every
// role; Fabrikam is the other tenant.
type matrixWorld struct {
	*depEnv
	tokens     map[string]string // matrixRoles column -> token
	deps       map[string]string // DEP kind -> name
	canary     map[string]string // container kind -> doc-1's content
	job        string
	tenantIDs  []string
	siteKeyVer string
	n          int
	requests   map[string]string // operator route -> an approved access request for it
}

const T3 = "/v1/tenants/Contoso"

func newMatrixWorld(t *testing.T) *matrixWorld {
	e := startDEPs(t)
	ctx := context.Background()
	w := &matrixWorld{depEnv: e, tokens: map[string]string{"operator": e.operator, "exchange-admin": e.admin, "none": ""},
		canary: map[string]string{"mailbox": "canary mailbox alice", "mailuser": "canary mailuser mu", "site": "canary site finance", "workload": "canary workload teams"}}
	// Contoso's tokens come from its first global admin (T5); Fabrikam's
	// first global admin from the operator.
	token := func(tenant, subject, role string) string {
		issuer := e.global
		if tenant != "Contoso" {
			issuer = e.operator
		}
		st, _, b := e.call(issuer, "POST", "/v1/tenants/"+tenant+"/tokens", fmt.Sprintf(`{"subject":%q,"role":%q}`, subject, role))
		if st != 201 {
			t.Fatalf("token %s: %d %v", role, st, b)
		}
		return b["token"].(string)
	}
	w.tokens["global-admin"] = token("Contoso", "admin@contoso.com", "global-admin")
	w.tokens["sharepoint-admin"] = token("Contoso", "spo@contoso.com", "sharepoint-admin")
	w.tokens["compliance-admin"] = token("Contoso", "cmp@contoso.com", "compliance-admin")
	w.tokens["other"] = token("Fabrikam", "eve@fabrikam.com", "global-admin")
	ga := w.tokens["global-admin"]
	must := func(st int, want int, what string, b any) {
		t.Helper()
		if st != want {
			t.Fatalf("%s: %d %v", what, st, b)
		}
	}
	for _, p := range []string{"dataEncryptionPolicies/EXO-1", "dataEncryptionPolicies/EXO-2", "m365DataAtRestEncryptionPolicies/MDEP-1", "m365DataAtRestEncryptionPolicies/MDEP-2"} {
		coll, name, _ := strings.Cut(p, "/")
		st, _, b := e.call(ga, "POST", T3+"/"+coll, fmt.Sprintf(`{"name":%q,"azureKeyIDs":%s}`, name, e.keys))
		must(st, 201, name, b)
	}
	st, _, b := e.call(ga, "PUT", T3+"/m365DataAtRestEncryptionPolicyAssignment", `{"dataEncryptionPolicy":"MDEP-1"}`)
	must(st, 200, "assign MDEP-1", b)
	if err := e.st.SetLicence(ctx, e.seed.Tenant, "mu@contoso.com", "E5"); err != nil {
		t.Fatal(err)
	}
	for _, mb := range []string{`{"id":"alice@contoso.com","dataEncryptionPolicy":"EXO-1"}`, `{"id":"mu@contoso.com","kind":"MailUser","dataEncryptionPolicy":"EXO-1"}`} {
		st, _, b := e.call(ga, "POST", T3+"/mailboxes", mb)
		must(st, 201, mb, b)
	}
	v0, v1 := e.newVersion(0, "key"), e.newVersion(1, "key")
	w.siteKeyVer = v0
	st, _, b = e.call(ga, "POST", T3+"/spoDataEncryptionPolicies", fmt.Sprintf(`{"geo":"NAM","primaryVaultName":%q,"primaryKeyName":"key","primaryKeyVersion":%q,"secondaryVaultName":%q,"secondaryKeyName":"key","secondaryKeyVersion":%q}`,
		e.seed.Vaults[0].Name, v0, e.seed.Vaults[1].Name, v1))
	must(st, 202, "register NAM", b)
	g := e.waitRegistered(ga, "NAM")
	sd, err := e.st.DEPByID(ctx, e.seed.Tenant, g["dataEncryptionPolicyID"].(string))
	if err != nil {
		t.Fatal(err)
	}
	w.deps = map[string]string{"mailbox-dep": "EXO-1", "mdep": "MDEP-2", "site-dep": sd.Name}
	// The tenant's own access requests for the operator's routes (T5):
	// approved as made; a route given another DEP kind than its request's
	// is refused as out of scope.
	w.requests = map[string]string{}
	for route, req := range map[string]string{
		"rollback-m365dataatrestencryptionpolicy": `{"action":"rollback","dep":"MDEP-2","reason":"ticket 1 from cso@contoso.com"}`,
		"recover-dataencryptionpolicy":            `{"action":"recover","dep":"EXO-1","to":"EXO-2","reason":"ticket 1 from cso@contoso.com"}`,
		"recover-spodataencryptionpolicy":         fmt.Sprintf(`{"action":"recover-geo","dep":"NAM","keys":[%q,%q],"reason":"ticket 1 from cso@contoso.com"}`, w.siteKeyURI(0), w.siteKeyURI(1)),
	} {
		st, _, b := e.call(ga, "POST", T3+"/accessRequests", req)
		must(st, 201, "access request for "+route, b)
		w.requests[route] = b["id"].(string)
	}
	st, _, b = e.call(ga, "POST", T3+"/sites", `{"name":"finance","geo":"NAM"}`)
	must(st, 201, "site", b)
	for _, kind := range containerKinds {
		w.restore(kind)
	}
	_, _, jobs := e.call(ga, "GET", T3+"/jobs?limit=1", "")
	w.job = jobs["value"].([]any)[0].(map[string]any)["id"].(string)
	for _, name := range []string{"Contoso", "Fabrikam"} {
		tn, err := e.st.ServiceTenant(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		w.tenantIDs = append(w.tenantIDs, tn.ID)
	}
	return w
}

// docPath is where doc-1 of a container kind is, through its own route.
func docPath(kind string) string {
	return map[string]string{"mailbox": T3 + "/mailboxes/alice@contoso.com/items/doc-1", "mailuser": T3 + "/mailboxes/mu@contoso.com/items/doc-1",
		"site": T3 + "/sites/finance/files/doc-1", "workload": T3 + "/records/teams/doc-1"}[kind]
}

// restore puts doc-1 back in a container of kind if it is not there.
func (w *matrixWorld) restore(kind string) {
	w.t.Helper()
	if st, _ := w.raw(w.tokens["global-admin"], "GET", docPath(kind), nil); st == 200 {
		return
	}
	if st, b := w.raw(w.tokens["global-admin"], "PUT", docPath(kind), []byte(w.canary[kind])); st != 200 {
		w.t.Fatalf("restore %s: %d %s", kind, st, b)
	}
}

// container is what a route's container parameter is given for kind: the
// container's name on its own kind of route, its stored ID on the others
// (what an attacker would try: /mailboxes/site:finance/items/...).
func containerParam(r api.Route, kind string) string {
	switch {
	case strings.Contains(r.Path, "{site}") && kind == "site":
		return "finance"
	case strings.Contains(r.Path, "{workload}") && kind == "workload":
		return "teams"
	}
	return map[string]string{"mailbox": "alice@contoso.com", "mailuser": "mu@contoso.com", "site": "site:finance", "workload": "workload:teams"}[kind]
}

// request is the request of a route for kind: path and body.
func (w *matrixWorld) request(r api.Route, kind string) (string, string, []byte) {
	w.n++
	c := containerParam(r, kind)
	path := strings.NewReplacer("{tenant}", "Contoso", "{mailbox}", c, "{site}", c, "{workload}", c, "{dep}", w.deps[kind],
		"{item}", "doc-1", "{record}", "doc-1", "{file}", "doc-1", "{upload}", "0000000000000000", "{user}", "alice@contoso.com", "{geo}", "NAM", "{job}", w.job, "{officer}", "cso@contoso.com",
		"{id}", "00000000-0000-0000-0000-000000000000", "{token}", "0000000000000000", "{request}", "00000000-0000-0000-0000-000000000000").Replace(r.Path)
	switch r.ID {
	case "put-item", "put-record", "put-file":
		return path, "application/octet-stream", []byte(w.canary[kind])
	case "search-mailbox":
		path += "?q=canary"
	}
	mailboxKinds := map[string]string{"mailbox": "UserMailbox", "mailuser": "MailUser", "site": "Site:NAM", "workload": "MultiWorkload"}
	body := map[string]string{
		"create-tenant":                                fmt.Sprintf(`{"name":"Matrix%d"}`, w.n),
		"create-token":                                 `{"subject":"new@contoso.com","role":"exchange-admin"}`,
		"new-access-request":                           `{"action":"rollback","dep":"MDEP-2","reason":"asked by the matrix"}`,
		"set-plans":                                    `{"plans":["E5"]}`,
		"set-licence":                                  `{"plan":"E5"}`,
		"new-customerkeyonboardingrequest":             fmt.Sprintf(`{"scenario":"EXO","mode":"Validate","subscriptions":["a","b"],"vaults":[%q,%q],"keys":["key","key"]}`, w.seed.Vaults[0].Name, w.seed.Vaults[1].Name),
		"new-dataencryptionpolicy":                     fmt.Sprintf(`{"name":"EXO-N%d","azureKeyIDs":%s}`, w.n, w.keys),
		"new-m365dataatrestencryptionpolicy":           fmt.Sprintf(`{"name":"MDEP-N%d","azureKeyIDs":%s}`, w.n, w.keys),
		"set-dataencryptionpolicy":                     `{"description":"set by the matrix"}`,
		"set-m365dataatrestencryptionpolicy":           `{"description":"set by the matrix"}`,
		"set-m365dataatrestencryptionpolicyassignment": `{"dataEncryptionPolicy":"MDEP-1"}`,
		"rollback-m365dataatrestencryptionpolicy":      fmt.Sprintf(`{"request":%q}`, w.requests[r.ID]),
		"recover-dataencryptionpolicy":                 fmt.Sprintf(`{"to":"EXO-2","request":%q}`, w.requests[r.ID]),
		"new-mailbox":                                  fmt.Sprintf(`{"id":"new%d@contoso.com","kind":%q}`, w.n, mailboxKinds[kind]),
		"set-mailbox":                                  `{"dataEncryptionPolicy":"EXO-1"}`,
		"register-spodataencryptionpolicy":             fmt.Sprintf(`{"geo":"NAM","primaryVaultName":%q,"primaryKeyName":"key","primaryKeyVersion":%q,"secondaryVaultName":%q,"secondaryKeyName":"key","secondaryKeyVersion":%q}`, w.seed.Vaults[0].Name, w.siteKeyVer, w.seed.Vaults[1].Name, w.siteKeyVer),
		"update-spodataencryptionpolicy":               fmt.Sprintf(`{"keyType":"Primary","vaultName":%q,"keyName":"key","keyVersion":%q}`, w.seed.Vaults[0].Name, w.siteKeyVer),
		"recover-spodataencryptionpolicy":              fmt.Sprintf(`{"primaryKeyURI":%q,"secondaryKeyURI":%q,"request":%q}`, w.siteKeyURI(0), w.siteKeyURI(1), w.requests[r.ID]),
		"new-file-upload":                              `{"size":100000}`,
		"new-site":                                     fmt.Sprintf(`{"name":"site-%d","geo":"NAM"}`, w.n),
		"approve-dataencryptionpolicy-purge":           `{"officer":"cso@contoso.com","signature":"` + strings.Repeat("A", 86) + `=="}`,
		"register-officer-key":                         "{\"publicKey\":\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGnvh5GsCLyWDUx5EIbqGVoXR3J3rOyzIDuNu4Z8VAhZ cso\"}",
		"confirm-officer-key":                          `{"fingerprint":"SHA256:not-the-officer's-key"}`,
	}[r.ID]
	if body == "" && r.Method != "GET" && r.Method != "DELETE" {
		body = "{}"
	}
	return path, "application/json", []byte(body)
}

// siteKeyURI is the versioned URI of the geo's key in seed vault i.
func (w *matrixWorld) siteKeyURI(i int) string {
	return w.seed.Vaults[i].URI + "/keys/key/" + w.siteKeyVer
}

func (w *matrixWorld) do(r api.Route, kind, role string) (int, string, []byte) {
	w.t.Helper()
	path, ct, body := w.request(r, kind)
	req, _ := http.NewRequest(r.Method, w.srv.URL+path, bytes.NewReader(body))
	if tok := w.tokens[role]; tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if len(body) > 0 {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := w.srv.Client().Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), data
}

// idle waits until no job of either tenant is queued or running.
func (w *matrixWorld) idle() {
	w.t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		busy := false
		for _, id := range w.tenantIDs {
			js, err := w.st.ListJobsBefore(context.Background(), id, store.PageKey{}, 50)
			if err != nil {
				w.t.Fatal(err)
			}
			for _, j := range js {
				busy = busy || j.State == store.JobQueued || j.State == store.JobRunning
			}
		}
		if !busy {
			return
		}
		if time.Now().After(deadline) {
			w.t.Fatal("jobs still running after 30 s")
		}
	}
}

// digest sums up both tenants' data: containers with their keys and
// items, DEPs, the MDEP assignment, purges, jobs, plans, licences,
// onboarding requests and geo registrations, tokens (with their
// revocation), DEPs' revocation state, and the tenants. (Not the audit
// log, which records refusals too, nor a token's last use.)
func (w *matrixWorld) digest() string {
	w.t.Helper()
	ctx := context.Background()
	h := sha256.New()
	ck := func(err error) {
		if err != nil {
			w.t.Fatal(err)
		}
	}
	ts, err := w.st.ListServiceTenants(ctx)
	ck(err)
	for _, tn := range ts {
		fmt.Fprintln(h, "tenant", tn.ID, tn.Name)
	}
	for _, tid := range w.tenantIDs {
		ms, err := w.st.ListMailboxes(ctx, tid)
		ck(err)
		for _, m := range ms {
			fmt.Fprintln(h, "container", m.ID, m.Kind, m.DEP, m.Target, m.KeyVersion, hex.EncodeToString(m.ContainerKey))
			items, err := w.st.ListItems(ctx, tid, m.ID)
			ck(err)
			for _, it := range items {
				fmt.Fprintln(h, "item", it.ID, it.Kind, it.Version, hex.EncodeToString(it.Sealed))
			}
		}
		for _, k := range []string{"mailbox", "mdep", "site"} {
			ds, err := w.st.ListDEPs(ctx, tid, k)
			ck(err)
			for _, d := range ds {
				fmt.Fprintln(h, "dep", d.ID, d.Name, d.Kind, d.Enabled, d.Description, d.KeyURIs, hex.EncodeToString(d.Keys), d.Revoked.UnixNano(), d.RevokedCause)
			}
		}
		toks, err := w.st.ListTokens(ctx, tid)
		ck(err)
		for _, tk := range toks {
			fmt.Fprintln(h, "token", tk.ID, tk.Subject, tk.Role, tk.Expires.UnixNano(), tk.Revoked != nil)
		}
		a, _, err := w.st.Assignment(ctx, tid, "mdep")
		ck(err)
		fmt.Fprintln(h, "assignment", a)
		ps, err := w.st.ListPurges(ctx, tid)
		ck(err)
		for _, p := range ps {
			fmt.Fprintln(h, "purge", p.DEP, p.State, len(p.Approvals))
		}
		js, err := w.st.ListJobsBefore(ctx, tid, store.PageKey{}, 1000)
		ck(err)
		for _, j := range js {
			fmt.Fprintln(h, "job", j.ID, j.Kind, j.Target)
		}
		plans, err := w.st.Plans(ctx, tid)
		ck(err)
		fmt.Fprintln(h, "plans", plans)
		for _, u := range []string{"alice@contoso.com", "mu@contoso.com"} {
			l, _ := w.st.Licence(ctx, tid, u)
			fmt.Fprintln(h, "licence", u, l)
		}
		rs, err := w.st.ListOnboardingRequests(ctx, tid)
		ck(err)
		for _, r := range rs {
			fmt.Fprintln(h, "onboarding", r.ID)
		}
		gs, err := w.st.ListSiteRegistrations(ctx, tid)
		ck(err)
		for _, g := range gs {
			fmt.Fprintln(h, "geo", g.Geo, g.DEP, g.State)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// checkCell compares an answer with a cell of the matrix:
//
//	ok          2xx: the handler ran and did it
//	deny        403 Authorization.*: refused for the role, before the handler
//	auth        401 Authentication: no token
//	tenant      404 Tenant.Exists: another tenant's admin finds nothing
//	nf:RULE     404 with RULE: not found (a container of another kind, or a
//	            DEP of another kind, is not found, as if it did not exist)
//	NNN:RULE    status NNN with RULE: the handler ran and refused
//
// Every refusal is a problem+json with a detail and a fix.
func checkCell(cell string, st int, ct string, body []byte) error {
	if cell == "ok" {
		if st/100 != 2 {
			return fmt.Errorf("%d %s, want 2xx", st, body)
		}
		return nil
	}
	want, rl := 0, ""
	switch cell {
	case "deny":
		want, rl = 403, "Authorization."
	case "auth":
		want, rl = 401, "Authentication"
	case "tenant":
		want, rl = 404, "Tenant.Exists"
	default:
		code, r, ok := strings.Cut(cell, ":")
		if !ok {
			return fmt.Errorf("bad cell %q", cell)
		}
		if code == "nf" {
			code = "404"
		}
		n, err := strconv.Atoi(code)
		if err != nil {
			return fmt.Errorf("bad cell %q", cell)
		}
		want, rl = n, r
	}
	var p struct{ Rule, Detail, Fix string }
	json.Unmarshal(body, &p)
	if st != want || ct != "application/problem+json" || p.Detail == "" || p.Fix == "" ||
		cell == "deny" && !strings.HasPrefix(p.Rule, rl) || cell != "deny" && p.Rule != rl {
		return fmt.Errorf("%d %s %s, want %d problem+json with rule %s, a detail and a fix", st, ct, body, want, rl)
	}
	return nil
}

// TestRoleMatrix: every route × every role × every kind its parameters
// can name answers as testdata/matrix.txt says; a refused write changes
// nothing; the operator never gets content, and changes tenant data only
// through its own routes.
func TestRoleMatrix(t *testing.T) {
	w := newMatrixWorld(t)
	matrix := readMatrix(t)
	seen := map[[2]string]bool{}
	tried, wrong, opTried, opWrong := 0, 0, 0, 0
	for _, r := range w.api.Routes() {
		for _, kind := range kindsOf(r) {
			k := [2]string{r.ID, kind}
			row, ok := matrix[k]
			if !ok {
				t.Errorf("testdata/matrix.txt has no row for %s %s (%s %s): add one with what every role must get", r.ID, kind, r.Method, r.Path)
				continue
			}
			seen[k] = true
			for i, role := range matrixRoles {
				cell := row[i]
				write := r.Method != "GET"
				effects := write && (cell != "ok" || role == "operator" && !operatorWrites[r.ID])
				var before string
				if effects {
					w.idle()
					before = w.digest()
				}
				tried++
				st, ct, body := w.do(r, kind, role)
				var errs []string
				if err := checkCell(cell, st, ct, body); err != nil {
					errs = append(errs, err.Error())
				}
				if effects {
					w.idle()
					if after := w.digest(); after != before {
						errs = append(errs, "it changed the tenants' data")
					}
				}
				if bytes.Contains(body, []byte("canary")) && (role == "operator" || st/100 != 2) {
					errs = append(errs, "the answer holds content")
				}
				if role == "operator" && slices.Contains(contentRoutes, r.ID) && st/100 == 2 {
					errs = append(errs, "the operator got content")
				}
				if role == "operator" {
					opTried++
				}
				if len(errs) > 0 {
					wrong++
					if role == "operator" {
						opWrong++
					}
					t.Errorf("%s %s as %s: %s (cell %s)", r.ID, kind, role, strings.Join(errs, "; "), cell)
				}
				if write && st/100 == 2 {
					w.idle()
				}
				if strings.HasPrefix(r.ID, "delete-") || write && st/100 == 2 {
					for _, c := range containerKinds {
						w.restore(c)
					}
				}
			}
		}
	}
	for k := range matrix {
		if !seen[k] {
			t.Errorf("testdata/matrix.txt: row %s %s names no route and kind of the route table", k[0], k[1])
		}
	}
	t.Logf("role matrix: %d cells tried, %d wrong; of them the operator's: %d tried, %d wrong", tried, wrong, opTried, opWrong)
	// The containers still hold what they held.
	for _, kind := range containerKinds {
		if st, got := w.raw(w.tokens["global-admin"], "GET", docPath(kind), nil); st != 200 || string(got) != w.canary[kind] {
			t.Errorf("%s after the matrix: %d %q", kind, st, got)
		}
	}
}
