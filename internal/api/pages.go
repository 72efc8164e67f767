package api

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/rule"
	"github.com/customerkey/customerkey/internal/store"
)

// Every listing pages the same way (SPEC D9): ?pageSize= (default 100,
// at most 1000) and ?cursor=, the nextCursor of the page before; the
// answer is client.List, {"value": [...], "nextCursor": "..."}. A cursor
// is the key of the last row of the page before (base64url of a small
// JSON object, opaque to callers): the next page is the rows after that key,
// read by a keyset query, so pages stay stable while others write and a
// deep page costs what the first one does.

// PageQuery is a listing's paging parameters.
type PageQuery struct {
	PageSize int    `query:"pageSize" doc:"Rows per page: 1-1000 (default 100)"`
	Cursor   string `query:"cursor" doc:"The nextCursor of the page before, unchanged; omit for the first page"`
}

// cursor is what a cursor holds: which listing gave it and the key of
// the row it ends on.
type cursor struct {
	List string `json:"l"`
	Time int64  `json:"t,omitempty"` // Unix milliseconds
	ID   []byte `json:"k"`           // the key's bytes, exactly (base64 in JSON)
}

func encodeCursor(list string, k store.PageKey) string {
	c := cursor{List: list, ID: []byte(k.ID)}
	if !k.Time.IsZero() {
		c.Time = k.Time.UnixMilli()
	}
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// start checks q for listing list: the key to start after and the page
// size.
func (q PageQuery) start(list string) (store.PageKey, int, error) {
	n := q.PageSize
	switch {
	case n == 0:
		n = client.DefaultPageSize
	case n < 0 || n > client.MaxPageSize:
		return store.PageKey{}, 0, rule.Invalid(client.RulePageSize, "ask for 1 to 1000 rows per page (pageSize=1000), and follow nextCursor for the rest", "pageSize %d is out of range", q.PageSize)
	}
	if q.Cursor == "" {
		return store.PageKey{}, n, nil
	}
	bad := rule.Invalid(client.RulePageCursor, "pass the nextCursor of the page before unchanged, to the same listing; or omit cursor to start over", "cursor is not one this listing gave")
	raw, err := base64.RawURLEncoding.DecodeString(q.Cursor)
	if err != nil || len(raw) > 1024 {
		return store.PageKey{}, 0, bad
	}
	var c cursor
	if json.Unmarshal(raw, &c) != nil || c.List != list || len(c.ID) == 0 || c.Time < 0 {
		return store.PageKey{}, 0, bad
	}
	k := store.PageKey{ID: string(c.ID)}
	if c.Time != 0 {
		k.Time = time.UnixMilli(c.Time).UTC()
	}
	return k, n, nil
}

// paged answers one page of listing list: fetch reads at most limit rows
// after a key (a keyset query; for jobs and access requests, newest first,
// "after" is "older than"), key is a row's key and conv its JSON. It
// fetches one row more than the page holds, to know whether another page
// follows, so the last page carries no cursor.
func paged[S, T any](q PageQuery, list string, fetch func(after store.PageKey, limit int) ([]S, error), key func(S) store.PageKey, conv func(S) T) (*body[client.List[T]], error) {
	after, n, err := q.start(list)
	if err != nil {
		return nil, err
	}
	rows, err := fetch(after, n+1)
	if err != nil {
		return nil, err
	}
	out := client.List[T]{Value: make([]T, 0, min(len(rows), n))}
	if len(rows) > n {
		rows = rows[:n]
		out.NextCursor = encodeCursor(list, key(rows[n-1]))
	}
	for _, r := range rows {
		out.Value = append(out.Value, conv(r))
	}
	return &body[client.List[T]]{out}, nil
}

// byName pages a listing the domain returns whole because it is small and
// bounded (a tenant's DEPs of a kind, its officers, its geos): sorted by
// a name, the same cursors as a keyset query.
func byName[S any](all []S, name func(S) string) (func(store.PageKey, int) ([]S, error), func(S) store.PageKey) {
	slices.SortFunc(all, func(a, b S) int { return strings.Compare(name(a), name(b)) })
	return func(after store.PageKey, limit int) ([]S, error) {
			i := 0
			if after.ID != "" {
				i, _ = slices.BinarySearchFunc(all, after.ID, func(s S, id string) int {
					if name(s) <= id {
						return -1
					}
					return 1
				})
			}
			return all[i:min(len(all), i+limit)], nil
		}, func(s S) store.PageKey {
			return store.PageKey{ID: name(s)}
		}
}
