package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/rule"
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
		p := problem(status, client.RuleRequest, "correct the request as the errors list says; see /openapi.json", "%s", msg)
		if status >= 500 {
			p.Rule, p.Type, p.Fix = client.RuleInternal, "urn:customerkey:problem:"+client.RuleInternal, "retry later; if it persists, the operator should read the service log"
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

// statusOf is the HTTP status of each kind of domain error: the one place
// where the domain's refusals become HTTP.
var statusOf = map[rule.Kind]int{
	rule.KindInvalid:         http.StatusBadRequest,
	rule.KindUnauthenticated: http.StatusUnauthorized,
	rule.KindRefused:         http.StatusForbidden,
	rule.KindNotFound:        http.StatusNotFound,
	rule.KindConflict:        http.StatusConflict,
	rule.KindGone:            http.StatusGone,
	rule.KindUnavailable:     http.StatusServiceUnavailable,
	rule.KindInternal:        http.StatusInternalServerError,
}

// problemOf turns any error a handler returns into the Problem the client
// sees: a domain error keeps its rule, fix and detail; anything else is an
// internal failure, logged here and answered without its text (it may
// name tables, hosts or files).
func (s *Server) problemOf(ctx context.Context, err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	var se huma.StatusError
	if errors.As(err, &se) { // huma's own (validation, body too large...)
		return problem(se.GetStatus(), client.RuleRequest, "correct the request as the errors list says; see /openapi.json", "%s", se.Error())
	}
	if e, ok := rule.As(err); ok {
		status, ok := statusOf[e.Kind]
		if !ok {
			status = http.StatusInternalServerError
		}
		if status >= 500 {
			s.cfg.Logger.Warn("api: refused", "rule", e.Rule, "detail", e.Detail)
		}
		return &Problem{Type: "urn:customerkey:problem:" + e.Rule, Title: http.StatusText(status), Status: status, Detail: e.Detail, Rule: e.Rule, Fix: e.Fix}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return problem(http.StatusServiceUnavailable, client.RuleServiceTimeout, "retry; if it persists, the operator should read the service log", "the request took too long")
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return problem(499, client.RuleRequestCanceled, "the client went away", "the request was canceled")
	}
	s.cfg.Logger.Error("api: internal error", "err", err)
	return problem(http.StatusInternalServerError, client.RuleInternal, "retry later; if it persists, the operator should read the service log", "the service failed to answer this request")
}
