package api

import (
	"context"
	"net/http"

	"github.com/customerkey/customerkey/client"
	"github.com/danielgtaylor/huma/v2"

	"github.com/customerkey/customerkey/internal/rule"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/workload"
)

type MailboxPath struct {
	Tenant  string `path:"tenant"`
	Mailbox string `path:"mailbox"`
}

type ItemPath struct {
	Tenant  string `path:"tenant"`
	Mailbox string `path:"mailbox"`
	Item    string `path:"item" doc:"Item ID: 1-128 letters, digits, . _ -"`
}

// content is an item's opened bytes.
func itemInfo(it store.Item) client.ItemInfo {
	size := it.ContentSize
	if size < 0 { // written before content sizes were kept: the sealed size
		size = int64(it.Size)
	}
	return client.ItemInfo{ID: it.ID, Kind: it.Kind, Version: it.Version, Size: size, Created: it.Created}
}

// listItems pages a container's items (a mailbox's, a site's files, a
// workload's records) for listing list.
func listItems[T any](ctx context.Context, s *Server, q PageQuery, list string, r workload.Ref, conv func(workload.Listed) T) (*body[client.List[T]], error) {
	return paged(q, list, func(after store.PageKey, limit int) ([]workload.Listed, error) {
		return s.boxes.List(ctx, tenantOf(ctx), r, after.ID, limit)
	}, func(l workload.Listed) store.PageKey { return store.PageKey{ID: l.Key} }, conv)
}

func listedInfo(l workload.Listed) client.ItemInfo { return itemInfo(l.Item) }

func statsJSON(st workload.Stats) client.Statistics {
	return client.Statistics{Identity: st.Mailbox.ID, Kind: st.Mailbox.Kind, IsEncrypted: st.IsEncrypted, DataEncryptionPolicyID: st.DEP, Pending: st.Pending, ItemCount: st.Items}
}

func statsOut(st workload.Stats, err error) (*body[client.Statistics], error) {
	if err != nil {
		return nil, err
	}
	return &body[client.Statistics]{statsJSON(st)}, nil
}

func (s *Server) newMailbox(ctx context.Context, in *struct {
	TenantPath
	Body client.NewMailboxRequest
}) (*body[client.Statistics], error) {
	return statsOut(s.boxes.CreateMailbox(ctx, tenantOf(ctx), in.Body.ID, in.Body.Kind, in.Body.DataEncryptionPolicy))
}

func (s *Server) setMailbox(ctx context.Context, in *struct {
	MailboxPath
	Body client.SetMailboxRequest
}) (*statusBody[client.SetMailboxResult], error) {
	st, j, err := s.life.SetMailbox(ctx, tenantOf(ctx), in.Mailbox, in.Body.DataEncryptionPolicy)
	if err != nil {
		return nil, err
	}
	out := &statusBody[client.SetMailboxResult]{Status: http.StatusOK}
	out.Body.Statistics = statsJSON(st)
	if j != nil {
		job := jobJSON(*j)
		out.Status, out.Body.Job = http.StatusAccepted, &job
	}
	return out, nil
}

func (s *Server) mailboxStatistics(ctx context.Context, in *MailboxPath) (*body[client.Statistics], error) {
	return statsOut(s.boxes.MailboxStatistics(ctx, tenantOf(ctx), in.Mailbox))
}

func (s *Server) putItem(ctx context.Context, in *struct {
	ItemPath
	Kind string `query:"kind" enum:"message,attachment,calendar" default:"message"`
	StreamIn
}) (*body[client.ItemInfo], error) {
	return s.putContent(ctx, workload.MailboxRef(in.Mailbox), in.Item, in.Kind, &in.StreamIn, s.cfg.Limits.Item, "a mailbox item")
}

func (s *Server) getItem(ctx context.Context, in *struct {
	ItemPath
	RangeIn
}) (*huma.StreamResponse, error) {
	return s.getContent(ctx, workload.MailboxRef(in.Mailbox), in.Item, 0, in.RangeIn)
}

// putContent writes an item from a streamed body.
func (s *Server) putContent(ctx context.Context, r workload.Ref, id, kind string, in *StreamIn, limit int64, what string) (*body[client.ItemInfo], error) {
	o, err := in.options()
	if err != nil {
		return nil, err
	}
	if in.length > limit {
		return nil, rule.New(rule.KindTooLarge, client.RuleContentTooLarge, "split the content, or ask the operator to raise the limit (limits in the configuration)", "%s is limited to %d bytes; %d given", what, limit, in.length)
	}
	it, err := s.boxes.Put(ctx, tenantOf(ctx), r, id, kind, in.limit(limit, what), o)
	if err != nil {
		return nil, err
	}
	return &body[client.ItemInfo]{itemInfo(it)}, nil
}

// getContent reads an item, or a range of it, as a stream. A HEAD reads
// none of it: it takes no transfer slot.
func (s *Server) getContent(ctx context.Context, r workload.Ref, id string, version int, in RangeIn) (*huma.StreamResponse, error) {
	open := s.boxes.Open
	if req := requestOf(ctx); req != nil && req.head {
		open = s.boxes.Stat
	}
	c, err := open(ctx, tenantOf(ctx), r, id, version)
	if err != nil {
		return nil, err
	}
	return s.streamOut(ctx, c, in)
}

func (s *Server) listItems(ctx context.Context, in *struct {
	MailboxPath
	PageQuery
}) (*body[client.List[client.ItemInfo]], error) {
	return listItems(ctx, s, in.PageQuery, "items", workload.MailboxRef(in.Mailbox), listedInfo)
}

func (s *Server) deleteItem(ctx context.Context, in *ItemPath) (*struct{}, error) {
	return &struct{}{}, s.boxes.DeleteItem(ctx, tenantOf(ctx), workload.MailboxRef(in.Mailbox), in.Item)
}

func (s *Server) searchMailbox(ctx context.Context, in *struct {
	MailboxPath
	Q string `query:"q" doc:"One word (2-64 letters or digits; case does not matter)"`
	PageQuery
}) (*body[client.SearchResult], error) {
	return paged(in.PageQuery, "search", func(after store.PageKey, limit int) ([]string, error) {
		return s.boxes.Search(ctx, tenantOf(ctx), in.Mailbox, in.Q, after.ID, limit)
	}, func(id string) store.PageKey { return store.PageKey{ID: id} }, func(id string) string { return id })
}

func (s *Server) reindexMailbox(ctx context.Context, in *MailboxPath) (*body[client.ReindexResult], error) {
	n, w, err := s.boxes.Reindex(ctx, tenantOf(ctx), in.Mailbox)
	if err != nil {
		return nil, err
	}
	return &body[client.ReindexResult]{client.ReindexResult{Indexed: n, Words: w}}, nil
}
