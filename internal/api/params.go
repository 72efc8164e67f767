package api

import (
	"net/http"
	"regexp"
	"unicode"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"

	"github.com/customerkey/customerkey/client"
)

// maxPathParam bounds every path parameter, in bytes. The longest name the
// API serves is a UPN (at most 256 bytes: tenant.ValidUPN); item, file and
// record IDs are at most 128, DEP, tenant and site names 64. The bound
// keeps what a handler, the store, the envelope (names up to 1024 bytes)
// and the logs are handed small.
const maxPathParam = 256

// checkPathParam is the one check of every path parameter of every route
// (tenant, mailbox, item, site, file, record, workload, dep, geo, user,
// job, id), made before the token, the audit log or a handler sees the
// request: 1 to maxPathParam bytes of UTF-8 without control characters.
// What each parameter must further be (a UPN, a DEP name) its domain
// package checks, with its own rule.
func checkPathParam(name, value string) error {
	why := ""
	switch {
	case value == "":
		why = "is empty"
	case len(value) > maxPathParam:
		why = "is longer than 256 bytes"
	case !utf8.ValidString(value):
		why = "is not UTF-8"
	default:
		for _, r := range value {
			if unicode.IsControl(r) {
				why = "holds a control character"
				break
			}
		}
	}
	if why == "" {
		return nil
	}
	shown := value
	if len(shown) > 64 {
		shown = shown[:64] + "..."
	}
	return problem(http.StatusBadRequest, client.RuleRequestParameter, "give a "+name+" of 1-256 bytes without control characters",
		"path parameter %s %q %s", name, shown, why)
}

var pathParamRE = regexp.MustCompile(`\{([^}]+)\}`)

// pathParams are the names of a route path's parameters.
func pathParams(path string) []string {
	var names []string
	for _, m := range pathParamRE.FindAllStringSubmatch(path, -1) {
		names = append(names, m[1])
	}
	return names
}

// checkParams is the middleware that applies checkPathParam to every path
// parameter of the route, first of all.
func (s *Server) checkParams(ctx huma.Context, next func(huma.Context)) {
	if op := ctx.Operation(); op != nil {
		r, _ := op.Metadata["route"].(route)
		for _, name := range r.params {
			if err := checkPathParam(name, ctx.Param(name)); err != nil {
				s.writeProblem(ctx, err.(*Problem))
				return
			}
		}
	}
	next(ctx)
}
