package api

import (
	"context"

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
}) (*body[RecordInfo], error) {
	it, err := s.boxes.Put(ctx, tenantOf(ctx), workload.RecordsRef(in.Workload), in.Record, "", in.RawBody)
	if err != nil {
		return nil, err
	}
	return &body[RecordInfo]{RecordInfo{Workload: in.Workload, ItemInfo: itemInfo(it)}}, nil
}

func (s *Server) getRecord(ctx context.Context, in *RecordPath) (*content, error) {
	return contentOut(s.boxes.Get(ctx, tenantOf(ctx), workload.RecordsRef(in.Workload), in.Record, 0))
}

func (s *Server) listRecords(ctx context.Context, in *WorkloadPath) (*body[Records], error) {
	items, err := s.boxes.List(ctx, tenantOf(ctx), workload.RecordsRef(in.Workload))
	if err != nil {
		return nil, err
	}
	out := Records{Value: []RecordInfo{}}
	for _, it := range items {
		out.Value = append(out.Value, RecordInfo{Workload: in.Workload, ItemInfo: itemInfo(it)})
	}
	return &body[Records]{out}, nil
}

func (s *Server) deleteRecord(ctx context.Context, in *RecordPath) (*struct{}, error) {
	return &struct{}{}, s.boxes.DeleteItem(ctx, tenantOf(ctx), workload.RecordsRef(in.Workload), in.Record)
}
