package api

import (
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
)

// Problem is every error of the service API: RFC 9457 problem details,
// with the rule that was broken and how to fix it.
type Problem struct {
	Type   string              `json:"type" doc:"urn:customerkey:problem:{rule}"`
	Title  string              `json:"title"`
	Status int                 `json:"status"`
	Detail string              `json:"detail"`
	Rule   string              `json:"rule" doc:"The rule that was broken, e.g. D1.NameWithoutSpaces"`
	Fix    string              `json:"fix,omitempty" doc:"How to fix it"`
	Errors []*huma.ErrorDetail `json:"errors,omitempty"`
}

func (p *Problem) Error() string  { return p.Detail }
func (p *Problem) GetStatus() int { return p.Status }

// ContentType makes huma answer application/problem+json.
func (p *Problem) ContentType(ct string) string {
	if ct == "application/json" {
		return "application/problem+json"
	}
	return ct
}

// problem makes a Problem.
func problem(status int, rule, fix, format string, args ...any) *Problem {
	return &Problem{Type: "urn:customerkey:problem:" + rule, Title: http.StatusText(status), Status: status, Detail: fmt.Sprintf(format, args...), Rule: rule, Fix: fix}
}

func init() {
	// huma's own errors (request validation, unknown routes...) become
	// Problems too, so clients see one shape.
	huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
		p := problem(status, "Request", "correct the request as the errors list says; see /openapi.json", "%s", msg)
		if status >= 500 {
			p.Rule, p.Type, p.Fix = "Internal", "urn:customerkey:problem:Internal", "retry later; if it persists, the operator should read the service log"
		}
		for _, e := range errs {
			if e == nil {
				continue
			}
			if d, ok := e.(huma.ErrorDetailer); ok {
				p.Errors = append(p.Errors, d.ErrorDetail())
			} else {
				p.Errors = append(p.Errors, &huma.ErrorDetail{Message: e.Error()})
			}
		}
		return p
	}
}
