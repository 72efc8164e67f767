package api_test

import (
	"testing"
	"time"
)

// TestJobs: a Set-Mailbox that moves a mailbox answers 202 with its job;
// the tenant's jobs list it and its own route shows it until it is done.
// An unknown job is Job.Exists; another tenant's admin finds no tenant.
func TestJobs(t *testing.T) {
	e := startDEPs(t)
	e.aliceOnDEP1()
	const T = "/v1/tenants/Contoso"
	moved := e.must(e.admin, "PATCH", T+"/mailboxes/alice@contoso.com", `{"dataEncryptionPolicy":""}`, 202)
	job, _ := moved["job"].(map[string]any)
	id, _ := job["id"].(string)
	if id == "" || job["kind"] == "" {
		t.Fatalf("Set-Mailbox: %v; want its job", moved)
	}
	list := e.must(e.admin, "GET", T+"/jobs", "", 200)
	found := false
	for _, j := range list["value"].([]any) {
		found = found || j.(map[string]any)["id"] == id
	}
	if !found {
		t.Fatalf("the tenant's jobs: %v; want job %s", list, id)
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		j := e.must(e.admin, "GET", T+"/jobs/"+id, "", 200)
		if j["state"] == "succeeded" {
			break
		}
		if j["state"] == "failed" || time.Now().After(deadline) {
			t.Fatalf("job %s: %v", id, j)
		}
	}
	st, ct, body := e.call(e.admin, "GET", T+"/jobs/no-such-job", "")
	e.wantProblem(404, "Job.Exists", st, ct, body)
	e.northwind()
	st, ct, body = e.call(e.northwindAdmin(), "GET", T+"/jobs/"+id, "")
	e.wantProblem(404, "Tenant.Exists", st, ct, body)
}
