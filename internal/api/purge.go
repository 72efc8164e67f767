package api

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/customerkey/customerkey/internal/audit"
	"github.com/customerkey/customerkey/internal/jobs"
	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/kms"
	"github.com/customerkey/customerkey/internal/shred"
	"github.com/customerkey/customerkey/internal/store"
)

// The data purge path (SPEC R6, seed "Revoke your keys and start the data
// purge path process"), for mailbox DEPs only:
//  1. the tenant removes the Exchange workload's wrap and unwrap rights on
//     both keys, in its vaults;
//  2. Set-DataEncryptionPolicy -PermanentDataPurgeRequested with a reason
//     and a contact: refused while either key still unwraps; afterwards
//     the DEP is disabled for good and cannot be assigned;
//  3. authorised officers designated at onboarding approve, each signed in
//     as themselves (Config.PurgeApprovals of them, default one);
//  4. a purge job deletes the DEP, deletes its mailboxes with their items,
//     destroys the availability key, and issues a crypto-shred certificate
//     signed with the service's key.

const mdepPurgeRefusal = "purging of a multi-workload DEP isn't supported: it encrypts data across multiple workloads for all of the tenant's users, and purging it would make all of that data inaccessible"

// PurgeRequest is a purge request as the API shows it.
type PurgeRequest struct {
	DEP               string                `json:"dataEncryptionPolicyID"`
	Name              string                `json:"dataEncryptionPolicy"`
	State             string                `json:"state" enum:"Requested,Approved,Purged"`
	Reason            string                `json:"reason"`
	Contact           string                `json:"contact"`
	RequestedBy       string                `json:"requestedBy"`
	Requested         string                `json:"requested"`
	ApprovalsRequired int                   `json:"approvalsRequired"`
	Approvals         []store.PurgeApproval `json:"approvals"`
	Certificate       string                `json:"certificate,omitempty" doc:"Once Purged: the signed crypto-shred certificate file, base64"`
}

func purgeJSON(p store.Purge) PurgeRequest {
	out := PurgeRequest{DEP: p.DEP, Name: p.Name, State: p.State, Reason: p.Reason, Contact: p.Contact, RequestedBy: p.RequestedBy,
		Requested: p.Requested.Format("2006-01-02T15:04:05Z"), ApprovalsRequired: p.Required, Approvals: p.Approvals}
	if out.Approvals == nil {
		out.Approvals = []store.PurgeApproval{}
	}
	if len(p.Certificate) > 0 {
		out.Certificate = base64.StdEncoding.EncodeToString(p.Certificate)
	}
	return out
}

type purgeOutput struct{ Body PurgeRequest }

// purgeArgs are a purge job's arguments, fixed when the purge is approved.
type purgeArgs struct {
	DEP               string
	AvailabilityKeyID string
	CustomerKeys      []string // the versioned key IDs that wrapped the DEP key
	Containers        []string
}

