package api

import (
	"context"

	"github.com/customerkey/customerkey/client"

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
	RawBody []byte `contentType:"application/octet-stream"`
}) (*body[client.RecordInfo], error) {
	it, err := s.boxes.Put(ctx, tenantOf(ctx), workload.RecordsRef(in.Workload), in.Record, "", in.RawBody)
	if err != nil {
		return nil, err
	}
	return &body[client.RecordInfo]{client.RecordInfo{Workload: in.Workload, ItemInfo: itemInfo(it)}}, nil
}

func (s *Server) getRecord(ctx context.Context, in *RecordPath) (*content, error) {
	return contentOut(s.boxes.Get(ctx, tenantOf(ctx), workload.RecordsRef(in.Workload), in.Record, 0))
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
