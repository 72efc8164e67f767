package api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/customerkey/customerkey/internal/keyring"
)

// raw sends a request with a raw body and returns status and body.
func (e *env) raw(token, method, path string, body []byte) (int, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

func TestMailboxDataPlane(t *testing.T) {
	e := startDEPs(t)
	const base = "/v1/tenants/Contoso/mailboxes"
	st, _, dep := e.call(e.admin, "POST", "/v1/tenants/Contoso/dataEncryptionPolicies", fmt.Sprintf(`{"name":"Contoso-EXO-DEP-1","azureKeyIDs":%s}`, e.keys))
	if st != 201 {
		t.Fatalf("DEP: %d %v", st, dep)
	}
	depID := dep["id"].(string)

	// A mailbox on service-managed keys, and a mail user on the DEP.
	st, _, mb := e.call(e.admin, "POST", base, `{"id":"alice@contoso.com"}`)
	if st != 201 || mb["isEncrypted"] != false || mb["dataEncryptionPolicyID"] != nil {
		t.Fatalf("new mailbox: %d %v", st, mb)
	}
	st, _, mu := e.call(e.admin, "POST", base, `{"id":"bob@contoso.com","kind":"MailUser","dataEncryptionPolicy":"Contoso-EXO-DEP-1"}`)
	if st != 201 || mu["isEncrypted"] != true || mu["dataEncryptionPolicyID"] != depID || mu["kind"] != "MailUser" {
		t.Fatalf("new mail user: %d %v", st, mu)
	}

	marker := "CUSTOMERKEY-AT-REST-MARKER-4f1d"
	bodies := map[string][]byte{}
	for i, mailbox := range []string{"alice@contoso.com", "bob@contoso.com"} {
		for j, kind := range []string{"message", "attachment", "calendar"} {
			item := fmt.Sprintf("item-%d", j)
			content := []byte(fmt.Sprintf("%s %d/%d %s", marker, i, j, strings.Repeat("quarterly numbers ", 50)))
			bodies[mailbox+"/"+item] = content
			if st, body := e.raw(e.admin, "PUT", base+"/"+mailbox+"/items/"+item+"?kind="+kind, content); st != 200 {
				t.Fatalf("put %s/%s: %d %s", mailbox, item, st, body)
			}
		}
	}
	read := func(mailbox, item string) {
		t.Helper()
		st, got := e.raw(e.admin, "GET", base+"/"+mailbox+"/items/"+item, nil)
		if st != 200 || !bytes.Equal(got, bodies[mailbox+"/"+item]) {
			t.Fatalf("read %s/%s: %d %.60q", mailbox, item, st, got)
		}
	}
	for k := range bodies {
		mailbox, item, _ := strings.Cut(k, "/")
		read(mailbox, item)
	}

	// Assign the DEP to alice: the statistics change; content is untouched and readable.
	before, _ := e.st.Item(context.Background(), e.seed.Tenant, "alice@contoso.com", "item-0")
	// The re-wrap runs in the background: the statistics show the old keys
	// until its job is done (D3).
	st, _, stats := e.call(e.admin, "PATCH", base+"/alice@contoso.com", `{"dataEncryptionPolicy":"Contoso-EXO-DEP-1"}`)
	if st != 202 || stats["isEncrypted"] != false || stats["job"] == nil {
		t.Fatalf("Set-Mailbox: %d %v", st, stats)
	}
	again, _, body := e.call(e.admin, "PATCH", base+"/alice@contoso.com", `{"dataEncryptionPolicy":"Contoso-EXO-DEP-1"}`)
	if again == 202 && body["job"].(map[string]any)["id"] != stats["job"].(map[string]any)["id"] {
		// Only wrong while the first job is still at work: one that ended
		// between the second assignment's write and its queueing leaves
		// the second its own job (which finds nothing left to move).
		_, _, first := e.call(e.admin, "GET", "/v1/tenants/Contoso/jobs/"+stats["job"].(map[string]any)["id"].(string), "")
		if first["state"] != "succeeded" {
			t.Fatalf("the same assignment again queued another job while the first is %v: %v", first["state"], body)
		}
	}
	e.waitJob(e.admin, "Contoso", stats["job"].(map[string]any)["id"].(string))
	_, _, stats = e.call(e.admin, "GET", base+"/alice@contoso.com/statistics", "")
	if stats["isEncrypted"] != true || stats["dataEncryptionPolicyID"] != depID || stats["itemCount"] != float64(3) {
		t.Fatalf("after the re-wrap: %v", stats)
	}
	after, _ := e.st.Item(context.Background(), e.seed.Tenant, "alice@contoso.com", "item-0")
	if !bytes.Equal(before.Sealed, after.Sealed) {
		t.Fatal("assigning a DEP re-encrypted content; only keys may be re-wrapped (K7)")
	}
	read("alice@contoso.com", "item-0")
	// ... and back to service-managed keys.
	st, _, stats = e.call(e.admin, "PATCH", base+"/alice@contoso.com", `{"dataEncryptionPolicy":""}`)
	if st != 202 {
		t.Fatalf("Set-Mailbox none: %d %v", st, stats)
	}
	e.waitJob(e.admin, "Contoso", stats["job"].(map[string]any)["id"].(string))
	if _, _, stats = e.call(e.admin, "GET", base+"/alice@contoso.com/statistics", ""); stats["isEncrypted"] != false {
		t.Fatalf("after the re-wrap to service-managed keys: %v", stats)
	}
	read("alice@contoso.com", "item-1")

	// A disabled DEP cannot be assigned (D2).
	e.call(e.admin, "PATCH", "/v1/tenants/Contoso/dataEncryptionPolicies/Contoso-EXO-DEP-1", `{"enabled":false}`)
	st, ct, body := e.call(e.admin, "PATCH", base+"/alice@contoso.com", `{"dataEncryptionPolicy":"Contoso-EXO-DEP-1"}`)
	e.wantProblem(400, "D2.Enabled", st, ct, body)

	// Another tenant's token reads nothing.
	_, _, ftok := e.call(e.operator, "POST", "/v1/tenants/Fabrikam/tokens", `{"subject":"eve@fabrikam.com","role":"global-admin"}`)
	eve := ftok["token"].(string)
	for _, tc := range []struct{ method, path string }{
		{"GET", base + "/bob@contoso.com/items/item-0"},
		{"GET", base + "/bob@contoso.com/items"},
		{"GET", base + "/bob@contoso.com/statistics"},
		{"PUT", base + "/bob@contoso.com/items/x"},
		{"DELETE", base + "/bob@contoso.com/items/item-0"},
	} {
		st, _ := e.raw(eve, tc.method, tc.path, []byte("x"))
		if st != 404 {
			t.Errorf("%s %s with another tenant's token: %d, want 404", tc.method, tc.path, st)
		}
	}

	st, ct, body = e.call(eve, "PATCH", base+"/bob@contoso.com", `{"dataEncryptionPolicy":""}`)
	e.wantProblem(404, "Tenant.Exists", st, ct, body)

	// At rest: no marker, no content, in the database file or its WAL.
	for _, f := range []string{"ck.db", "ck.db-wal"} {
		data, err := os.ReadFile(filepath.Join(e.vault.Dir, f))
		if err != nil {
			continue
		}
		if bytes.Contains(data, []byte(marker)) || bytes.Contains(data, []byte("quarterly numbers")) {
			t.Fatalf("plaintext found at rest in %s", f)
		}
	}
	// Nor the DEP key itself, as the keyring holds it in memory.
	d, _ := e.st.DEP(context.Background(), e.seed.Tenant, "mailbox", depID)
	kd := keyring.DEP{ID: d.ID, Tenant: d.Tenant, Kind: keyring.Mailbox}
	if err := kd.UnmarshalKeys(d.Keys); err != nil {
		t.Fatal(err)
	}
	depKey, err := e.ring.DEPKey(context.Background(), kd, keyring.Request{Initiator: keyring.Service, Reason: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"ck.db", "ck.db-wal"} {
		data, _ := os.ReadFile(filepath.Join(e.vault.Dir, f))
		if bytes.Contains(data, depKey.Bytes()) {
			t.Fatalf("the DEP key is at rest in %s", f)
		}
	}
}
