package api

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/customerkey/customerkey/internal/envelope"
	"github.com/customerkey/customerkey/internal/jobs"
	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/store"
)

// Mailbox kinds.
const (
	UserMailbox = "UserMailbox"
	MailUser    = "MailUser" // not yet migrated: its data is encrypted as it arrives
)

// Statistics is Get-MailboxStatistics.
type Statistics struct {
	Identity               string `json:"identity"`
	Kind                   string `json:"kind"`
	IsEncrypted            bool   `json:"isEncrypted" doc:"True when a customer DEP protects the mailbox"`
	DataEncryptionPolicyID string `json:"dataEncryptionPolicyID,omitempty" doc:"The GUID of the DEP whose keys protect the mailbox now"`
	Pending                string `json:"pendingDataEncryptionPolicyID,omitempty" doc:"The GUID of the DEP assigned, while the mailbox key is being re-wrapped under it"`
	ItemCount              int    `json:"itemCount"`
}

// ItemInfo describes a stored item (never its content).
type ItemInfo struct {
	ID      string    `json:"id"`
	Kind    string    `json:"kind"`
	Version uint32    `json:"version"`
	Size    int       `json:"size" doc:"Bytes stored, sealed"`
	Created time.Time `json:"created"`
}

var upnRE = regexp.MustCompile(`^[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$`)
var itemIDRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

const serviceDEPName = "service-managed"

