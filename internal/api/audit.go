package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/audit"
	"github.com/customerkey/customerkey/internal/rule"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/tenant"
)

// contentOps write or delete content, not configuration: they are the data
// plane and stay out of the audit log, where the key accesses behind them
// are recorded.
var contentOps = map[string]bool{
	"put-item": true, "delete-item": true,
	"put-file": true, "delete-file": true,
	"put-record": true, "delete-record": true,
	"new-file-upload": true, "put-file-upload-part": true, "cancel-file-upload": true,
}

// humaContext names the embedded context (huma.Context has a Context method).
type humaContext = huma.Context

// statusContext remembers the status a handler set.
type statusContext struct {
	humaContext
	status int
}

func (c *statusContext) SetStatus(code int) {
	c.status = code
	c.humaContext.SetStatus(code)
}

// auditAdmin records every admin action (every call that is not a read or
// a content write) in the audit log, allowed or refused (SPEC R8). It runs
// after authentication; calls without a valid token are not recorded.
func (s *Server) auditAdmin(ctx huma.Context, next func(huma.Context)) {
	op := ctx.Operation()
	if op == nil || op.Method == http.MethodGet || contentOps[op.OperationID] || len(op.Security) == 0 {
		next(ctx)
		return
	}
	sc := &statusContext{humaContext: ctx}
	next(sc)
	p := tenant.Caller(ctx.Context())
	if p.Role == "" {
		return // not authenticated: refused before any action
	}
	// The record goes to the chain of the tenant acted on if the caller may
	// act on it; a refused reach into another tenant goes to the caller's
	// own chain (the service's for the operator).
	// A tenant admin's records go to its own tenant's chain: the only one
	// it may act on, and no lookup of the name it gave (which would say,
	// by its time, whether another tenant of that name exists).
	chain := p.Tenant
	if name := ctx.Param("tenant"); name != "" && p.Role == tenant.RoleOperator {
		if t, err := s.tenants.Lookup(ctx.Context(), name); err == nil {
			chain = t.ID
		}
	}
	outcome := strconv.Itoa(sc.status) + " " + http.StatusText(sc.status)
	s.audit.Append(context.WithoutCancel(ctx.Context()), audit.Record{
		Tenant: chain, Actor: tenant.Actor(p), Action: op.OperationID,
		Target: ctx.Method() + " " + ctx.URL().Path, Outcome: outcome,
	})
}

func (s *Server) auditHead(ctx context.Context, _ *TenantPath) (*body[client.AuditHead], error) {
	if s.cfg.Signer == nil {
		return nil, rule.Unavailable(client.RuleAuditSigner, "the operator must give the service a signing key", "the service has no signing key")
	}
	t := tenantOf(ctx)
	last, err := s.audit.Last(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	return &body[client.AuditHead]{audit.SignHead(s.cfg.Signer, t.ID, last, s.cfg.Now())}, nil
}

func (s *Server) readAudit(ctx context.Context, in *struct {
	TenantPath
	PageQuery
	After  int64  `query:"after" minimum:"0" doc:"Start after this sequence number (with no cursor): e.g. the audit head's seq less 5000 for the last 5000 records"`
	Action string `query:"action" maxLength:"256" doc:"Only records of these actions (comma-separated, e.g. alert), among the next records of the chain (up to 10000 read per page): a page may hold fewer than pageSize, even none, and nextCursor says where to go on"`
}) (*body[client.AuditPage], error) {
	seqOf := func(after store.PageKey) (int64, error) {
		if after.ID == "" {
			return in.After, nil
		}
		n, err := strconv.ParseInt(after.ID, 10, 64)
		if err != nil || n < 0 {
			return 0, rule.Invalid(client.RulePageCursor, "pass the nextCursor of the page before unchanged, to the same listing; or omit cursor to start over", "cursor is not one this listing gave")
		}
		return n, nil
	}
	var actions []string
	for _, a := range strings.Split(in.Action, ",") {
		if a = strings.TrimSpace(a); a != "" {
			actions = append(actions, a)
		}
	}
	if len(actions) == 0 {
		return paged(in.PageQuery, "audit", func(after store.PageKey, limit int) ([]audit.Record, error) {
			seq, err := seqOf(after)
			if err != nil {
				return nil, err
			}
			return s.audit.Read(ctx, tenantOf(ctx).ID, seq, limit)
		}, func(r audit.Record) store.PageKey { return store.PageKey{ID: strconv.FormatInt(r.Seq, 10)} }, audit.JSON)
	}
	// Filtered: the next records of those actions among the chain's next
	// 10000 at most.
	after, n, err := in.PageQuery.start("audit")
	if err != nil {
		return nil, err
	}
	seq, err := seqOf(after)
	if err != nil {
		return nil, err
	}
	rs, seq, end, err := s.audit.Find(ctx, tenantOf(ctx).ID, seq, actions, n, 10000)
	if err != nil {
		return nil, err
	}
	out := client.AuditPage{Value: []client.AuditRecord{}}
	for _, r := range rs {
		out.Value = append(out.Value, audit.JSON(r))
	}
	if end {
		return &body[client.AuditPage]{out}, nil // the chain's end
	}
	out.NextCursor = encodeCursor("audit", store.PageKey{ID: strconv.FormatInt(seq, 10)})
	return &body[client.AuditPage]{out}, nil
}
