package workload

import (
	"context"
	"errors"
	"sort"
	"strings"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/blob"
	"github.com/customerkey/customerkey/internal/dep"
	"github.com/customerkey/customerkey/internal/envelope"
	"github.com/customerkey/customerkey/internal/rule"
	"github.com/customerkey/customerkey/internal/store"
)

// Space is the kind of container a Ref names.
type Space uint8

// Spaces of containers, as the API addresses them.
const (
	Mailboxes Space = iota // a user mailbox or mail user, by UPN: items
	Sites                  // a site, by name: files with versions
	Records                // a workload's container, by name: records
)

// Ref names a container as the API does.
type Ref struct {
	Space Space
	Name  string // UPN, site name or workload name
}

// MailboxRef, SiteRef and RecordsRef name containers.
func MailboxRef(upn string) Ref      { return Ref{Mailboxes, upn} }
func SiteRef(name string) Ref        { return Ref{Sites, name} }
func RecordsRef(workload string) Ref { return Ref{Records, workload} }

// space is what differs between the kinds of container: the words of
// their rules, how an item's stored ID is made, and which stored
// container kinds the space holds.
type space struct {
	container, item, itemRule, existsRule, listFix string
	itemKind                                       string // stored kind when none is given
	prefix                                         string // of the stored container ID
	missingRule, missingFix                        string // the container is not found
	holds                                          func(kind string) bool
}

var spaces = [...]space{
	Mailboxes: {container: "mailbox", item: "item", itemRule: client.RuleItemID, existsRule: client.RuleItemExists, listFix: "list the mailbox's items (ck mailbox item list UPN)", itemKind: "message",
		missingRule: client.RuleMailboxExists, missingFix: "check the mailbox's UPN, or create the mailbox (ck mailbox create UPN)",
		holds: func(k string) bool { return k == UserMailbox || k == MailUser }},
	Sites: {container: "site", item: "file", itemRule: client.RuleFileName, existsRule: client.RuleFileExists, listFix: "list the site's files (ck site file list SITE)", itemKind: "file",
		prefix: "site:", missingRule: client.RuleSiteExists, missingFix: "check the site name",
		holds: func(k string) bool { return strings.HasPrefix(k, sitePrefix) }},
	Records: {container: "workload", item: "record", itemRule: client.RuleRecordID, existsRule: client.RuleRecordExists, listFix: "list the workload's records (ck record list WORKLOAD)", itemKind: "record",
		prefix: "workload:", missingRule: client.RuleRecordWorkload, missingFix: "a workload's container is made with its first record (ck record put WORKLOAD RECORD --file F)",
		holds: func(k string) bool { return k == MultiWorkload }},
}

// find reads the container a Ref names. It is the one place where a
// container's kind is checked against the space (the route) that names it
// (SPEC T3): every operation on a container's items, its statistics, its
// assignment, search and reindex comes through here, and a container of
// another kind is not found, as if it did not exist. A mailbox route given
// "site:finance" or "workload:teams" reaches neither.
func (s *Service) find(ctx context.Context, t store.ServiceTenant, r Ref) (store.Mailbox, error) {
	if r.Space == Records && !workloadRE.MatchString(r.Name) {
		return store.Mailbox{}, rule.Invalid(client.RuleRecordWorkload, "name the workload with 2-32 lower-case letters, digits and -, e.g. teams", "workload %q is invalid", r.Name)
	}
	m, err := s.st.Mailbox(ctx, t.ID, r.id())
	return s.ofKind(t, r, m, err)
}

// ofKind is find's check, for a container read another way: not found,
// or of a kind r's space does not hold, is the space's not-found rule.
func (s *Service) ofKind(t store.ServiceTenant, r Ref, m store.Mailbox, err error) (store.Mailbox, error) {
	sp := spaces[r.Space]
	if errors.Is(err, store.ErrNotFound) || err == nil && !sp.holds(m.Kind) {
		return store.Mailbox{}, rule.NotFound(sp.missingRule, sp.missingFix, "tenant %s has no %s %q", t.Name, sp.container, r.Name)
	}
	return m, err
}

// fits reports whether a DEP may wrap the key of a container of kind
// (T3): a mailbox DEP wraps mailboxes, a multi-workload DEP workload
// containers, a site DEP the sites of its geo's workload; the
// service-managed keys any. Every container made or moved is checked,
// so no assignment, roll, recovery or rollback puts one workload's
// container under another workload's keys.
func fits(kind string, d store.DEP) bool {
	switch dep.Kind(d.Kind) {
	case dep.Mailbox:
		return spaces[Mailboxes].holds(kind)
	case dep.MDEP:
		return spaces[Records].holds(kind)
	case dep.Site:
		return spaces[Sites].holds(kind)
	}
	return dep.Kind(d.Kind) == dep.ServiceManaged
}

