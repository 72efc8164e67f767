package workload_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/blob"
	"github.com/customerkey/customerkey/internal/dep"
	"github.com/customerkey/customerkey/internal/dep/deptest"
	"github.com/customerkey/customerkey/internal/rule"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/store/sqlstore"
	"github.com/customerkey/customerkey/internal/workload"
)

// licensed lets every user have a customer DEP.
type licensed struct{}

func (licensed) RequireLicence(context.Context, store.ServiceTenant, string) error { return nil }

func start(t *testing.T) (*workload.Service, *deptest.Env) {
	e := deptest.Start(t)
	return workload.New(workload.Config{Store: e.Vault.Store, Blobs: dbBlobs(e), DEPs: e.DEPs, Licences: licensed{}, Now: time.Now, Logger: slog.New(slog.DiscardHandler)}), e
}

// TestOneContainerModel: mailboxes, sites and workload containers keep
// items the same way: versions, listings without content, reads that open
// what was written, deletes.
func TestOneContainerModel(t *testing.T) {
	boxes, e := start(t)
	ctx, tn := e.Ctx, e.Tenant
	if _, err := e.DEPs.Create(ctx, tn, dep.Spec{Kind: dep.Mailbox, Name: "DEP-1", KeyURIs: e.Seed.KeyURIs[:]}); err != nil {
		t.Fatal(err)
	}
	if _, err := boxes.CreateMailbox(ctx, tn, "alice@contoso.com", "", "DEP-1"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := boxes.CreateSite(ctx, tn, "finance", "NAM"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		ref  workload.Ref
		item string
	}{
		{"mailbox", workload.MailboxRef("alice@contoso.com"), "m1"},
		{"site", workload.SiteRef("finance"), "plan.docx"},
		{"records", workload.RecordsRef("teams"), "chat-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for v, content := range []string{"first", "second"} {
				it, err := boxes.Put(ctx, tn, tc.ref, tc.item, "", strings.NewReader(content), workload.PutOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if it.ID != tc.item || it.Version != uint32(v+1) || it.Size <= len(content) {
					t.Fatalf("put %d: %+v; want %s version %d with its sealed size", v+1, it, tc.item, v+1)
				}
			}
			got, err := get(ctx, boxes, tn, tc.ref, tc.item, 0)
			if err != nil || !bytes.Equal(got, []byte("second")) {
				t.Fatalf("get: %q, %v; want the last version", got, err)
			}
			items, err := boxes.List(ctx, tn, tc.ref, "", 100)
			if err != nil || len(items) == 0 || items[0].ID != tc.item || items[0].Sealed != nil {
				t.Fatalf("list: %+v, %v; want %s without content", items, err, tc.item)
			}
			if err := boxes.DeleteItem(ctx, tn, tc.ref, tc.item); err != nil {
				t.Fatal(err)
			}
			_, err = get(ctx, boxes, tn, tc.ref, tc.item, 0)
			if !rule.Is(err, rule.KindNotFound) {
				t.Fatalf("get after delete: %v; want not found", err)
			}
		})
	}
	// A site keeps every version of a file.
	boxes.Put(ctx, tn, workload.SiteRef("finance"), "deck", "", strings.NewReader("v1"), workload.PutOptions{})
	boxes.Put(ctx, tn, workload.SiteRef("finance"), "deck", "", strings.NewReader("v2"), workload.PutOptions{})
	if got, err := get(ctx, boxes, tn, workload.SiteRef("finance"), "deck", 1); err != nil || string(got) != "v1" {
		t.Fatalf("file version 1: %q, %v", got, err)
	}
}

