package rule

import (
	"errors"
	"fmt"
	"testing"
)

func TestKinds(t *testing.T) {
	for _, tc := range []struct {
		err  *Error
		kind Kind
		name string
	}{
		{Invalid("D1.Name", "fix", "name %q", "a b"), KindInvalid, "invalid"},
		{Refused("Authorization.Role", "fix", "no"), KindRefused, "refused"},
		{NotFound("D1.Exists", "fix", "no"), KindNotFound, "not found"},
		{Conflict("D1.UniqueName", "fix", "no"), KindConflict, "conflict"},
		{Gone("R6.Purged", "fix", "no"), KindGone, "gone"},
		{Unavailable("K3.VaultsUnavailable", "fix", "no"), KindUnavailable, "unavailable"},
		{Internal("Item.Integrity", "fix", "no"), KindInternal, "internal"},
		{Unauthenticated("Authentication", "fix", "no"), KindUnauthenticated, "unauthenticated"},
	} {
		wrapped := fmt.Errorf("context: %w", tc.err)
		if !Is(wrapped, tc.kind) {
			t.Errorf("Is(%v, %v) = false, want true", wrapped, tc.kind)
		}
		if e, ok := As(wrapped); !ok || e != tc.err {
			t.Errorf("As(%v) = %v, %v; want the error itself", wrapped, e, ok)
		}
		if got := tc.kind.String(); got != tc.name {
			t.Errorf("%d.String() = %q, want %q", tc.kind, got, tc.name)
		}
	}
	if e := Invalid("D1.Name", "use letters", "DEP name %q is invalid", "a b"); e.Error() != `DEP name "a b" is invalid` || e.Rule != "D1.Name" || e.Fix != "use letters" {
		t.Errorf("Invalid = %+v", e)
	}
	if Is(errors.New("plain"), KindInternal) {
		t.Error("a plain error is not a domain error")
	}
	if Is(nil, KindInternal) {
		t.Error("nil is not a domain error")
	}
}
