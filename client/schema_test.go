package client_test

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/customerkey/customerkey/client"
)

// schemas pairs each client type with the names its schema has had in
// docs/openapi.json: the type's own name once the service declares its
// operations with the client types, the name huma gave the service's own
// (often anonymous) type before.
var schemas = []struct {
	v     any
	names []string
}{
	{client.Health{}, []string{"Health", "HealthOutputBody"}},
	{client.Me{}, []string{"Me"}},
	{client.SigningKey{}, []string{"SigningKey", "Get-service-signing-keyResponse"}},
	{client.Problem{}, []string{"Problem"}},
	{client.ErrorDetail{}, []string{"ErrorDetail"}},
	{client.Tenant{}, []string{"Tenant"}},
	{client.List[client.Tenant]{}, []string{"ListTenant", "TenantsOutputBody"}},
	{client.CreateTenantRequest{}, []string{"CreateTenantRequest", "Create-tenantRequest"}},
	{client.CreateTokenRequest{}, []string{"CreateTokenRequest", "Create-tokenRequest"}},
	{client.Token{}, []string{"Token", "TokenBody"}},
	{client.TokenInfo{}, []string{"TokenInfo"}},
	{client.List[client.TokenInfo]{}, []string{"ListTokenInfo"}},
	{client.NewAccessRequest{}, []string{"NewAccessRequest"}},
	{client.AccessRequest{}, []string{"AccessRequest"}},
	{client.List[client.AccessRequest]{}, []string{"ListAccessRequest"}},
	{client.SetPlansRequest{}, []string{"SetPlansRequest", "Set-plansRequest"}},
	{client.TenantPlans{}, []string{"TenantPlans", "Set-plansResponse"}},
	{client.SetLicenceRequest{}, []string{"SetLicenceRequest", "Set-licenceRequest"}},
	{client.Licence{}, []string{"Licence"}},
	{client.OnboardingRequest{}, []string{"OnboardingRequest", "Request"}},
	{client.OnboardingRule{}, []string{"OnboardingRule", "Rule"}},
	{client.ValidationResult{}, []string{"ValidationResult", "OnboardingResultValidationResultStruct"}},
	{client.OnboardingResult{}, []string{"OnboardingResult"}},
	{client.List[client.OnboardingResult]{}, []string{"ListOnboardingResult", "Get-customerkeyonboardingrequestsResponse"}},
	{client.DEP{}, []string{"DEP"}},
	{client.List[client.DEP]{}, []string{"ListDEP", "DepListBody"}},
	{client.NewDEPRequest{}, []string{"NewDEPRequest", "New-dataencryptionpolicyRequest", "New-m365dataatrestencryptionpolicyRequest"}},
	{client.SetDEPRequest{}, []string{"SetDEPRequest", "Set-dataencryptionpolicyRequest", "Set-m365dataatrestencryptionpolicyRequest"}},
	{client.DEPHealth{}, []string{"DEPHealth"}},
	{client.DEPKeyHealth{}, []string{"DEPKeyHealth"}},
	{client.Revocation{}, []string{"Revocation"}},
	{client.List[client.DEPHealth]{}, []string{"ListDEPHealth"}},
	{client.DEPHealths{}, []string{"DEPHealths"}},
	{client.CertificateFile{}, []string{"CertificateFile"}},
	{client.CertificateCheck{}, []string{"CertificateCheck"}},
	{client.AssignMDEPRequest{}, []string{"AssignMDEPRequest", "Set-m365dataatrestencryptionpolicyassignmentRequest"}},
	{client.Assignment{}, []string{"Assignment"}},
	{client.RecoverDEPRequest{}, []string{"RecoverDEPRequest", "Recover-dataencryptionpolicyRequest"}},
	{client.RollbackRequest{}, []string{"RollbackRequest", "Rollback-m365dataatrestencryptionpolicyRequest"}},
	{client.PurgeApproval{}, []string{"PurgeApproval"}},
	{client.PurgeRequest{}, []string{"PurgeRequest"}},
	{client.ApprovePurgeRequest{}, []string{"ApprovePurgeRequest"}},
	{client.Officer{}, []string{"Officer"}},
	{client.Officers{}, []string{"ListOfficer"}},
	{client.RegisterOfficerKeyRequest{}, []string{"RegisterOfficerKeyRequest"}},
	{client.ConfirmOfficerKeyRequest{}, []string{"ConfirmOfficerKeyRequest"}},
	{client.NewMailboxRequest{}, []string{"NewMailboxRequest", "New-mailboxRequest"}},
	{client.SetMailboxRequest{}, []string{"SetMailboxRequest", "Set-mailboxRequest"}},
	{client.Statistics{}, []string{"Statistics"}},
	{client.SetMailboxResult{}, []string{"SetMailboxResult", "SetMailboxOutputBody"}},
	{client.ItemInfo{}, []string{"ItemInfo"}},
	{client.NewUploadRequest{}, []string{"NewUploadRequest"}},
	{client.Upload{}, []string{"Upload"}},
	{client.UploadPart{}, []string{"UploadPart"}},
	{client.List[client.ItemInfo]{}, []string{"ListItemInfo", "ItemsOutputBody"}},
	{client.SearchResult{}, []string{"ListString"}},
	{client.ReindexResult{}, []string{"ReindexResult", "Reindex-mailboxResponse"}},
	{client.RecordInfo{}, []string{"RecordInfo"}},
	{client.List[client.RecordInfo]{}, []string{"ListRecordInfo", "List-recordsResponse"}},
	{client.SPODEP{}, []string{"SPODEP"}},
	{client.List[client.SPODEP]{}, []string{"ListSPODEP", "Get-spodataencryptionpolicyResponse"}},
	{client.RegisterSPODEPRequest{}, []string{"RegisterSPODEPRequest", "Register-spodataencryptionpolicyRequest"}},
	{client.UpdateSPODEPRequest{}, []string{"UpdateSPODEPRequest", "Update-spodataencryptionpolicyRequest"}},
	{client.RecoverSPODEPRequest{}, []string{"RecoverSPODEPRequest", "Recover-spodataencryptionpolicyRequest"}},
	{client.NewSiteRequest{}, []string{"NewSiteRequest", "New-siteRequest"}},
	{client.SiteInfo{}, []string{"SiteInfo"}},
	{client.Job{}, []string{"Job"}},
	{client.List[client.Job]{}, []string{"ListJob", "List-jobsResponse"}},
	{client.AuditRecord{}, []string{"AuditRecord"}},
	{client.AuditPage{}, []string{"ListAuditRecord"}},
	{client.AuditHead{}, []string{"AuditHead", "Head"}},
}