func (s *Server) mailboxRoutes() {
	admins := []string{RoleGlobalAdmin, RoleExchangeAdmin}
	huma.Register(s.api, huma.Operation{OperationID: "new-mailbox", Method: http.MethodPost, Path: "/v1/tenants/{tenant}/mailboxes",
		Summary: "Create a user mailbox or a mail user, on a DEP or on service-managed keys", Tags: []string{"mailboxes"}, Security: bearerAuth, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *struct {
			Tenant string `path:"tenant"`
			Body   struct {
				ID                   string `json:"id" doc:"The user's UPN"`
				Kind                 string `json:"kind,omitempty" enum:"UserMailbox,MailUser" default:"UserMailbox"`
				DataEncryptionPolicy string `json:"dataEncryptionPolicy,omitempty" doc:"A mailbox DEP's name or GUID; empty for service-managed keys"`
			}
		}) (*struct{ Body Statistics }, error) {
			t, err := s.tenantRole(ctx, in.Tenant, admins...)
			if err != nil {
				return nil, err
			}
			if !upnRE.MatchString(in.Body.ID) {
				return nil, problem(400, "Mailbox.ID", "give the user's principal name, e.g. alice@contoso.com", "mailbox %q is not a UPN", in.Body.ID)
			}
			kind := in.Body.Kind
			if kind == "" {
				kind = UserMailbox
			}
			if in.Body.DataEncryptionPolicy != "" {
				if err := s.requireLicence(ctx, t, in.Body.ID); err != nil {
					return nil, err
				}
			}
			d, err := s.assignableDEP(ctx, t, in.Body.DataEncryptionPolicy)
			if err != nil {
				return nil, err
			}
			id := strings.ToLower(in.Body.ID)
			depKey, err := s.depKey(ctx, d, keyring.Request{Initiator: keyring.Service, Reason: "new mailbox " + id})
			if err != nil {
				return nil, err
			}
			rec, err := envelope.WrapContainerKey(depKey, envelope.Container{Tenant: t.ID, DEP: d.ID, ID: id}, envelope.NewKey())
			if err != nil {
				return nil, err
			}
			now := s.cfg.Now().UTC()
			m := store.Mailbox{Tenant: t.ID, ID: id, Kind: kind, DEP: d.ID, ContainerKey: rec.Marshal(), KeyVersion: 1, Created: now, Updated: now}
			if err := s.cfg.Store.CreateMailbox(ctx, m); errors.Is(err, store.ErrConflict) {
				return nil, problem(409, "Mailbox.Unique", "use the existing mailbox", "mailbox %s exists", id)
			} else if err != nil {
				return nil, err
			}
			st, err := s.stats(ctx, m)
			return &struct{ Body Statistics }{Body: st}, err
		})

	huma.Register(s.api, huma.Operation{OperationID: "set-mailbox", Method: http.MethodPatch, Path: "/v1/tenants/{tenant}/mailboxes/{mailbox}",
		Summary: "Set-Mailbox / Set-MailUser -DataEncryptionPolicy: assign a DEP, or none for service-managed keys; the mailbox key is re-wrapped in the background (202 with the job), and the statistics show the new DEP once it is done",
		Tags:    []string{"mailboxes"}, Security: bearerAuth},
		func(ctx context.Context, in *struct {
			Tenant  string `path:"tenant"`
			Mailbox string `path:"mailbox"`
			Body    struct {
				DataEncryptionPolicy string `json:"dataEncryptionPolicy" doc:"A mailbox DEP's name or GUID, or empty for none (service-managed keys)"`
			}
		}) (*setMailboxOutput, error) {
			t, err := s.tenantRole(ctx, in.Tenant, admins...)
			if err != nil {
				return nil, err
			}
			m, err := s.mailbox(ctx, t, in.Mailbox)
			if err != nil {
				return nil, err
			}
			if in.Body.DataEncryptionPolicy != "" {
				if err := s.requireLicence(ctx, t, m.ID); err != nil {
					return nil, err
				}
			}
			to, err := s.assignableDEP(ctx, t, in.Body.DataEncryptionPolicy)
			if err != nil {
				return nil, err
			}
			out := &setMailboxOutput{Status: http.StatusOK}
			if to.ID != m.DEP {
				if from, err := s.depByID(ctx, t, m.DEP); err != nil {
					return nil, err
				} else if err := s.requirePurgeFree(ctx, t, from); err != nil {
					return nil, err
				}
			}
			// The assignment is stored with the mailbox; a job re-wraps every
			// mailbox whose assignment is pending. Assigning the DEP it is on
			// cancels a pending one.
			if err := s.cfg.Store.SetMailboxTarget(ctx, t.ID, m.ID, to.ID); err != nil {
				return nil, err
			}
			if to.ID != m.DEP {
				j, err := s.startReassign(ctx, t)
				if err != nil {
					return nil, err
				}
				out.Status, out.Body.Job = http.StatusAccepted, &j
				m.Target = to.ID
			} else {
				m.Target = ""
			}
			out.Body.Statistics, err = s.stats(ctx, m)
			return out, err
		})

	huma.Register(s.api, huma.Operation{OperationID: "get-mailboxstatistics", Method: http.MethodGet, Path: "/v1/tenants/{tenant}/mailboxes/{mailbox}/statistics",
		Summary: "Get-MailboxStatistics: IsEncrypted and DataEncryptionPolicyID", Tags: []string{"mailboxes"}, Security: bearerAuth},
		func(ctx context.Context, in *struct {
			Tenant  string `path:"tenant"`
			Mailbox string `path:"mailbox"`
		}) (*struct{ Body Statistics }, error) {
			t, err := s.tenantRole(ctx, in.Tenant, tenantRoles...)
			if err != nil {
				return nil, err
			}
			m, err := s.mailbox(ctx, t, in.Mailbox)
			if err != nil {
				return nil, err
			}
			st, err := s.stats(ctx, m)
			return &struct{ Body Statistics }{Body: st}, err
		})

	type itemPath struct {
		Tenant  string `path:"tenant"`
		Mailbox string `path:"mailbox"`
		Item    string `path:"item" doc:"Item ID: 1-128 letters, digits, . _ -"`
	}
	huma.Register(s.api, huma.Operation{OperationID: "put-item", Method: http.MethodPut, Path: "/v1/tenants/{tenant}/mailboxes/{mailbox}/items/{item}",
		Summary: "Write an item (a new version); it is sealed under a fresh item key before it is stored", Tags: []string{"mailbox data"}, Security: bearerAuth,
		MaxBodyBytes: 16 << 20},
		func(ctx context.Context, in *struct {
			Tenant  string `path:"tenant"`
			Mailbox string `path:"mailbox"`
			Item    string `path:"item" doc:"Item ID: 1-128 letters, digits, . _ -"`
			Kind    string `query:"kind" enum:"message,attachment,calendar" default:"message"`
			RawBody []byte `contentType:"application/octet-stream"`
		}) (*struct{ Body ItemInfo }, error) {
			t, m, ck, version, err := s.openMailboxItem(ctx, in.Tenant, in.Mailbox, in.Item, "write item")
			if err != nil {
				return nil, err
			}
			defer ck.Destroy()
			if !itemIDRE.MatchString(in.Item) {
				return nil, problem(400, "Item.ID", "use 1-128 letters, digits, '.', '_' or '-'", "item ID %q is invalid", in.Item)
			}
			kind := in.Kind
			if kind == "" {
				kind = "message"
			}
			sealed, err := envelope.Seal(ck, containerKeyID(m), envelope.Item{Tenant: t.ID, Container: m.ID, ID: in.Item, Version: version}, in.RawBody)
			if err != nil {
				return nil, err
			}
			it := store.Item{Tenant: t.ID, Mailbox: m.ID, ID: in.Item, Kind: kind, Version: version, Sealed: sealed, Created: s.cfg.Now().UTC()}
			if err := s.cfg.Store.PutItem(ctx, it); err != nil {
				return nil, err
			}
			s.itemChanged(t, m)
			return &struct{ Body ItemInfo }{Body: itemInfo(it)}, nil
		})

	huma.Register(s.api, huma.Operation{OperationID: "get-item", Method: http.MethodGet, Path: "/v1/tenants/{tenant}/mailboxes/{mailbox}/items/{item}",
		Summary: "Read an item: unwrapped through the keyring as a user-initiated request", Tags: []string{"mailbox data"}, Security: bearerAuth},
		func(ctx context.Context, in *itemPath) (*contentOutput, error) {
			t, m, ck, err := s.openMailbox(ctx, in.Tenant, in.Mailbox, "read item")
			if err != nil {
				return nil, err
			}
			defer ck.Destroy()
			it, err := s.cfg.Store.Item(ctx, t.ID, m.ID, in.Item)
			if errors.Is(err, store.ErrNotFound) {
				return nil, problem(404, "Item.Exists", "list the mailbox's items (ck mailbox item list)", "mailbox %s has no item %q", m.ID, in.Item)
			} else if err != nil {
				return nil, err
			}
			content, err := s.openSealed(ck, t, m, it)
			if err != nil {
				return nil, err
			}
			return opened(content), nil
		})

	huma.Register(s.api, huma.Operation{OperationID: "list-items", Method: http.MethodGet, Path: "/v1/tenants/{tenant}/mailboxes/{mailbox}/items",
		Summary: "List a mailbox's items (IDs, kinds, versions, sizes; no content)", Tags: []string{"mailbox data"}, Security: bearerAuth},
		func(ctx context.Context, in *struct {
			Tenant  string `path:"tenant"`
			Mailbox string `path:"mailbox"`
		}) (*itemsOutput, error) {
			t, err := s.tenantRole(ctx, in.Tenant, admins...)
			if err != nil {
				return nil, err
			}
			m, err := s.mailbox(ctx, t, in.Mailbox)
			if err != nil {
				return nil, err
			}
			items, err := s.cfg.Store.ListItemHeads(ctx, t.ID, m.ID)
			if err != nil {
				return nil, err
			}
			out := &itemsOutput{}
			out.Body.Value = []ItemInfo{}
			for _, it := range items {
				out.Body.Value = append(out.Body.Value, itemInfo(it))
			}
			return out, nil
		})

	huma.Register(s.api, huma.Operation{OperationID: "delete-item", Method: http.MethodDelete, Path: "/v1/tenants/{tenant}/mailboxes/{mailbox}/items/{item}",
		Summary: "Delete an item", Tags: []string{"mailbox data"}, Security: bearerAuth, DefaultStatus: http.StatusNoContent},
		func(ctx context.Context, in *itemPath) (*struct{}, error) {
			t, err := s.tenantRole(ctx, in.Tenant, admins...)
			if err != nil {
				return nil, err
			}
			m, err := s.mailbox(ctx, t, in.Mailbox)
			if err != nil {
				return nil, err
			}
			if err := s.cfg.Store.DeleteItem(ctx, t.ID, m.ID, in.Item); errors.Is(err, store.ErrNotFound) {
				return nil, problem(404, "Item.Exists", "list the mailbox's items (ck mailbox item list)", "mailbox %s has no item %q", m.ID, in.Item)
			} else if err != nil {
				return nil, err
			}
			s.itemChanged(t, m)
			return &struct{}{}, nil
		})
}

