package api_test

import (
	"fmt"
	"testing"
)

// TestOnboardingRequests: New-CustomerKeyOnboardingRequest answers each
// rule's outcome and keeps the request; Get- lists it (newest first) and
// shows it by ID, to the tenant's admins only; an unknown ID is O5.Exists.
func TestOnboardingRequests(t *testing.T) {
	e := startDEPs(t)
	validate := fmt.Sprintf(`{"scenario":"EXO","mode":"Validate","subscriptions":[%q,%q],"vaults":[%q,%q],"keys":["key","key"]}`,
		e.seed.Vaults[0].SubscriptionID, e.seed.Vaults[1].SubscriptionID, e.seed.Vaults[0].Name, e.seed.Vaults[1].Name)
	got := e.must(e.global, "POST", "/v1/tenants/Contoso/onboardingRequests", validate, 201)
	id, _ := got["id"].(string)
	vr, _ := got["validationResult"].(map[string]any)
	rules, _ := vr["rules"].([]any)
	if id == "" || vr["status"] == nil || len(rules) == 0 {
		t.Fatalf("a validation: %v; want its ID, a status and each rule", got)
	}
	for _, r := range rules {
		if rm, _ := r.(map[string]any); rm["ruleName"] == "" || rm["actualValue"] == nil {
			t.Errorf("a rule without its name or outcome: %v", r)
		}
	}

	list := e.must(e.admin, "GET", "/v1/tenants/Contoso/onboardingRequests", "", 200)
	if v, _ := list["value"].([]any); len(v) != 1 || v[0].(map[string]any)["validationResult"] == nil {
		t.Errorf("the tenant's requests: %v; want the one made", list)
	}
	one := e.must(e.admin, "GET", "/v1/tenants/Contoso/onboardingRequests/"+id, "", 200)
	if one["validationResult"].(map[string]any)["status"] != vr["status"] {
		t.Errorf("request %s shown as %v; made as %v", id, one, got)
	}

	st, ct, body := e.call(e.admin, "GET", "/v1/tenants/Contoso/onboardingRequests/no-such-request", "")
	e.wantProblem(404, "O5.Exists", st, ct, body)
	// Another tenant's admin finds neither the tenant nor its request.
	e.northwind()
	st, ct, body = e.call(e.northwindAdmin(), "GET", "/v1/tenants/Contoso/onboardingRequests/"+id, "")
	e.wantProblem(404, "Tenant.Exists", st, ct, body)
	// Only the global admin submits.
	st, ct, body = e.call(e.admin, "POST", "/v1/tenants/Contoso/onboardingRequests", validate)
	e.wantProblem(403, "Authorization.Role", st, ct, body)
}