// TestSchemasMatchTheAPI: each client type, as huma describes it, is the
// schema the service publishes (docs/openapi.json), field for field with
// its types, descriptions, enums and limits; and every schema of the
// document has its client type. So the service can declare its operations
// with the client types without changing its API, and the client decodes
// every answer.
func TestSchemasMatchTheAPI(t *testing.T) {
	data, err := os.ReadFile("../docs/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	reg := huma.NewMapRegistry("#/components/schemas/", huma.DefaultSchemaNamer)
	rename := map[string]string{} // the document's name -> the client type's schema name
	covered := map[string]bool{}
	for _, s := range schemas {
		name := huma.DefaultSchemaNamer(reflect.TypeOf(s.v), "")
		reg.Schema(reflect.TypeOf(s.v), true, "")
		for _, n := range s.names {
			if _, ok := doc.Components.Schemas[n]; ok {
				rename[n] = name
				covered[n] = true
			}
		}
	}
	for _, s := range schemas {
		typ := reflect.TypeOf(s.v)
		name := huma.DefaultSchemaNamer(typ, "")
		var inDoc []string
		for _, n := range s.names {
			if _, ok := doc.Components.Schemas[n]; ok {
				inDoc = append(inDoc, n)
			}
		}
		if len(inDoc) == 0 {
			t.Errorf("%s: docs/openapi.json has none of the schemas %v", typ, s.names)
			continue
		}
		got := normal(reg.Map()[name], nil)
		for _, n := range inDoc {
			want := normal(doc.Components.Schemas[n], rename)
			if !reflect.DeepEqual(got, want) {
				g, _ := json.MarshalIndent(got, "", "  ")
				w, _ := json.MarshalIndent(want, "", "  ")
				t.Errorf("%s describes as\n%s\nbut docs/openapi.json has %s as\n%s", typ, g, n, w)
			}
		}
	}
	for n := range doc.Components.Schemas {
		if !covered[n] {
			t.Errorf("docs/openapi.json has schema %s, which no client type describes: add one to client/types.go and to this test", n)
		}
	}
}

// normal is a schema as plain JSON values, without the $schema property
// huma adds to bodies, and with references renamed.
func normal(schema any, rename map[string]string) any {
	b, _ := json.Marshal(schema)
	var v any
	json.Unmarshal(b, &v)
	var walk func(any) any
	walk = func(x any) any {
		switch x := x.(type) {
		case map[string]any:
			for k, e := range x {
				if k == "$ref" {
					if s, ok := e.(string); ok {
						const prefix = "#/components/schemas/"
						if to, ok := rename[strings.TrimPrefix(s, prefix)]; ok {
							x[k] = prefix + to
						}
					}
					continue
				}
				x[k] = walk(e)
			}
			if props, ok := x["properties"].(map[string]any); ok {
				delete(props, "$schema")
			}
			return x
		case []any:
			for i := range x {
				x[i] = walk(x[i])
			}
		}
		return x
	}
	return walk(v)
}

// TestRuleIDs: the service names every rule it answers with by a constant
// of this package (rule.Invalid(client.RuleDEPName, ...) in internal/),
// never by a string of its own; every onboarding check (Rule{Name: ...}
// in internal/onboarding) has its constant; and every constant is used.
func TestRuleIDs(t *testing.T) {
	consts := constants(t, "rules.go")
	byValue := map[string][]string{} // a check and a rule may share an ID
	for name, v := range consts {
		if strings.HasPrefix(name, "Rule") || strings.HasPrefix(name, "Check") {
			byValue[v] = append(byValue[v], name)
		}
	}
	literalRule := regexp.MustCompile(`(?:rule\.(?:Invalid|Refused|NotFound|Conflict|Gone|Unavailable|Internal|Unauthenticated)\(|(?:problem|rule\.New)\(\s*[^,()]+(?:\(\))?,)\s*"([^"]+)"`)
	usedConst := regexp.MustCompile(`client\.((?:Rule|Check)\w+)`)
	checkName := regexp.MustCompile(`Rule\{Name:\s*"([^"]+)"`)
	used := map[string]bool{}
	err := filepath.WalkDir("../internal", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range literalRule.FindAllStringSubmatch(string(src), -1) {
			t.Errorf("%s: rule %q written as a string; use its constant in client/rules.go", path, m[1])
		}
		for _, m := range usedConst.FindAllStringSubmatch(string(src), -1) {
			used[m[1]] = true
		}
		if strings.Contains(path, "onboarding") {
			for _, m := range checkName.FindAllStringSubmatch(string(src), -1) {
				if names, ok := byValue[m[1]]; ok {
					for _, name := range names {
						used[name] = true
					}
				} else {
					t.Errorf("%s: onboarding check %q has no constant in client/rules.go", path, m[1])
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(used) < 60 {
		t.Fatalf("found only %d rules used in internal/; teach this test how the service names its rules now", len(used))
	}
	for name, v := range consts {
		if (strings.HasPrefix(name, "Rule") || strings.HasPrefix(name, "Check")) && !used[name] {
			t.Errorf("client.%s = %q: no rule of the service uses it", name, v)
		}
	}
}

// constants are the string constants declared in a file of the package.
func constants(t *testing.T, file string) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, decl := range f.Decls {
		g, ok := decl.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if i < len(vs.Values) {
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						out[n.Name], _ = strconv.Unquote(lit.Value)
					}
				}
			}
		}
	}
	return out
}