func itemInfo(it store.Item) ItemInfo {
	return ItemInfo{ID: it.ID, Kind: it.Kind, Version: it.Version, Size: it.Size, Created: it.Created}
}

// nextVersion is the version a write of item id makes: one after the
// stored one, or 1.
func (s *Server) nextVersion(ctx context.Context, t store.ServiceTenant, m store.Mailbox, id string) (uint32, error) {
	v, err := s.cfg.Store.ItemVersion(ctx, t.ID, m.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return 1, nil
	}
	return v + 1, err
}

func containerKeyID(m store.Mailbox) string { return m.ID + "#" + strconv.Itoa(m.KeyVersion) }

func (s *Server) mailbox(ctx context.Context, t store.ServiceTenant, id string) (store.Mailbox, error) {
	m, err := s.cfg.Store.Mailbox(ctx, t.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return m, problem(404, "Mailbox.Exists", "check the mailbox's UPN, or create the mailbox (ck mailbox create UPN)", "tenant %s has no mailbox %q", t.Name, id)
	}
	return m, err
}

// assignableDEP resolves the DEP a mailbox should use: a named mailbox
// DEP that is enabled (D2), or the tenant's service-managed DEP for "".
func (s *Server) assignableDEP(ctx context.Context, t store.ServiceTenant, name string) (store.DEP, error) {
	if name == "" {
		return s.serviceDEP(ctx, t)
	}
	d, err := s.dep(ctx, t, "mailbox", name)
	if err != nil {
		return d, err
	}
	if !d.Enabled {
		return d, problem(400, "D2.Enabled", "enable the DEP first (ck dep set NAME --enabled=true), or choose another", "DEP %s is disabled and cannot be assigned", d.Name)
	}
	return d, nil
}

