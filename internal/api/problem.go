package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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
	// RequestID is the request's X-Request-ID, under which a 5xx is logged.
	RequestID string `json:"requestId,omitempty" doc:"The request's ID (the X-Request-ID header); the service log names it with every 5xx"`
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

// internalFix is the fix of every 5xx whose cause the client cannot change.
const internalFix = "retry later; if it persists, give the operator the requestId: the service log names it with the cause"

// withID is p answered to the request of ctx: a copy carrying its ID.
func withID(ctx context.Context, p *Problem) *Problem {
	id := RequestID(ctx)
	if id == "" || p.RequestID == id {
		return p
	}
	cp := *p
	cp.RequestID = id
	return &cp
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
			p.Rule, p.Type, p.Fix = client.RuleInternal, "urn:customerkey:problem:"+client.RuleInternal, internalFix
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
	// Those huma writes itself (a request that does not decode, an answer
	// that does not encode) carry the request ID; a 5xx among them is
	// logged with its cause and answered without it.
	huma.NewErrorWithContext = func(ctx huma.Context, status int, msg string, errs ...error) huma.StatusError {
		if status >= 500 {
			log5xx(ctx.Context(), slog.Default(), slog.LevelError, "api: internal error", "status", status, "msg", msg, "err", errors.Join(errs...))
			p := problem(status, client.RuleInternal, internalFix, "the service failed to answer this request")
			return withID(ctx.Context(), p)
		}
		return withID(ctx.Context(), huma.NewError(status, msg, errs...).(*Problem))
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
	rule.KindTooLarge:        http.StatusRequestEntityTooLarge,
	rule.KindRange:           http.StatusRequestedRangeNotSatisfiable,
	rule.KindBusy:            http.StatusTooManyRequests,
}

// problemOf turns any error a handler returns into the Problem the client
// sees: a domain error keeps its rule, fix and detail; anything else is an
// internal failure, logged here and answered without its text (it may
// name tables, hosts or files).
func (s *Server) problemOf(ctx context.Context, err error) *Problem {
	return withID(ctx, s.problemFor(ctx, err))
}

func (s *Server) problemFor(ctx context.Context, err error) *Problem {
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
			log5xx(ctx, s.cfg.Logger, slog.LevelWarn, "api: refused", "status", status, "rule", e.Rule, "detail", e.Detail)
		}
		return &Problem{Type: "urn:customerkey:problem:" + e.Rule, Title: http.StatusText(status), Status: status, Detail: e.Detail, Rule: e.Rule, Fix: e.Fix}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		log5xx(ctx, s.cfg.Logger, slog.LevelWarn, "api: timeout", "status", http.StatusServiceUnavailable, "err", err)
		return problem(http.StatusServiceUnavailable, client.RuleServiceTimeout, "retry; if it persists, give the operator the requestId: the service log names it", "the request took too long")
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return problem(499, client.RuleRequestCanceled, "the client went away", "the request was canceled")
	}
	log5xx(ctx, s.cfg.Logger, slog.LevelError, "api: internal error", "status", http.StatusInternalServerError, "err", err)
	return problem(http.StatusInternalServerError, client.RuleInternal, internalFix, "the service failed to answer this request")
}

// writeProblemTo answers p on a plain ResponseWriter (outside huma).
func writeProblemTo(w http.ResponseWriter, p *Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	b, _ := json.Marshal(p)
	w.Write(b)
}
