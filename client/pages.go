package client

import (
	"context"
	"iter"
	"net/http"
)

// listPage reads one page of the listing at path; kv are more query
// parameters, as withQuery takes them.
func listPage[T any](ctx context.Context, c *Client, path string, p Page, kv ...string) (List[T], error) {
	kv = append(kv, "pageSize", itoa(p.PageSize), "cursor", p.Cursor)
	l, err := call[List[T]](ctx, c, http.MethodGet, withQuery(path, kv...), nil)
	if l.Value == nil {
		l.Value = []T{}
	}
	return l, err
}

// Pages reads a listing page by page from p, following each page's
// NextCursor, and yields its rows; it stops at the last page, at the
// first error (yielded with a zero row), or when the loop breaks. get is
// one of the client's ...Page methods, e.g.
//
//	for it, err := range client.Pages(ctx, client.Page{PageSize: 500}, func(ctx context.Context, p client.Page) (client.List[client.ItemInfo], error) {
//		return c.ItemsPage(ctx, tenant, mailbox, p)
//	}) { ... }
func Pages[T any](ctx context.Context, p Page, get func(context.Context, Page) (List[T], error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for {
			l, err := get(ctx, p)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, v := range l.Value {
				if !yield(v, nil) {
					return
				}
			}
			if l.NextCursor == "" || l.NextCursor == p.Cursor {
				return
			}
			p.Cursor = l.NextCursor
		}
	}
}

// All reads every page of a listing from p (pages of MaxPageSize when
// p.PageSize is 0) into one slice.
func All[T any](ctx context.Context, p Page, get func(context.Context, Page) (List[T], error)) ([]T, error) {
	if p.PageSize == 0 {
		p.PageSize = MaxPageSize
	}
	out := []T{}
	for v, err := range Pages(ctx, p, get) {
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