// serviceDEP returns the tenant's service-managed DEP, creating it once.
func (s *Server) serviceDEP(ctx context.Context, t store.ServiceTenant) (store.DEP, error) {
	if d, err := s.cfg.Store.DEP(ctx, t.ID, "service", serviceDEPName); err == nil {
		return d, nil
	}
	w, ok := s.cfg.Workloads["mailbox"]
	if !ok {
		return store.DEP{}, problem(503, "Service.Workload", "the operator must configure the service's key store", "the service cannot create service-managed keys")
	}
	id := uuid.NewString()
	kd, err := w.Ring.NewServiceDEP(ctx, t.ID, id)
	if err != nil {
		return store.DEP{}, err
	}
	now := s.cfg.Now().UTC()
	d := store.DEP{ID: id, Tenant: t.ID, Kind: "service", Name: serviceDEPName, Description: "service-managed keys", Enabled: true, Keys: kd.MarshalKeys(), Created: now, Updated: now}
	if err := s.cfg.Store.CreateDEP(ctx, d, 1); err != nil {
		w.Ring.DestroyAvailabilityKey(ctx, kd, "service", "duplicate service-managed DEP")
		if d, err2 := s.cfg.Store.DEP(ctx, t.ID, "service", serviceDEPName); err2 == nil {
			return d, nil // created meanwhile by another request
		}
		return store.DEP{}, err
	}
	return d, nil
}

