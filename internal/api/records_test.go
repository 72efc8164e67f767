package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/customerkey/customerkey/internal/store"
)

// TestRecords: a multi-workload record is written (a version each time),
// read back, listed without content and deleted by a compliance admin;
// an Exchange admin, whose role the route does not name, gets none of it.
func TestRecords(t *testing.T) {
	e := startDEPs(t)
	cso := e.onMDEP1()
	const base = "/v1/tenants/Contoso/records/teams"
	for i, content := range [][]byte{[]byte("retention label: 7 years"), []byte("retention label: 10 years")} {
		st, body := e.raw(cso, "PUT", base+"/policy", content)
		var info map[string]any
		json.Unmarshal(body, &info)
		if st != 200 || info["version"] != float64(i+1) || info["size"] != float64(len(content)) {
			t.Fatalf("write %d: %d %s; want version %d of %d bytes", i+1, st, body, i+1, len(content))
		}
		if st, got := e.raw(cso, "GET", base+"/policy", nil); st != 200 || !bytes.Equal(got, content) {
			t.Fatalf("read after write %d: %d %q", i+1, st, got)
		}
	}
	list := e.must(cso, "GET", base, "", 200)
	v, _ := list["value"].([]any)
	if raw, _ := json.Marshal(list); len(v) != 1 || v[0].(map[string]any)["id"] != "policy" || bytes.Contains(raw, []byte("retention")) {
		t.Fatalf("list: %v; want the one record, without its content", list)
	}
	if st, body := e.raw(e.admin, "GET", base+"/policy", nil); st != 403 || !bytes.Contains(body, []byte("Authorization.Role")) {
		t.Errorf("an Exchange admin reads a record: %d %s; want 403 Authorization.Role", st, body)
	}
	if st, body := e.raw(cso, "DELETE", base+"/policy", nil); st != 204 {
		t.Fatalf("delete: %d %s", st, body)
	}
	st, ct, body := e.call(cso, "GET", base+"/policy", "")
	e.wantProblem(404, "Record.Exists", st, ct, body)

	// A read of a workload that has no records makes no container for it
	// (a read did, from an attacker review; a write does).
	for _, method := range []string{"GET", "HEAD"} {
		if st, _ := e.raw(cso, method, "/v1/tenants/Contoso/records/yammer/r1", nil); st != 404 {
			t.Fatalf("%s of a record of a workload without records: %d, want 404", method, st)
		}
	}
	if _, err := e.st.Mailbox(context.Background(), e.seed.Tenant, "workload:yammer"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a read made workload yammer's container: %v", err)
	}
}
