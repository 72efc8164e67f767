package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strings"
	"unicode"

	"github.com/danielgtaylor/huma/v2"

	"github.com/customerkey/customerkey/internal/envelope"
	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/store"
)

// The per-mailbox search index is built by the service (SPEC K4: it is
// service-initiated work, which may use the availability key when the
// customer keys fail). It is one sealed record, bound like an item to the
// mailbox, stored apart from the items so it never shows as one.

const indexID = "~index"

func indexRow(m store.Mailbox) string { return "~index:" + m.ID }

type searchIndex map[string][]string // word -> item IDs

func words(content []byte) []string {
	seen := map[string]bool{}
	var out []string
	for _, w := range strings.FieldsFunc(strings.ToLower(string(content)), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if len(w) >= 2 && len(w) <= 64 && !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}

// serviceContainerKey unwraps a mailbox's key as service-initiated work.
func (s *Server) serviceContainerKey(ctx context.Context, t store.ServiceTenant, m store.Mailbox, reason string) (*envelope.Key, error) {
	return s.containerKey(ctx, t, m, keyring.Request{Initiator: keyring.Service, Reason: reason})
}

func (s *Server) loadIndex(ctx context.Context, t store.ServiceTenant, m store.Mailbox, ck *envelope.Key) (searchIndex, uint32, error) {
	it, err := s.cfg.Store.Item(ctx, t.ID, indexRow(m), indexID)
	if errors.Is(err, store.ErrNotFound) {
		return searchIndex{}, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	raw, err := envelope.Open(ck, envelope.Item{Tenant: t.ID, Container: m.ID, ID: indexID, Version: it.Version}, it.Sealed)
	if err != nil {
		return nil, 0, err
	}
	idx := searchIndex{}
	return idx, it.Version, json.Unmarshal(raw, &idx)
}

func (s *Server) saveIndex(ctx context.Context, t store.ServiceTenant, m store.Mailbox, ck *envelope.Key, idx searchIndex, prev uint32) error {
	raw, _ := json.Marshal(idx)
	sealed, err := envelope.Seal(ck, containerKeyID(m), envelope.Item{Tenant: t.ID, Container: m.ID, ID: indexID, Version: prev + 1}, raw)
	clear(raw)
	if err != nil {
		return err
	}
	return s.cfg.Store.PutItem(ctx, store.Item{Tenant: t.ID, Mailbox: indexRow(m), ID: indexID, Kind: "index", Version: prev + 1, Sealed: sealed, Created: s.cfg.Now().UTC()})
}

// indexItem adds an item's words to the mailbox's index (service-initiated).
func (s *Server) indexItem(ctx context.Context, t store.ServiceTenant, m store.Mailbox, id string, content []byte) error {
	ck, err := s.serviceContainerKey(ctx, t, m, "search indexing of "+m.ID)
	if err != nil {
		return err
	}
	defer ck.Destroy()
	idx, ver, err := s.loadIndex(ctx, t, m, ck)
	if err != nil {
		return err
	}
	for w, ids := range idx { // drop the item's old words
		idx[w] = slicesDelete(ids, id)
		if len(idx[w]) == 0 {
			delete(idx, w)
		}
	}
	for _, w := range words(content) {
		idx[w] = append(idx[w], id)
	}
	return s.saveIndex(ctx, t, m, ck, idx, ver)
}

func slicesDelete(ids []string, id string) []string {
	out := ids[:0]
	for _, x := range ids {
		if x != id {
			out = append(out, x)
		}
	}
	return out
}

func (s *Server) searchRoutes() {
	admins := []string{RoleGlobalAdmin, RoleExchangeAdmin}
	huma.Register(s.api, huma.Operation{OperationID: "search-mailbox", Method: http.MethodGet, Path: "/v1/tenants/{tenant}/mailboxes/{mailbox}/search",
		Summary: "Search a mailbox's items by word (reads the service-built index as the user)", Tags: []string{"mailbox data"}, Security: bearerAuth},
		func(ctx context.Context, in *struct {
			Tenant  string `path:"tenant"`
			Mailbox string `path:"mailbox"`
			Q       string `query:"q" doc:"One word"`
		}) (*struct {
			Body struct {
				Items []string `json:"items"`
			}
		}, error) {
			t, m, ck, err := s.openMailbox(ctx, in.Tenant, in.Mailbox, "search")
			if err != nil {
				return nil, err
			}
			idx, _, err := s.loadIndex(ctx, t, m, ck)
			if err != nil {
				return nil, err
			}
			out := &struct {
				Body struct {
					Items []string `json:"items"`
				}
			}{}
			out.Body.Items = append([]string{}, idx[strings.ToLower(strings.TrimSpace(in.Q))]...)
			sort.Strings(out.Body.Items)
			return out, nil
		})
	huma.Register(s.api, huma.Operation{OperationID: "reindex-mailbox", Method: http.MethodPost, Path: "/v1/tenants/{tenant}/mailboxes/{mailbox}/search/reindex",
		Summary: "Rebuild a mailbox's search index: service-initiated work, which may use the availability key when the customer keys fail (K4)",
		Tags:    []string{"mailbox data"}, Security: bearerAuth},
		func(ctx context.Context, in *struct {
			Tenant  string `path:"tenant"`
			Mailbox string `path:"mailbox"`
		}) (*struct {
			Body struct {
				Indexed int `json:"indexed"`
				Words   int `json:"words"`
			}
		}, error) {
			t, err := s.tenantRole(ctx, in.Tenant, admins...)
			if err != nil {
				return nil, err
			}
			m, err := s.mailbox(ctx, t, in.Mailbox)
			if err != nil {
				return nil, err
			}
			ck, err := s.serviceContainerKey(ctx, t, m, "search re-indexing of "+m.ID)
			if err != nil {
				return nil, err
			}
			defer ck.Destroy()
			items, err := s.cfg.Store.ListItems(ctx, t.ID, m.ID)
			if err != nil {
				return nil, err
			}
			idx := searchIndex{}
			for _, it := range items {
				content, err := s.openSealed(ck, t, m, it)
				if err != nil {
					return nil, err
				}
				for _, w := range words(content) {
					idx[w] = append(idx[w], it.ID)
				}
				clear(content)
			}
			_, ver, err := s.loadIndex(ctx, t, m, ck)
			if err != nil {
				return nil, err
			}
			if err := s.saveIndex(ctx, t, m, ck, idx, ver); err != nil {
				return nil, err
			}
			out := &struct {
				Body struct {
					Indexed int `json:"indexed"`
					Words   int `json:"words"`
				}
			}{}
			out.Body.Indexed, out.Body.Words = len(items), len(idx)
			return out, nil
		})
}