// depKey gets a DEP's key through the keyring of its workload (the
// service-managed DEP needs no customer key; any keyring reaches it).
// ringDEP returns the workload that reaches a DEP's keys and the DEP as
// its keyring knows it.
func (s *Server) ringDEP(d store.DEP) (Workload, keyring.DEP, error) {
	workload := d.Kind
	if workload == "service" {
		workload = "mailbox"
	}
	w, ok := s.cfg.Workloads[workload]
	if !ok {
		return w, keyring.DEP{}, problem(503, "Service.Workload", "the operator must configure the service's key vaults", "the service cannot reach keys")
	}
	kd := keyring.DEP{ID: d.ID, Tenant: d.Tenant, Kind: keyring.Mailbox}
	switch d.Kind {
	case "service":
		kd.Kind = keyring.ServiceManaged
	case "site":
		kd.Kind = keyring.Site // the TIK: hedged, never the availability key (K5)
	}
	return w, kd, kd.UnmarshalKeys(d.Keys)
}

func (s *Server) depKey(ctx context.Context, d store.DEP, req keyring.Request) (*envelope.Key, error) {
	w, kd, err := s.ringDEP(d)
	if err != nil {
		return nil, err
	}
	key, err := w.Ring.DEPKey(ctx, kd, req)
	var de *keyring.DEPError
	switch {
	case errors.As(err, &de) && de.Deliberate():
		return nil, problem(403, "K3.CustomerKeysRefused", "the tenant's key administrators must restore the workload's access to at least one of the DEP's keys (or recover them)", "%v", err)
	case errors.As(err, &de):
		return nil, problem(503, "K3.VaultsUnavailable", "retry later: the tenant's key vaults cannot be reached", "%v", err)
	case errors.Is(err, keyring.ErrAvailabilityKeyDestroyed):
		return nil, problem(410, "R6.Purged", "the data of this DEP was purged and cannot be read", "%v", err)
	}
	return key, err
}

// openMailbox checks access and unwraps a mailbox's key for data-plane use.
func (s *Server) openMailbox(ctx context.Context, tenant, mailbox, why string) (store.ServiceTenant, store.Mailbox, *envelope.Key, error) {
	t, m, ck, _, err := s.openMailboxItem(ctx, tenant, mailbox, "", why)
	return t, m, ck, err
}

// openMailboxItem is openMailbox for a write of item: it also returns the
// version the write makes, read with the mailbox in one query.
func (s *Server) openMailboxItem(ctx context.Context, tenant, mailbox, item, why string) (store.ServiceTenant, store.Mailbox, *envelope.Key, uint32, error) {
	t, err := s.tenantRole(ctx, tenant, RoleGlobalAdmin, RoleExchangeAdmin)
	if err != nil {
		return t, store.Mailbox{}, nil, 0, err
	}
	var m store.Mailbox
	var version uint32
	if item == "" {
		m, err = s.mailbox(ctx, t, mailbox)
	} else {
		m, version, err = s.cfg.Store.MailboxItemVersion(ctx, t.ID, mailbox, item)
		if errors.Is(err, store.ErrNotFound) {
			err = problem(404, "Mailbox.Exists", "check the mailbox's UPN, or create the mailbox (ck mailbox create UPN)", "tenant %s has no mailbox %q", t.Name, mailbox)
		}
	}
	if err != nil {
		return t, m, nil, 0, err
	}
	ck, err := s.containerKey(ctx, t, m, keyring.Request{Initiator: keyring.User, Reason: why + " in " + m.ID + " by " + caller(ctx).Subject})
	return t, m, ck, version + 1, err
}