// TestMailboxRefReachesMailboxesOnly: a mailbox's address cannot name a
// site or a workload container (an Exchange admin must not reach
// SharePoint files or multi-workload records through the mailbox routes).
func TestMailboxRefReachesMailboxesOnly(t *testing.T) {
	boxes, e := start(t)
	ctx, tn := e.Ctx, e.Tenant
	if _, _, err := boxes.CreateSite(ctx, tn, "finance", "NAM"); err != nil {
		t.Fatal(err)
	}
	if _, err := boxes.Put(ctx, tn, workload.SiteRef("finance"), "salaries.xlsx", "", strings.NewReader("secret"), workload.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := boxes.Put(ctx, tn, workload.RecordsRef("teams"), "chat", "", strings.NewReader("secret"), workload.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"site:finance", "workload:teams", "SITE:finance"} {
		ref := workload.MailboxRef(id)
		if _, err := get(ctx, boxes, tn, ref, "salaries.xlsx@000001", 0); !rule.Is(err, rule.KindNotFound) {
			t.Errorf("read %s through the mailbox routes: %v; want not found", id, err)
		}
		if _, err := boxes.Put(ctx, tn, ref, "x", "", strings.NewReader("planted"), workload.PutOptions{}); !rule.Is(err, rule.KindNotFound) {
			t.Errorf("write %s through the mailbox routes: %v; want not found", id, err)
		}
		if _, err := boxes.List(ctx, tn, ref, "", 100); !rule.Is(err, rule.KindNotFound) {
			t.Errorf("list %s through the mailbox routes: %v; want not found", id, err)
		}
		if err := boxes.DeleteItem(ctx, tn, ref, "chat"); !rule.Is(err, rule.KindNotFound) {
			t.Errorf("delete in %s through the mailbox routes: %v; want not found", id, err)
		}
	}
}

// TestEachSpaceReachesItsOwnKind: every way to reach a container (items,
// listing, delete, statistics, assignment, search, reindex) refuses a
// container of another kind, whatever name or stored ID it is given, and
// a mailbox cannot be made with a kind that is not a mailbox's (T3).
func TestEachSpaceReachesItsOwnKind(t *testing.T) {
	boxes, e := start(t)
	ctx, tn := e.Ctx, e.Tenant
	if _, err := boxes.CreateMailbox(ctx, tn, "alice@contoso.com", "", ""); err != nil {
		t.Fatal(err)
	}
	site, _, err := boxes.CreateSite(ctx, tn, "finance", "NAM")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []workload.Ref{workload.MailboxRef("alice@contoso.com"), workload.SiteRef("finance"), workload.RecordsRef("teams")} {
		if _, err := boxes.Put(ctx, tn, r, "doc", "", strings.NewReader("secret"), workload.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// A DEP wraps its own workload's containers only: a site does not move
	// under a mailbox DEP or an MDEP, whoever asks.
	for _, k := range []dep.Kind{dep.Mailbox, dep.MDEP} {
		d, err := e.DEPs.Create(ctx, tn, dep.Spec{Kind: k, Name: "Other-" + string(k), KeyURIs: e.Seed.KeyURIs[:]})
		if err != nil {
			t.Fatal(err)
		}
		if err := boxes.Rewrap(ctx, tn, site, d, "test"); !rule.Is(err, rule.KindInvalid) {
			t.Errorf("site moved under %s DEP: %v; want invalid", k, err)
		}
	}
	for _, kind := range []string{"Site:NAM", "MultiWorkload", "Anything"} {
		if _, err := boxes.CreateMailbox(ctx, tn, "bob@contoso.com", kind, ""); !rule.Is(err, rule.KindInvalid) {
			t.Errorf("a mailbox of kind %s: %v; want invalid", kind, err)
		}
	}
	refused := func(err error) bool { return rule.Is(err, rule.KindNotFound) || rule.Is(err, rule.KindInvalid) }
	for _, r := range []workload.Ref{
		workload.MailboxRef("site:finance"), workload.MailboxRef("workload:teams"),
		workload.SiteRef("alice@contoso.com"), workload.SiteRef("workload:teams"), workload.SiteRef("teams"),
		workload.RecordsRef("alice@contoso.com"), workload.RecordsRef("site:finance"),
	} {
		if _, err := get(ctx, boxes, tn, r, "doc", 0); !refused(err) {
			t.Errorf("read %+v: %v; want refused", r, err)
		}
		if _, err := boxes.Put(ctx, tn, r, "doc", "", strings.NewReader("planted"), workload.PutOptions{}); !refused(err) {
			t.Errorf("write %+v: %v; want refused", r, err)
		}
		if items, err := boxes.List(ctx, tn, r, "", 100); !refused(err) {
			t.Errorf("list %+v: %d items, %v; want refused", r, len(items), err)
		}
		if err := boxes.DeleteItem(ctx, tn, r, "doc"); !refused(err) {
			t.Errorf("delete in %+v: %v; want refused", r, err)
		}
		if r.Space != workload.Mailboxes {
			continue
		}
		if _, err := boxes.MailboxStatistics(ctx, tn, r.Name); !refused(err) {
			t.Errorf("statistics of %+v: %v; want refused", r, err)
		}
		if _, err := boxes.Search(ctx, tn, r.Name, "secret", "", 100); !refused(err) {
			t.Errorf("search %+v: %v; want refused", r, err)
		}
		if _, _, err := boxes.Reindex(ctx, tn, r.Name); !refused(err) {
			t.Errorf("reindex %+v: %v; want refused", r, err)
		}
	}
	// Nothing was planted or lost.
	for _, r := range []workload.Ref{workload.MailboxRef("alice@contoso.com"), workload.SiteRef("finance"), workload.RecordsRef("teams")} {
		if got, err := get(ctx, boxes, tn, r, "doc", 0); err != nil || string(got) != "secret" {
			t.Errorf("%+v after the attempts: %q, %v", r, got, err)
		}
	}
}

// get reads an item's whole content.
func get(ctx context.Context, boxes *workload.Service, tn store.ServiceTenant, r workload.Ref, id string, version int) ([]byte, error) {
	c, err := boxes.Open(ctx, tn, r, id, version)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var b bytes.Buffer
	err = c.Copy(ctx, &b, 0, -1)
	return b.Bytes(), err
}

// dbBlobs is the blob store of the test's database: every service over
// that store sees the same blobs, as nodes over one database do.
func dbBlobs(e *deptest.Env) blob.Store {
	return e.Vault.Store.(interface{ Blobs() *sqlstore.Blobs }).Blobs()
}