func (s *Server) purgeRoutes() {
	huma.Register(s.api, huma.Operation{OperationID: "get-service-signing-key", Method: http.MethodGet, Path: "/v1/service/signing-key",
		Summary: "The service's Ed25519 public key, which verifies crypto-shred certificates (no token needed)", Tags: []string{"service"}},
		func(ctx context.Context, _ *struct{}) (*struct {
			Body struct {
				Algorithm string `json:"algorithm"`
				PublicKey string `json:"publicKey" doc:"base64"`
				PEM       string `json:"pem"`
			}
		}, error) {
			if s.cfg.Signer == nil {
				return nil, problem(503, "R6.Signer", "the operator must give the service a signing key", "the service has no signing key")
			}
			out := &struct {
				Body struct {
					Algorithm string `json:"algorithm"`
					PublicKey string `json:"publicKey" doc:"base64"`
					PEM       string `json:"pem"`
				}
			}{}
			pub := s.cfg.Signer.Public().(ed25519.PublicKey)
			out.Body.Algorithm, out.Body.PublicKey, out.Body.PEM = "Ed25519", base64.StdEncoding.EncodeToString(pub), shred.PublicKeyPEM(pub)
			return out, nil
		})

	base := "/v1/tenants/{tenant}/dataEncryptionPolicies/{dep}/purge"
	huma.Register(s.api, huma.Operation{OperationID: "get-dataencryptionpolicy-purge", Method: http.MethodGet, Path: base,
		Summary: "A mailbox DEP's purge request: state, approvals and, once purged, the crypto-shred certificate (also after the DEP is deleted)", Tags: []string{"mailbox DEPs"}, Security: bearerAuth},
		func(ctx context.Context, in *depPath) (*purgeOutput, error) {
			t, err := s.tenantRole(ctx, in.Tenant, append(tenantRoles, RoleOperator)...)
			if err != nil {
				return nil, err
			}
			p, err := s.purge(ctx, t, in.DEP)
			if err != nil {
				return nil, err
			}
			return &purgeOutput{Body: purgeJSON(p)}, nil
		})
	huma.Register(s.api, huma.Operation{OperationID: "approve-dataencryptionpolicy-purge", Method: http.MethodPost, Path: base + "/approve",
		Summary: "An authorised officer (designated at onboarding), signed in as themselves, approves the purge; with enough approvals the purge runs in the background",
		Tags:    []string{"mailbox DEPs"}, Security: bearerAuth},
		func(ctx context.Context, in *depPath) (*purgeOutput, error) {
			t, err := s.tenantRole(ctx, in.Tenant, tenantRoles...)
			if err != nil {
				return nil, err
			}
			p, err := s.purge(ctx, t, in.DEP)
			if err != nil {
				return nil, err
			}
			who := strings.ToLower(caller(ctx).Subject)
			officers, err := s.officers(ctx, t)
			if err != nil {
				return nil, err
			}
			if !slices.Contains(officers, who) {
				return nil, problem(403, "R6.Officer", "sign in as an authorised officer designated at onboarding ("+strings.Join(officers, ", ")+"): ck dep purge approve NAME --token-file OFFICER.token",
					"%s is not an authorised officer of tenant %s", who, t.Name)
			}
			if p.State != store.PurgeRequested {
				return nil, problem(409, "R6.State", "nothing to approve: read the request (ck dep purge show "+p.Name+")", "the purge of %s is %s", p.Name, p.State)
			}
			for _, a := range p.Approvals {
				if a.Officer == who {
					return nil, problem(409, "R6.DistinctOfficers", "another authorised officer must approve", "%s already approved the purge of %s", who, p.Name)
				}
			}
			prev := p.State
			p.Approvals = append(p.Approvals, store.PurgeApproval{Officer: who, At: s.cfg.Now().UTC()})
			p.Updated = s.cfg.Now().UTC()
			if len(p.Approvals) >= p.Required {
				p.State = store.PurgeApproved
			}
			if err := s.cfg.Store.UpdatePurge(ctx, p, prev); errors.Is(err, store.ErrConflict) {
				return nil, problem(409, "R6.State", "read the request again (ck dep purge show "+p.Name+")", "the purge of %s changed meanwhile", p.Name)
			} else if err != nil {
				return nil, err
			}
			s.cfg.Logger.Warn("api: purge approved", "tenant", t.ID, "dep", p.DEP, "officer", who, "approvals", len(p.Approvals), "of", p.Required)
			if p.State == store.PurgeApproved {
				if err := s.startPurge(ctx, t, p); err != nil {
					return nil, err
				}
			}
			return &purgeOutput{Body: purgeJSON(p)}, nil
		})
}