// containerKey unwraps a container's key (mailbox, site, workload) with
// its DEP's key, got through the keyring for req.
func (s *Server) containerKey(ctx context.Context, t store.ServiceTenant, m store.Mailbox, req keyring.Request) (*envelope.Key, error) {
	// Fast path: the DEP key is cached (and not due for a refresh); the
	// DEP's record is needed only to unwrap it.
	for _, w := range s.cfg.Workloads {
		if depKey, ok := w.Ring.Cached(m.DEP); ok {
			return s.openContainerKey(t, m, depKey)
		}
	}
	d, err := s.depByID(ctx, t, m.DEP)
	if err != nil {
		// A roll may have moved the container and retired its old DEP
		// since m was read: read it again.
		if m2, err2 := s.cfg.Store.Mailbox(ctx, t.ID, m.ID); err2 == nil && m2.DEP != m.DEP {
			return s.containerKey(ctx, t, m2, req)
		}
		return nil, err
	}
	depKey, err := s.depKey(ctx, d, req)
	if err != nil {
		return nil, err
	}
	return s.openContainerKey(t, m, depKey)
}

// openContainerKey unwraps m's container key with its DEP's key.
func (s *Server) openContainerKey(t store.ServiceTenant, m store.Mailbox, depKey *envelope.Key) (*envelope.Key, error) {
	rec, err := envelope.ParseRecord(m.ContainerKey)
	if err == nil {
		var ck *envelope.Key
		if ck, err = envelope.UnwrapContainerKey(depKey, envelope.Container{Tenant: t.ID, DEP: m.DEP, ID: m.ID}, rec); err == nil {
			return ck, nil
		}
	}
	s.cfg.Logger.Error("api: container key does not open", "tenant", t.ID, "container", m.ID, "err", err)
	return nil, problem(500, "Container.Integrity", "the operator should read the service log", "the key of %s failed its integrity check", m.ID)
}

// contentOutput is a content read: the opened bytes.
type contentOutput struct {
	ContentType string `header:"Content-Type"`
	Body        []byte
}

func opened(content []byte) *contentOutput {
	return &contentOutput{ContentType: "application/octet-stream", Body: content}
}

// itemsOutput lists a container's items, without content.
type itemsOutput struct {
	Body struct {
		Value []ItemInfo `json:"value"`
	}
}

// openSealed opens a stored item of a container.
func (s *Server) openSealed(ck *envelope.Key, t store.ServiceTenant, m store.Mailbox, it store.Item) ([]byte, error) {
	content, err := envelope.Open(ck, envelope.Item{Tenant: t.ID, Container: m.ID, ID: it.ID, Version: it.Version}, it.Sealed)
	if err != nil {
		s.cfg.Logger.Error("api: stored item does not open", "tenant", t.ID, "container", m.ID, "item", it.ID, "err", err)
		return nil, problem(500, "Item.Integrity", "the operator should restore this item from backup", "%s of %s failed its integrity check", it.ID, m.ID)
	}
	return content, nil
}

// depByID finds a DEP of any kind by its GUID.
func (s *Server) depByID(ctx context.Context, t store.ServiceTenant, id string) (store.DEP, error) {
	d, err := s.cfg.Store.DEPByID(ctx, t.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		if p, err := s.cfg.Store.Purge(ctx, t.ID, id); err == nil { // mid-purge: the DEP goes first
			return d, problem(410, "R6.Purged", "the data of this DEP is being purged, at the tenant's request, and cannot be read", "DEP %s is %s", p.Name, strings.ToLower(p.State))
		}
		return d, problem(500, "Mailbox.DEP", "the operator should read the service log", "the DEP %s of a mailbox is missing", id)
	}
	return d, err
}

