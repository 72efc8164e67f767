package api_test

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
)

// TestCrossTenantMatrix calls every tenant-scoped operation of the OpenAPI
// document on Contoso's resources with Fabrikam's global admin token: each
// is denied (404, or 403 for operator-only routes), and none succeeds or
// reveals anything. New routes are covered as soon as they are documented.
func TestCrossTenantMatrix(t *testing.T) {
	e := startDEPs(t)
	const base = "/v1/tenants/Contoso"
	st, _, dep := e.call(e.admin, "POST", base+"/dataEncryptionPolicies", fmt.Sprintf(`{"name":"Contoso-EXO-DEP-1","azureKeyIDs":%s}`, e.keys))
	if st != 201 {
		t.Fatalf("DEP: %d %v", st, dep)
	}
	if st, _, body := e.call(e.admin, "POST", base+"/mailboxes", `{"id":"alice@contoso.com","dataEncryptionPolicy":"Contoso-EXO-DEP-1"}`); st != 201 {
		t.Fatalf("mailbox: %d %v", st, body)
	}
	if st, _ := e.raw(e.admin, "PUT", base+"/mailboxes/alice@contoso.com/items/item-0", []byte("secret")); st != 200 {
		t.Fatalf("item: %d", st)
	}
	_, _, ftok := e.call(e.operator, "POST", "/v1/tenants/Fabrikam/tokens", `{"subject":"eve@fabrikam.com","role":"global-admin"}`)
	eve := ftok["token"].(string)

	doc, err := os.ReadFile("../../docs/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var openapi struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(doc, &openapi); err != nil {
		t.Fatal(err)
	}
	params := strings.NewReplacer("{tenant}", "Contoso", "{dep}", dep["id"].(string), "{mailbox}", "alice@contoso.com", "{item}", "item-0", "{id}", "00000000-0000-0000-0000-000000000000", "{workload}", "teams", "{record}", "chat-1", "{site}", "finance", "{file}", "budget.xlsx", "{user}", "alice@contoso.com", "{geo}", "NAM", "{job}", "00000000-0000-0000-0000-000000000000")
	bodies := map[string]string{
		"new-dataencryptionpolicy":                     fmt.Sprintf(`{"name":"x","azureKeyIDs":%s}`, e.keys),
		"new-m365dataatrestencryptionpolicy":           fmt.Sprintf(`{"name":"x","azureKeyIDs":%s}`, e.keys),
		"set-dataencryptionpolicy":                     `{"enabled":false}`,
		"set-m365dataatrestencryptionpolicy":           `{"enabled":false}`,
		"set-m365dataatrestencryptionpolicyassignment": `{"dataEncryptionPolicy":"x"}`,
		"new-mailbox":                             `{"id":"mallory@contoso.com"}`,
		"set-mailbox":                             `{"dataEncryptionPolicy":""}`,
		"set-plans":                               `{"plans":["E5"]}`,
		"create-token":                            `{"subject":"eve@contoso.com","role":"global-admin"}`,
		"new-customerkeyonboardingrequest":        `{"scenario":"EXO","mode":"Enable","subscriptions":["a","b"],"vaults":["a","b"],"keys":["a","b"]}`,
		"register-spodataencryptionpolicy":        `{"geo":"NAM","primaryVaultName":"a","primaryKeyName":"a","primaryKeyVersion":"a","secondaryVaultName":"b","secondaryKeyName":"b","secondaryKeyVersion":"b"}`,
		"set-licence":                             `{"plan":"E5"}`,
		"new-site":                                `{"name":"finance","geo":"NAM"}`,
		"recover-dataencryptionpolicy":            `{"to":"x","reason":"x"}`,
		"update-spodataencryptionpolicy":          `{"keyType":"Primary","vaultName":"a","keyName":"a","keyVersion":"a"}`,
		"rollback-m365dataatrestencryptionpolicy": `{"reason":"x"}`,
		"recover-spodataencryptionpolicy":         `{"primaryKeyURI":"a","secondaryKeyURI":"b","reason":"x"}`,
	}
	var covered []string
	for path, ops := range openapi.Paths {
		if !strings.Contains(path, "{tenant}") {
			continue
		}
		for method, op := range ops {
			method = strings.ToUpper(method)
			url := params.Replace(path)
			var st int
			var body map[string]any
			if op.OperationID == "put-item" || op.OperationID == "put-record" || op.OperationID == "put-file" {
				st, _ = e.raw(eve, method, url, []byte("overwrite"))
			} else {
				st, _, body = e.call(eve, method, url, bodies[op.OperationID])
			}
			covered = append(covered, op.OperationID)
			if st != 404 && st != 403 {
				t.Errorf("%s %s (%s) with another tenant's token: %d %v, want 404 or 403", method, url, op.OperationID, st, body)
			}
		}
	}
	sort.Strings(covered)
	if len(covered) < 20 {
		t.Fatalf("only %d tenant-scoped operations found: %v", len(covered), covered)
	}
	t.Logf("%d operations denied across tenants: %v", len(covered), covered)
	// Contoso's data is intact.
	if st, got := e.raw(e.admin, "GET", base+"/mailboxes/alice@contoso.com/items/item-0", nil); st != 200 || string(got) != "secret" {
		t.Fatalf("Contoso's item after the attempts: %d %q", st, got)
	}
}