// purge finds a purge request by DEP GUID or name (ListPurges is oldest first).
func (s *Server) purge(ctx context.Context, t store.ServiceTenant, idOrName string) (store.Purge, error) {
	ps, err := s.cfg.Store.ListPurges(ctx, t.ID)
	if err != nil {
		return store.Purge{}, err
	}
	// By name, the newest: a purged DEP's name may be used again.
	for i := len(ps) - 1; i >= 0; i-- {
		if p := ps[i]; p.DEP == strings.ToLower(idOrName) || strings.EqualFold(p.Name, idOrName) {
			return p, nil
		}
	}
	return store.Purge{}, problem(404, "R6.Requested", "request the purge first: ck dep set NAME --purge-request --reason R --contact C", "DEP %q has no purge request", idOrName)
}

// officers are the tenant's authorised officers, from every onboarding.
func (s *Server) officers(ctx context.Context, t store.ServiceTenant) ([]string, error) {
	ons, err := s.cfg.Store.Onboarded(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, o := range ons {
		for _, x := range o.Officers {
			if x = strings.ToLower(x); !slices.Contains(out, x) {
				out = append(out, x)
			}
		}
	}
	return out, nil
}

// requestPurge is step 2: the tenant's purge request on a mailbox DEP.
func (s *Server) requestPurge(ctx context.Context, t store.ServiceTenant, d store.DEP, reason, contact string) (store.DEP, error) {
	reason, contact = strings.TrimSpace(reason), strings.TrimSpace(contact)
	if reason == "" || len(reason) > 512 {
		return d, problem(400, "R6.Reason", "give the reason for the purge (-PermanentDataPurgeReason), 1-512 characters", "a purge request needs a reason")
	}
	if contact == "" || len(contact) > 256 {
		return d, problem(400, "R6.Contact", "give who to contact about the purge (-PermanentDataPurgeContact), 1-256 characters", "a purge request needs a contact")
	}
	if s.cfg.Signer == nil {
		return d, problem(503, "R6.Signer", "the operator must give the service a signing key", "the service cannot issue crypto-shred certificates")
	}
	if _, err := s.cfg.Store.Purge(ctx, t.ID, d.ID); err == nil {
		return d, problem(409, "R6.Requested", "follow the request (ck dep purge show "+d.Name+")", "DEP %s already has a purge request", d.Name)
	}
	officers, err := s.officers(ctx, t)
	if err != nil {
		return d, err
	}
	if len(officers) < s.cfg.PurgeApprovals {
		return d, problem(400, "R6.Officers", "designate authorised officers at onboarding (ck onboarding new ... --officer UPN)", "tenant %s has %d authorised officers; a purge needs %d to approve", t.Name, len(officers), s.cfg.PurgeApprovals)
	}
	w, kd, err := s.ringDEP(d)
	if err != nil {
		return d, err
	}
	_, errs := w.Ring.Probe(ctx, kd, keyring.Request{Initiator: keyring.Service, Reason: "purge request check"})
	for i, e := range errs {
		switch kms.ClassOf(e) {
		case kms.Denied:
			continue
		case kms.Transient:
			return d, problem(503, "R6.KeysRevoked", "retry when the vaults answer: the service must see both keys refuse", "customer key %d (%s) could not be asked: %v", i+1, d.KeyURIs[i], e)
		default:
			return d, problem(409, "R6.KeysRevoked", "remove the wrap and unwrap permissions of the Exchange Online workload ("+w.App+") from both keys in the vaults (ck vault access-policy remove VAULT --spn "+w.App+"), then request again",
				"the service can still unwrap the DEP key with customer key %d (%s)", i+1, d.KeyURIs[i])
		}
	}
	w.Ring.Evict(d.ID)
	now := s.cfg.Now().UTC()
	d.Enabled, d.Updated = false, now
	if err := s.cfg.Store.UpdateDEP(ctx, d); err != nil {
		return d, err
	}
	p := store.Purge{Tenant: t.ID, DEP: d.ID, Name: d.Name, Reason: reason, Contact: contact, RequestedBy: caller(ctx).Subject, Requested: now, Required: s.cfg.PurgeApprovals, State: store.PurgeRequested, Updated: now}
	if err := s.cfg.Store.CreatePurge(ctx, p); errors.Is(err, store.ErrConflict) {
		return d, problem(409, "R6.Requested", "follow the request (ck dep purge show "+d.Name+")", "DEP %s already has a purge request", d.Name)
	} else if err != nil {
		return d, err
	}
	s.cfg.Logger.Warn("api: purge requested", "tenant", t.ID, "dep", d.ID, "by", p.RequestedBy, "reason", reason, "contact", contact)
	return d, nil
}

// requirePurgeFree refuses to re-enable or move containers off a DEP with
// a purge request.
func (s *Server) requirePurgeFree(ctx context.Context, t store.ServiceTenant, d store.DEP) error {
	if _, err := s.cfg.Store.Purge(ctx, t.ID, d.ID); err == nil {
		return problem(409, "R6.PurgeRequested", "nothing can be assigned to or moved off a DEP with a permanent data purge request (ck dep purge show "+d.Name+")", "DEP %s has a purge request", d.Name)
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

// startPurge queues the purge job with what it will destroy.
func (s *Server) startPurge(ctx context.Context, t store.ServiceTenant, p store.Purge) error {
	a := purgeArgs{DEP: p.DEP}
	if d, err := s.cfg.Store.DEP(ctx, t.ID, "mailbox", p.DEP); err == nil {
		_, kd, err := s.ringDEP(d)
		if err != nil {
			return err
		}
		a.AvailabilityKeyID = kd.AvailabilityKeyID
		for _, r := range kd.CustomerKeys {
			a.CustomerKeys = append(a.CustomerKeys, r.KeyID)
		}
		ms, err := s.cfg.Store.ListMailboxes(ctx, t.ID)
		if err != nil {
			return err
		}
		for _, m := range ms {
			if m.DEP == d.ID {
				a.Containers = append(a.Containers, m.ID)
			}
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	_, err := s.enqueue(ctx, t, jobPurge, "dep:"+p.DEP, a)
	return err
}

// resumePurges queues the job of every approved purge that has none: the
// process died between recording the last approval and queuing the job.
func (s *Server) resumePurges(ctx context.Context) {
	ts, err := s.cfg.Store.ListServiceTenants(ctx)
	if err != nil {
		s.cfg.Logger.Error("api: resume purges", "err", err)
		return
	}
	for _, t := range ts {
		ps, err := s.cfg.Store.ListPurges(ctx, t.ID)
		if err != nil {
			s.cfg.Logger.Error("api: resume purges", "tenant", t.ID, "err", err)
			continue
		}
		var js []store.Job
		for _, p := range ps {
			if p.State != store.PurgeApproved {
				continue
			}
			if js == nil {
				if js, err = s.cfg.Store.ListJobs(ctx, t.ID, 1000); err != nil {
					s.cfg.Logger.Error("api: resume purges", "tenant", t.ID, "err", err)
					break
				}
			}
			if slices.ContainsFunc(js, func(j store.Job) bool { return j.Kind == jobPurge && j.Target == "dep:"+p.DEP }) {
				continue // it has its job, running, done or failed
			}
			if err := s.startPurge(ctx, t, p); err != nil {
				s.cfg.Logger.Error("api: resume purge", "tenant", t.ID, "dep", p.DEP, "err", err)
				continue
			}
			s.cfg.Logger.Warn("api: queued the missing job of an approved purge", "tenant", t.ID, "dep", p.DEP)
		}
	}
}

// purgeDEP is the purge job (step 4), in the seed's order: the DEP is
// deleted, its mailboxes are deleted with all their items, and the
// availability key is destroyed; then the certificate is issued. Each
// step is idempotent, so the job resumes after a crash.
func (s *Server) purgeDEP(ctx context.Context, x *jobs.Run) error {
	var a purgeArgs
	t, err := s.jobTenant(ctx, x, &a)
	if err != nil {
		return err
	}
	p, err := s.cfg.Store.Purge(ctx, t.ID, a.DEP)
	if err != nil {
		return jobs.Permanent(err)
	}
	if p.State == store.PurgePurged {
		return nil
	}
	if p.State != store.PurgeApproved || len(p.Approvals) < p.Required {
		return jobs.Permanent(errors.New("the purge is not approved"))
	}
	if a.AvailabilityKeyID == "" {
		return jobs.Permanent(errors.New("the DEP was gone before the purge started: nothing to purge"))
	}
	total := len(a.Containers) + 2
	if err := s.cfg.Store.DeleteDEP(ctx, t.ID, a.DEP); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err := x.Progress(ctx, 1, total); err != nil {
		return err
	}
	for i, id := range a.Containers {
		if err := s.cfg.Store.DeleteMailbox(ctx, t.ID, id); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := x.Progress(ctx, 2+i, total); err != nil {
			return err
		}
	}
	w, ok := s.cfg.Workloads["mailbox"]
	if !ok {
		return errors.New("the service has no mailbox workload")
	}
	kd := keyring.DEP{ID: a.DEP, Tenant: t.ID, Kind: keyring.Mailbox, AvailabilityKeyID: a.AvailabilityKeyID}
	if err := w.Ring.DestroyAvailabilityKey(ctx, kd, "purge job "+x.ID, "permanent data purge: "+p.Reason); err != nil && !errors.Is(err, store.ErrConflict) {
		return err
	}
	w.Ring.Evict(a.DEP)
	avk, err := s.cfg.Store.AvailabilityKey(ctx, a.AvailabilityKeyID)
	if err != nil {
		return err
	}
	if avk.Sealed != nil || avk.DestroyedAt == nil {
		return errors.New("the availability key is not destroyed")
	}
	now := s.cfg.Now().UTC()
	c := shred.Certificate{Serial: x.ID, Issuer: "customerkey service", Tenant: t.ID, TenantName: t.Name, DEP: p.DEP, DEPName: p.Name,
		Containers: append([]string{}, a.Containers...), Reason: p.Reason, Contact: p.Contact, RequestedBy: p.RequestedBy, Requested: p.Requested, Completed: now,
		Keys: []shred.Key{{ID: a.AvailabilityKeyID, Kind: "availability-key", State: "destroyed", Time: avk.DestroyedAt}}}
	for _, k := range a.CustomerKeys {
		c.Keys = append(c.Keys, shred.Key{ID: k, Kind: "customer-key", State: "access-removed", Time: &p.Requested, Detail: "the service's unwrap was refused when the purge was requested; the key stays in the tenant's vault"})
	}
	for _, ap := range p.Approvals {
		c.Approvals = append(c.Approvals, shred.Approval{Officer: ap.Officer, At: ap.At})
	}
	cert, err := shred.Sign(c, s.cfg.Signer)
	if err != nil {
		return jobs.Permanent(err)
	}
	prev := p.State
	p.State, p.Certificate, p.Updated = store.PurgePurged, cert, now
	if err := s.cfg.Store.UpdatePurge(ctx, p, prev); err != nil {
		return err
	}
	if err := x.Progress(ctx, total, total); err != nil {
		return err
	}
	s.audit.Append(ctx, audit.Record{Tenant: t.ID, Actor: "service (purge job " + x.ID + ")", Action: "purge", Target: "DEP " + p.DEP,
		KeyID: a.AvailabilityKeyID, Reason: p.Reason, Outcome: "ok: DEP deleted, " + strconv.Itoa(len(a.Containers)) + " mailboxes deleted, availability key destroyed"})
	s.cfg.Logger.Warn("api: DEP purged", "tenant", t.ID, "dep", p.DEP, "mailboxes", len(a.Containers), "availability key", a.AvailabilityKeyID)
	return nil
}