// setMailboxOutput is Set-Mailbox's answer: the statistics now (the old
// DEP until the re-wrap is done) and the re-wrap's job.
type setMailboxOutput struct {
	Status int
	Body   struct {
		Statistics
		Job *Job `json:"job,omitempty" doc:"The background re-wrap; absent when the mailbox is already on the DEP"`
	}
}

// startReassign makes sure the tenant's reassign-mailboxes job is queued
// or running. A running job goes over the pending mailboxes until none is
// left; should it have taken its last look already, the sweep of RunJobs
// queues a new one within a few seconds (the assignment is stored).
func (s *Server) startReassign(ctx context.Context, t store.ServiceTenant) (Job, error) {
	for range 3 { // a conflicting job may end between the two reads
		j, err := s.jobs.Enqueue(ctx, t.ID, jobReassign, "mailboxes", struct{}{})
		if !errors.Is(err, store.ErrConflict) {
			return jobJSON(j), err
		}
		if j, err = s.cfg.Store.ActiveJob(ctx, t.ID, "mailboxes"); !errors.Is(err, store.ErrNotFound) {
			return jobJSON(j), err
		}
	}
	return Job{}, problem(503, "Job.Busy", "retry: the assignment is stored and the service queues its re-wrap within seconds", "the re-wrap job of tenant %s could not be queued", t.Name)
}

