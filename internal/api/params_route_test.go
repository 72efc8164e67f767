package api_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/customerkey/customerkey/client"
)

// TestEveryPathParamChecked: every parameter of every route of the table
// refuses, with a 400 naming the rule, a value over 1024 bytes and values
// with control characters (SPEC T9: a 1025-byte mailbox ID gave a 500 on
// every write), before a token is even looked at.
func TestEveryPathParamChecked(t *testing.T) {
	e := start(t)
	if st, _, body := e.call(e.operator, "POST", "/v1/tenants", `{"name":"Contoso"}`); st != 201 {
		t.Fatalf("create tenant: %d %v", st, body)
	}
	routes := e.routes()
	bad := map[string]string{
		"1025 bytes":    strings.Repeat("a", 1013) + "@contoso.com",
		"257 bytes":     strings.Repeat("b", 257),
		"newline":       "alice\n@contoso.com",
		"ANSI escape":   "\x1b[31malice@contoso.com",
		"NUL":           "a\x00b",
		"not UTF-8":     "a\xffb",
		"C1 next line":  "a\u0085b",
		"carriage ret.": "a\rb",
	}
	tried := 0
	for _, r := range routes {
		params := paramsOf(r.Path)
		for _, p := range params {
			for what, v := range bad {
				path := r.Path
				for _, q := range params {
					val := "x"
					if q == "tenant" {
						val = "Contoso"
					}
					if q == p {
						val = v
					}
					path = strings.Replace(path, "{"+q+"}", url.PathEscape(val), 1)
				}
				for _, token := range []string{e.operator, ""} {
					st, ct, body := e.call(token, r.Method, path, "")
					if st != 400 || ct != "application/problem+json" || body["rule"] != client.RuleRequestParameter {
						t.Errorf("%s %s with {%s} %s (token %v): got %d %s %v, want 400 %s", r.Method, r.Path, p, what, token != "", st, ct, body, client.RuleRequestParameter)
					}
					tried++
				}
			}
		}
	}
	if tried < 100 {
		t.Fatalf("tried %d cases: the route table has too few path parameters?", tried)
	}
	t.Logf("%d route × parameter × value cases", tried)
}

func (e *env) routes() []struct{ Method, Path string } {
	e.t.Helper()
	st, _, doc := e.call("", "GET", "/openapi.json", "")
	if st != 200 {
		e.t.Fatalf("openapi.json: %d", st)
	}
	var out []struct{ Method, Path string }
	for path, ops := range doc["paths"].(map[string]any) {
		for method := range ops.(map[string]any) {
			switch method {
			case "get", "put", "post", "patch", "delete":
				out = append(out, struct{ Method, Path string }{strings.ToUpper(method), path})
			}
		}
	}
	return out
}

func paramsOf(path string) []string {
	var out []string
	for _, part := range strings.Split(path, "/") {
		if strings.HasPrefix(part, "{") && strings.HasSuffix(part, "}") {
			out = append(out, part[1:len(part)-1])
		}
	}
	return out
}
