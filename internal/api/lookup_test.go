package api_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/store/sqlstore"
)

// askedStore records which tenants the store was asked for.
type askedStore struct {
	*sqlstore.DB
	mu    sync.Mutex
	asked []string
}

func (a *askedStore) ServiceTenant(ctx context.Context, idOrName string) (store.ServiceTenant, error) {
	a.mu.Lock()
	a.asked = append(a.asked, idOrName)
	a.mu.Unlock()
	return a.DB.ServiceTenant(ctx, idOrName)
}

// TestOtherTenantsNotLookedUp: a tenant admin's calls naming another
// tenant, existing or not, reads or writes (the audit log's choice of
// chain included), never have the store look that name up: found tenants
// are remembered and missing ones are not, so a lookup's time would tell
// whether a tenant exists (found by two reviews).
func TestOtherTenantsNotLookedUp(t *testing.T) {
	var st *askedStore
	e := startOn(t, func(db *sqlstore.DB) store.Store { st = &askedStore{DB: db}; return st })
	op := e.operator
	for _, n := range []string{"Contoso", "Fabrikam"} {
		e.must(op, "POST", "/v1/tenants", `{"name":"`+n+`"}`, 201)
	}
	admin := e.must(op, "POST", "/v1/tenants/Contoso/tokens", `{"subject":"admin@contoso.com","role":"global-admin"}`, 201)["token"].(string)
	e.must(admin, "GET", "/v1/tenants/Contoso", "", 200)
	st.mu.Lock()
	st.asked = nil
	st.mu.Unlock()
	for _, other := range []string{"Nowhere", "Fabrikam"} {
		for _, c := range []struct{ method, path, body string }{
			{"GET", "/v1/tenants/" + other + "/jobs", ""},
			{"POST", "/v1/tenants/" + other + "/tokens", `{"subject":"eve@contoso.com","role":"global-admin"}`},
		} {
			if st, _, body := e.call(admin, c.method, c.path, c.body); st != 404 {
				t.Errorf("%s %s: %d %v, want 404", c.method, c.path, st, body)
			}
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, a := range st.asked {
		if !strings.EqualFold(a, "contoso") {
			t.Errorf("the store was asked for tenant %q on a tenant admin's behalf", a)
		}
	}
}