// sweepPending queues the reassign-mailboxes job of every tenant with
// pending assignments and none queued or running, every interval until
// ctx is done: after a crash between storing an assignment and queuing
// its job, or an assignment made just as the job ended.
func (s *Server) sweepPending(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		tenants, err := s.cfg.Store.TenantsWithPendingMailboxes(ctx)
		if err != nil && ctx.Err() == nil {
			s.cfg.Logger.Error("api: sweep of pending assignments", "err", err)
		}
		for _, id := range tenants {
			if _, err := s.jobs.Enqueue(ctx, id, jobReassign, "mailboxes", struct{}{}); err == nil {
				s.cfg.Logger.Info("api: queued the re-wrap of pending assignments", "tenant", id)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// reassignMailboxes is the reassign-mailboxes job (Set-Mailbox, D3, R2):
// every mailbox of the tenant with a pending assignment has its key
// re-wrapped under the assigned DEP (one conditional write each; the
// content is not touched), until none is pending. A mailbox whose DEP
// cannot be reached now is left for a retry, without holding up the rest.
func (s *Server) reassignMailboxes(ctx context.Context, x *jobs.Run) error {
	var a struct{}
	t, err := s.jobTenant(ctx, x, &a)
	if err != nil {
		return err
	}
	done, deps := 0, map[string]store.DEP{}
	dep := func(id string) (store.DEP, error) {
		if d, ok := deps[id]; ok {
			return d, nil
		}
		d, err := s.cfg.Store.DEPByID(ctx, t.ID, id)
		if err == nil {
			deps[id] = d
		}
		return d, err
	}
	for {
		ms, err := s.cfg.Store.PendingMailboxes(ctx, t.ID, 1000)
		if err != nil {
			return err
		}
		if len(ms) == 0 {
			return x.Progress(ctx, done, done)
		}
		var failed error
		moved := 0
		for _, m := range ms {
			to, err := dep(m.Target)
			if errors.Is(err, store.ErrNotFound) { // the DEP went away: the assignment with it
				s.cfg.Logger.Warn("api: assignment dropped: its DEP no longer exists", "tenant", t.ID, "mailbox", m.ID, "dep", m.Target)
				err = s.cfg.Store.SetMailboxTarget(ctx, t.ID, m.ID, m.DEP)
			}
			if err == nil && to.ID != "" {
				if _, perr := s.cfg.Store.Purge(ctx, t.ID, m.DEP); perr == nil { // requested since the assignment
					s.cfg.Logger.Warn("api: assignment dropped: the mailbox's DEP has a purge request", "tenant", t.ID, "mailbox", m.ID, "dep", m.DEP)
					err, to = s.cfg.Store.SetMailboxTarget(ctx, t.ID, m.ID, m.DEP), store.DEP{}
				}
			}
			if err == nil && to.ID != "" {
				err = s.rewrapAs(ctx, t, m, to, "Set-Mailbox")
				if isStatus(err, 409) { // moved meanwhile: seen again in the next pass
					err = nil
				}
			}
			if err != nil {
				failed = err
				continue
			}
			moved++
			done++
			if err := x.Progress(ctx, done, done+len(ms)-moved); err != nil {
				return err
			}
		}
		if moved == 0 && failed != nil {
			return failed // nothing moved this pass: retry later
		}
	}
}

// rewrap moves a mailbox to another DEP: its mailbox key is unwrapped with
// the old DEP key and wrapped with the new one (K7: content is untouched).
// The mailbox reports the new DEP only once that is stored (D3).
func (s *Server) rewrap(ctx context.Context, t store.ServiceTenant, m store.Mailbox, to store.DEP) error {
	return s.rewrapAs(ctx, t, m, to, caller(ctx).Subject)
}

func (s *Server) rewrapAs(ctx context.Context, t store.ServiceTenant, m store.Mailbox, to store.DEP, by string) error {
	from, err := s.depByID(ctx, t, m.DEP)
	if err != nil {
		return err
	}
	req := keyring.Request{Initiator: keyring.Service, Reason: "re-wrap " + m.ID + " under DEP " + to.Name + " for " + by}
	oldKey, err := s.depKey(ctx, from, req)
	if err != nil {
		return err
	}
	newKey, err := s.depKey(ctx, to, req)
	if err != nil {
		return err
	}
	return s.moveMailbox(ctx, t, m, from, oldKey, to, newKey)
}

// moveMailbox re-wraps m's mailbox key from one DEP's key to another's and
// stores it if the mailbox is still on from (the DEP keys are shared: not
// destroyed here).
func (s *Server) moveMailbox(ctx context.Context, t store.ServiceTenant, m store.Mailbox, from store.DEP, oldKey *envelope.Key, to store.DEP, newKey *envelope.Key) error {
	rec, err := envelope.ParseRecord(m.ContainerKey)
	if err != nil {
		return err
	}
	ck, err := envelope.UnwrapContainerKey(oldKey, envelope.Container{Tenant: t.ID, DEP: from.ID, ID: m.ID}, rec)
	if err != nil {
		return err
	}
	defer ck.Destroy()
	nrec, err := envelope.WrapContainerKey(newKey, envelope.Container{Tenant: t.ID, DEP: to.ID, ID: m.ID}, ck)
	if err != nil {
		return err
	}
	prev := m.DEP
	m.DEP, m.ContainerKey, m.Updated = to.ID, nrec.Marshal(), s.cfg.Now().UTC()
	if err := s.cfg.Store.UpdateMailbox(ctx, m, prev); errors.Is(err, store.ErrConflict) {
		return problem(409, "Mailbox.Concurrent", "read the mailbox again and retry", "mailbox %s was moved to another DEP meanwhile", m.ID)
	} else if err != nil {
		return err
	}
	s.cfg.Logger.Info("api: mailbox re-wrapped", "tenant", t.ID, "mailbox", m.ID, "from", prev, "to", to.ID)
	return nil
}

func (s *Server) stats(ctx context.Context, m store.Mailbox) (Statistics, error) {
	n, err := s.cfg.Store.CountItems(ctx, m.Tenant, m.ID)
	if err != nil {
		return Statistics{}, err
	}
	st := Statistics{Identity: m.ID, Kind: m.Kind, ItemCount: n, Pending: m.Target}
	if d, err := s.cfg.Store.DEP(ctx, m.Tenant, "mailbox", m.DEP); err == nil {
		st.IsEncrypted, st.DataEncryptionPolicyID = true, d.ID
	}
	return st, nil
}
