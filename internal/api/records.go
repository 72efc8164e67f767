package api

import (
	"context"

	"github.com/customerkey/customerkey/client"
	"github.com/danielgtaylor/huma/v2"

	"github.com/customerkey/customerkey/internal/workload"
)

type WorkloadPath struct {
	Tenant   string `path:"tenant"`
	Workload string `path:"workload" doc:"Workload name: 2-32 lower-case letters, digits and -"`
}

type RecordPath struct {
	WorkloadPath
	Record string `path:"record"`
}

func (s *Server) putRecord(ctx context.Context, in *struct {
	RecordPath
	StreamIn
}) (*body[client.RecordInfo], error) {
	info, err := s.putContent(ctx, workload.RecordsRef(in.Workload), in.Record, "", &in.StreamIn, s.cfg.Limits.Record, "a record")
	if err != nil {
		return nil, err
	}
	return &body[client.RecordInfo]{client.RecordInfo{Workload: in.Workload, ItemInfo: info.Body}}, nil
}

func (s *Server) getRecord(ctx context.Context, in *struct {
	RecordPath
	RangeIn
}) (*huma.StreamResponse, error) {
	return s.getContent(ctx, workload.RecordsRef(in.Workload), in.Record, 0, in.RangeIn)
}

func (s *Server) listRecords(ctx context.Context, in *struct {
	WorkloadPath
	PageQuery
}) (*body[client.List[client.RecordInfo]], error) {
	return listItems(ctx, s, in.PageQuery, "records", workload.RecordsRef(in.Workload), func(l workload.Listed) client.RecordInfo {
		return client.RecordInfo{Workload: in.Workload, ItemInfo: itemInfo(l.Item)}
	})
}

func (s *Server) deleteRecord(ctx context.Context, in *RecordPath) (*struct{}, error) {
	return &struct{}{}, s.boxes.DeleteItem(ctx, tenantOf(ctx), workload.RecordsRef(in.Workload), in.Record)
}
