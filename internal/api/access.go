package api

import (
	"context"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/access"
	"github.com/customerkey/customerkey/internal/store"
)

type AccessRequestPath struct {
	Tenant  string `path:"tenant" doc:"Tenant ID or name"`
	Request string `path:"request" maxLength:"64" doc:"The access request's ID"`
}

func (s *Server) accessJSON(r store.AccessRequest) client.AccessRequest {
	return client.AccessRequest{ID: r.ID, Action: r.Action, DEP: r.DEP, DEPName: r.DEPName, Target: r.Target, TargetName: r.TargetName,
		Reason: r.Reason, RequestedBy: r.RequestedBy, Requested: r.Requested, Expires: r.Expires, State: r.State, Expired: s.access.Expired(r),
		DecidedBy: r.DecidedBy, Decided: r.Decided, UsedBy: r.UsedBy, Used: r.Used}
}

func (s *Server) accessOut(r store.AccessRequest, err error) (*body[client.AccessRequest], error) {
	if err != nil {
		return nil, err
	}
	return &body[client.AccessRequest]{s.accessJSON(r)}, nil
}

func (s *Server) newAccessRequest(ctx context.Context, in *struct {
	TenantPath
	Body client.NewAccessRequest
}) (*body[client.AccessRequest], error) {
	b := in.Body
	return s.accessOut(s.access.Create(ctx, tenantOf(ctx), access.Ask{Action: b.Action, DEP: b.DEP, To: b.To, Keys: b.Keys, Reason: b.Reason, ValidFor: b.ValidFor}))
}

func (s *Server) listAccessRequests(ctx context.Context, in *struct {
	TenantPath
	PageQuery
}) (*body[client.List[client.AccessRequest]], error) {
	return paged(in.PageQuery, "access-requests", func(before store.PageKey, limit int) ([]store.AccessRequest, error) {
		return s.access.List(ctx, tenantOf(ctx), before, limit)
	}, func(r store.AccessRequest) store.PageKey { return store.PageKey{Time: r.Requested, ID: r.ID} }, s.accessJSON)
}

func (s *Server) getAccessRequest(ctx context.Context, in *AccessRequestPath) (*body[client.AccessRequest], error) {
	return s.accessOut(s.access.Get(ctx, tenantOf(ctx), in.Request))
}

func (s *Server) approveAccessRequest(ctx context.Context, in *AccessRequestPath) (*body[client.AccessRequest], error) {
	return s.accessOut(s.access.Approve(ctx, tenantOf(ctx), in.Request))
}

func (s *Server) denyAccessRequest(ctx context.Context, in *AccessRequestPath) (*body[client.AccessRequest], error) {
	return s.accessOut(s.access.Deny(ctx, tenantOf(ctx), in.Request))
}
