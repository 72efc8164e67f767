package api

import (
	"testing"
	"time"
	"unicode/utf8"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/rule"
	"github.com/customerkey/customerkey/internal/store"
)

// FuzzCursor: any cursor either starts a page after the key it holds, for
// the listing that gave it, or is refused with rule D9.Cursor; never a
// panic. A cursor the API made reads back as the key it was made from.
func FuzzCursor(f *testing.F) {
	f.Add("items", "m0001", int64(0), "")
	f.Add("jobs", "6f1c2b3a-0000-4000-8000-000000000001", time.Date(2026, 11, 29, 11, 0, 0, 0, time.UTC).UnixMilli(), "eyJsIjoiaXRlbXMiLCJrIjoibTEifQ")
	f.Add("audit", "42", int64(0), "%%%")
	f.Add("search", "", int64(-1), "eyJsIjoic2VhcmNoIiwidCI6LTEsImsiOiJ4In0")
	f.Fuzz(func(t *testing.T, list, id string, ms int64, raw string) {
		k := store.PageKey{ID: id}
		if ms > 0 {
			k.Time = time.UnixMilli(ms).UTC()
		}
		if id != "" && len(id) < 500 && utf8.ValidString(list) { // listings are named by constants
			got, n, err := PageQuery{Cursor: encodeCursor(list, k)}.start(list)
			if err != nil || got != k || n != client.DefaultPageSize {
				t.Fatalf("cursor of %q %+v read back as %+v, %d, %v", list, k, got, n, err)
			}
			if list != "other" {
				if _, _, err := (PageQuery{Cursor: encodeCursor(list, k)}).start("other"); !rule.Is(err, rule.KindInvalid) {
					t.Fatalf("a cursor of %q taken by another listing: %v", list, err)
				}
			}
		}
		if _, _, err := (PageQuery{Cursor: raw}).start(list); err != nil {
			if e, ok := rule.As(err); !ok || e.Rule != client.RulePageCursor {
				t.Fatalf("cursor %q: %v, want rule %s", raw, err, client.RulePageCursor)
			}
		}
	})
}