func errDEPKind(id, kind string, d store.DEP) error {
	return rule.Invalid(client.RuleContainerDEPKind, "assign a DEP of the container's own workload", "%s (%s) cannot go under %s DEP %s", id, kind, d.Kind, d.Name)
}

// id is the stored ID of the container r names.
func (r Ref) id() string { return strings.ToLower(spaces[r.Space].prefix + r.Name) }

// resolve finds the container a Ref names (a workload's container is made
// on first use, and moved to the tenant's current multi-workload DEP).
func (s *Service) resolve(ctx context.Context, t store.ServiceTenant, r Ref) (store.Mailbox, error) {
	if r.Space == Records {
		return s.Box(ctx, t, r.Name)
	}
	return s.find(ctx, t, r)
}

// openGuarded resolves a container and unwraps its key for a user's
// request, with the guard that a request lasting long (a stream, a
// search's catch-up) asks as it goes (guard.go).
func (s *Service) openGuarded(ctx context.Context, t store.ServiceTenant, r Ref, why string) (store.Mailbox, *envelope.Key, *guard, error) {
	m, err := s.resolve(ctx, t, r)
	if err != nil {
		return m, nil, nil, err
	}
	ck, g, err := s.keyGuarded(ctx, t, r, m, why)
	return m, ck, g, err
}

// Listed is an item as List lists it: its facts (a site file's ID is the
// file's name) and its key in the listing, for the page after it.
type Listed struct {
	store.Item
	Key string
}

// List lists one page of a container's items (no content), by stored ID:
// at most limit after the key after (a Listed's Key; "" for the first
// page). A site's files show each version under the file's name.
func (s *Service) List(ctx context.Context, t store.ServiceTenant, r Ref, after string, limit int) ([]Listed, error) {
	m, err := s.find(ctx, t, r)
	if r.Space == Records && rule.Is(err, rule.KindNotFound) {
		return nil, nil // a workload's container is made with its first record
	} else if err != nil {
		return nil, err
	}
	items, err := s.st.ListItemHeadsAfter(ctx, t.ID, m.ID, after, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Listed, len(items))
	for i, it := range items {
		out[i] = Listed{Item: it, Key: it.ID}
		if r.Space == Sites {
			out[i].ID, _, _ = strings.Cut(it.ID, "@")
		}
	}
	return out, nil
}

// DeleteItem deletes an item (a site's file with all its versions).
func (s *Service) DeleteItem(ctx context.Context, t store.ServiceTenant, r Ref, id string) error {
	sp := spaces[r.Space]
	m, err := s.find(ctx, t, r)
	if r.Space == Records && rule.Is(err, rule.KindNotFound) {
		return rule.NotFound(sp.existsRule, sp.listFix, "%s %s has no %s %q", sp.container, r.Name, sp.item, id)
	} else if err != nil {
		return err
	}
	if r.Space == Mailboxes {
		if err := s.markPending(ctx, t, m, id); err != nil {
			return err
		}
	}
	// An item kept in place is deleted at the version read, so the blob
	// dropped is the one deleted (a write landing between would otherwise
	// have its blob orphaned): read again if one did. A site's versions
	// are written once.
	for attempt := 1; ; attempt++ {
		var items []store.Item
		if r.Space == Sites {
			if items, err = s.fileVersions(ctx, t, m.ID, id); err != nil {
				return err
			}
		} else if it, err := s.st.Item(ctx, t.ID, m.ID, id); err == nil {
			items = []store.Item{it}
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if len(items) == 0 {
			return rule.NotFound(sp.existsRule, sp.listFix, "%s %s has no %s %q", sp.container, r.Name, sp.item, id)
		}
		ws := make([]store.ItemWrite, len(items))
		for i, it := range items {
			ws[i] = store.ItemWrite{Item: it, Prev: it.Version, Delete: true}
		}
		err := s.st.WriteItems(ctx, ws)
		if errors.Is(err, store.ErrConflict) && r.Space != Sites && attempt < 8 {
			continue
		} else if errors.Is(err, store.ErrConflict) {
			return rule.NotFound(sp.existsRule, sp.listFix, "%s %s has no %s %q (it changed while it was deleted: list it again)", sp.container, r.Name, sp.item, id)
		} else if err != nil {
			return err
		}
		for _, it := range items {
			if it.Blob != "" {
				s.dropBlob(ctx, blob.Ref{Tenant: t.ID, Container: m.ID, ID: it.Blob})
			}
		}
		break
	}
	if r.Space == Mailboxes {
		s.itemChanged(ctx, t, m, id)
	}
	return nil
}

// fileVersions are a site file's stored versions, oldest first, without
// their content (Open reads the one it serves): the items FILE@..., read
// alone, however many other files the site has.
func (s *Service) fileVersions(ctx context.Context, t store.ServiceTenant, container, file string) ([]store.Item, error) {
	out, err := s.st.ItemHeadsWithPrefix(ctx, t.ID, container, file+"@")
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}
