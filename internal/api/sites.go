package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/customerkey/customerkey/internal/envelope"
	"github.com/customerkey/customerkey/internal/jobs"
	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/tenant"
)

// Sites (SPEC D4, D5, K2, K5): one site DEP (the TIK) per geo, registered
// with a primary and a secondary key; registering wraps every site of the
// geo under the TIK in the background, with progress. Sites live with the
// mailboxes as containers of kind "Site:{geo}"; each file version is its
// own sealed item.

var geoRE = regexp.MustCompile(`^[A-Z]{3}$`)
var siteRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
var versionRE = regexp.MustCompile(`^[0-9a-fA-F]{32}$`)

func siteContainer(name string) string { return "site:" + name }

// SPODEP is Get-SPODataEncryptionPolicy's output for one geo.
type SPODEP struct {
	Geo             string  `json:"geo"`
	State           string  `json:"state" enum:"Unregistered,Registering,Registered,Rolling"`
	PercentComplete float64 `json:"percentComplete"`
	PrimaryKeyURI   string  `json:"primaryKeyURI,omitempty"`
	SecondaryKeyURI string  `json:"secondaryKeyURI,omitempty"`
	DEPID           string  `json:"dataEncryptionPolicyID,omitempty"`
	Sites           int     `json:"sites" doc:"Sites of the geo to wrap"`
	Done            int     `json:"done" doc:"Sites wrapped under the geo's key"`
}

func (s *Server) spoDEP(ctx context.Context, t store.ServiceTenant, geo string) (SPODEP, error) {
	r, err := s.cfg.Store.SiteRegistration(ctx, t.ID, geo)
	if errors.Is(err, store.ErrNotFound) {
		return SPODEP{Geo: geo, State: "Unregistered"}, nil
	}
	if err != nil {
		return SPODEP{}, err
	}
	out := SPODEP{Geo: r.Geo, State: r.State, DEPID: r.DEP, Sites: r.Total, Done: r.Done, PercentComplete: 100}
	if r.Total > 0 {
		out.PercentComplete = float64(r.Done) * 100 / float64(r.Total)
	}
	if d, err := s.cfg.Store.DEP(ctx, t.ID, "site", r.DEP); err == nil {
		out.PrimaryKeyURI, out.SecondaryKeyURI = d.KeyURIs[0], d.KeyURIs[1]
	}
	return out, nil
}

func (s *Server) siteRoutes() {
	writers := []string{tenant.RoleGlobalAdmin, tenant.RoleSharePointAdmin}
	register(s, huma.Operation{OperationID: "register-spodataencryptionpolicy", Method: http.MethodPost, Path: "/v1/tenants/{tenant}/spoDataEncryptionPolicies",
		Summary: "Register-SPODataEncryptionPolicy: a geo's TIK on a primary and a secondary key; wraps the geo's sites in the background", Tags: []string{"site DEPs"},
		Security: bearerAuth, DefaultStatus: http.StatusAccepted},
		func(ctx context.Context, in *struct {
			Tenant string `path:"tenant"`
			Body   struct {
				Geo              string `json:"geo" doc:"Three letters, e.g. NAM"`
				PrimaryVault     string `json:"primaryVaultName"`
				PrimaryKey       string `json:"primaryKeyName"`
				PrimaryVersion   string `json:"primaryKeyVersion"`
				SecondaryVault   string `json:"secondaryVaultName"`
				SecondaryKey     string `json:"secondaryKeyName"`
				SecondaryVersion string `json:"secondaryKeyVersion"`
			}
		}) (*struct{ Body SPODEP }, error) {
			t, err := s.tenantRole(ctx, in.Tenant, writers...)
			if err != nil {
				return nil, err
			}
			if err := s.requireOnboarded(ctx, t, "SPO"); err != nil {
				return nil, err
			}
			geo := strings.ToUpper(in.Body.Geo)
			if !geoRE.MatchString(geo) {
				return nil, problem(400, "D4.Geo", "name the geo with three letters, e.g. NAM or EUR", "geo %q is invalid", in.Body.Geo)
			}
			if _, err := s.cfg.Store.SiteRegistration(ctx, t.ID, geo); err == nil {
				return nil, problem(409, "D4.OnePerGeo", "a geo has one site DEP; change its keys with Update-SPODataEncryptionPolicy", "geo %s already has a site DEP", geo)
			}
			var uris []string
			for _, k := range [][3]string{{in.Body.PrimaryVault, in.Body.PrimaryKey, in.Body.PrimaryVersion}, {in.Body.SecondaryVault, in.Body.SecondaryKey, in.Body.SecondaryVersion}} {
				uri, err := s.siteKeyURI(ctx, k[0], k[1], k[2])
				if err != nil {
					return nil, err
				}
				uris = append(uris, uri)
			}
			d, err := s.newDEP(ctx, t, "site", keyring.Site, "SPO-"+geo, "site DEP of geo "+geo, uris, maxSiteDEPs)
			if err != nil {
				return nil, err
			}
			if _, err := s.startSiteWork(ctx, t, siteArgs{Geo: geo, DEP: d.ID, State: "Registering", By: tenant.Caller(ctx).Subject}); err != nil {
				return nil, err
			}
			out, err := s.spoDEP(ctx, t, geo)
			return &struct{ Body SPODEP }{Body: out}, err
		})

	register(s, huma.Operation{OperationID: "update-spodataencryptionpolicy", Method: http.MethodPatch, Path: "/v1/tenants/{tenant}/spoDataEncryptionPolicies/{geo}",
		Summary: "Update-SPODataEncryptionPolicy: roll the geo's primary or secondary key to a new vault, key or version; the geo is Rolling while every site is re-wrapped in the background",
		Tags:    []string{"site DEPs"}, Security: bearerAuth, DefaultStatus: http.StatusAccepted},
		func(ctx context.Context, in *struct {
			Tenant string `path:"tenant"`
			Geo    string `path:"geo"`
			Body   struct {
				KeyType                     string `json:"keyType,omitempty" enum:"Primary,Secondary" doc:"Which of the geo's two keys to replace"`
				VaultName                   string `json:"vaultName,omitempty"`
				KeyName                     string `json:"keyName,omitempty"`
				KeyVersion                  string `json:"keyVersion,omitempty"`
				PermanentDataPurgeRequested bool   `json:"permanentDataPurgeRequested,omitempty" doc:"Not supported for sites (R6): always refused"`
			}
		}) (*struct{ Body SPODEP }, error) {
			t, err := s.tenantRole(ctx, in.Tenant, writers...)
			if err != nil {
				return nil, err
			}
			if in.Body.PermanentDataPurgeRequested {
				return nil, problem(400, "R6.NotForSites", "to leave the service altogether, delete the tenant (Microsoft Entra ID tenant deletion)",
					"purging of SharePoint and OneDrive DEPs isn't supported: the data purge path exists only for mailbox DEPs")
			}
			geo := strings.ToUpper(in.Geo)
			reg, err := s.cfg.Store.SiteRegistration(ctx, t.ID, geo)
			if errors.Is(err, store.ErrNotFound) {
				return nil, problem(404, "D4.Registered", "register the geo first (ck spo dep register --geo "+geo+" ...)", "geo %s has no site DEP", geo)
			} else if err != nil {
				return nil, err
			}
			if reg.State != "Registered" {
				return nil, problem(409, "R2.OneRollPerGeo", "wait until the geo is Registered (ck spo dep show --geo "+geo+" --wait), then roll", "geo %s is %s: one registration or roll per geo at a time", geo, reg.State)
			}
			i := map[string]int{"Primary": 0, "Secondary": 1}[in.Body.KeyType]
			if in.Body.KeyType == "" {
				return nil, problem(400, "R1.KeyType", "say which key to roll: --key-type Primary or Secondary", "no key type given")
			}
			uri, err := s.siteKeyURI(ctx, in.Body.VaultName, in.Body.KeyName, in.Body.KeyVersion)
			if err != nil {
				return nil, err
			}
			old, err := s.cfg.Store.DEP(ctx, t.ID, "site", reg.DEP)
			if err != nil {
				return nil, err
			}
			uris := []string{old.KeyURIs[0], old.KeyURIs[1]}
			if strings.EqualFold(uris[i], uri) {
				return nil, problem(400, "R1.NewKey", "give a new key version (ck vault key rotate VAULT KEY, then ck vault key show) or another key", "the %s key is already %s", strings.ToLower(in.Body.KeyType), uri)
			}
			uris[i] = uri
			d, err := s.newDEP(ctx, t, "site", keyring.Site, nextSiteDEPName(geo), "site DEP of geo "+geo+" (rolled "+in.Body.KeyType+")", uris, maxSiteDEPs)
			if err != nil {
				return nil, err
			}
			if _, err := s.startSiteWork(ctx, t, siteArgs{Geo: geo, DEP: d.ID, State: "Rolling", By: tenant.Caller(ctx).Subject}); err != nil {
				return nil, err
			}
			out, err := s.spoDEP(ctx, t, geo)
			return &struct{ Body SPODEP }{Body: out}, err
		})

	register(s, huma.Operation{OperationID: "recover-spodataencryptionpolicy", Method: http.MethodPost, Path: "/v1/tenants/{tenant}/spoDataEncryptionPolicies/{geo}/recover",
		Summary: "Key-loss recovery of a geo (operator, on the tenant's request): both keys of the geo's site DEP are lost; every site moves to a new site DEP on new keys, through the availability key",
		Tags:    []string{"site DEPs"}, Security: bearerAuth, DefaultStatus: http.StatusAccepted},
		func(ctx context.Context, in *struct {
			Tenant string `path:"tenant"`
			Geo    string `path:"geo"`
			Body   struct {
				PrimaryKeyURI   string `json:"primaryKeyURI" doc:"The new primary key, with its version"`
				SecondaryKeyURI string `json:"secondaryKeyURI" doc:"The new secondary key, with its version"`
				Reason          string `json:"reason" doc:"The tenant's request: ticket and who asked (recorded in the tenant's audit log)"`
			}
		}) (*jobOutput, error) {
			t, reason, err := s.operatorRequest(ctx, in.Tenant, in.Body.Reason)
			if err != nil {
				return nil, err
			}
			geo := strings.ToUpper(in.Geo)
			reg, err := s.cfg.Store.SiteRegistration(ctx, t.ID, geo)
			if err != nil {
				return nil, problem(404, "D4.Registered", "check the geo (ck spo dep show)", "geo %s has no site DEP", geo)
			}
			if reg.State != "Registered" {
				return nil, problem(409, "R2.OneRollPerGeo", "wait until the geo is Registered", "geo %s is %s", geo, reg.State)
			}
			lost, err := s.cfg.Store.DEP(ctx, t.ID, "site", reg.DEP)
			if err != nil {
				return nil, err
			}
			if err := s.requireLost(ctx, lost, reason); err != nil {
				return nil, err
			}
			d, err := s.newDEP(ctx, t, "site", keyring.Site, nextSiteDEPName(geo), "site DEP of geo "+geo+" (key-loss recovery)", []string{in.Body.PrimaryKeyURI, in.Body.SecondaryKeyURI}, maxSiteDEPs)
			if err != nil {
				return nil, err
			}
			j, err := s.startSiteWork(ctx, t, siteArgs{Geo: geo, DEP: d.ID, State: "Rolling", By: "the operator", Recover: reason})
			if err != nil {
				return nil, err
			}
			return &jobOutput{Body: jobJSON(j)}, nil
		})

	register(s, huma.Operation{OperationID: "get-spodataencryptionpolicy", Method: http.MethodGet, Path: "/v1/tenants/{tenant}/spoDataEncryptionPolicies",
		Summary: "Get-SPODataEncryptionPolicy: each geo's key URIs, state and % of sites done", Tags: []string{"site DEPs"}, Security: bearerAuth},
		func(ctx context.Context, in *struct {
			Tenant string `path:"tenant"`
			Geo    string `query:"geo" doc:"One geo; all registered geos if empty"`
		}) (*struct {
			Body struct {
				Value []SPODEP `json:"value"`
			}
		}, error) {
			t, err := s.tenantRole(ctx, in.Tenant, tenant.Roles...)
			if err != nil {
				return nil, err
			}
			out := &struct {
				Body struct {
					Value []SPODEP `json:"value"`
				}
			}{}
			out.Body.Value = []SPODEP{}
			geos := []string{strings.ToUpper(in.Geo)}
			if in.Geo == "" {
				rs, err := s.cfg.Store.ListSiteRegistrations(ctx, t.ID)
				if err != nil {
					return nil, err
				}
				geos = nil
				for _, r := range rs {
					geos = append(geos, r.Geo)
				}
			}
			for _, g := range geos {
				x, err := s.spoDEP(ctx, t, g)
				if err != nil {
					return nil, err
				}
				out.Body.Value = append(out.Body.Value, x)
			}
			return out, nil
		})

	register(s, huma.Operation{OperationID: "new-site", Method: http.MethodPost, Path: "/v1/tenants/{tenant}/sites",
		Summary: "Create a site in a geo (under the geo's TIK when registered, else service-managed keys)", Tags: []string{"sites"}, Security: bearerAuth, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *struct {
			Tenant string `path:"tenant"`
			Body   struct {
				Name string `json:"name" doc:"Lower-case letters, digits, -"`
				Geo  string `json:"geo"`
			}
		}) (*struct{ Body SiteInfo }, error) {
			t, err := s.tenantRole(ctx, in.Tenant, writers...)
			if err != nil {
				return nil, err
			}
			geo := strings.ToUpper(in.Body.Geo)
			if !siteRE.MatchString(in.Body.Name) || !geoRE.MatchString(geo) {
				return nil, problem(400, "Site.Name", "name the site with lower-case letters, digits and -, and give a three-letter geo", "site %q in geo %q is invalid", in.Body.Name, in.Body.Geo)
			}
			d, err := s.serviceDEP(ctx, t)
			if err != nil {
				return nil, err
			}
			if r, err := s.cfg.Store.SiteRegistration(ctx, t.ID, geo); err == nil {
				if d, err = s.cfg.Store.DEP(ctx, t.ID, "site", r.DEP); err != nil {
					return nil, err
				}
			}
			id := siteContainer(in.Body.Name)
			depKey, err := s.depKey(ctx, d, keyring.Request{Initiator: keyring.Service, Reason: "new site " + in.Body.Name})
			if err != nil {
				return nil, err
			}
			ck := envelope.NewKey()
			defer ck.Destroy()
			rec, err := envelope.WrapContainerKey(depKey, envelope.Container{Tenant: t.ID, DEP: d.ID, ID: id}, ck)
			if err != nil {
				return nil, err
			}
			now := s.cfg.Now().UTC()
			m := store.Mailbox{Tenant: t.ID, ID: id, Kind: "Site:" + geo, DEP: d.ID, ContainerKey: rec.Marshal(), KeyVersion: 1, Created: now, Updated: now}
			if err := s.cfg.Store.CreateMailbox(ctx, m); errors.Is(err, store.ErrConflict) {
				return nil, problem(409, "Site.Unique", "choose another name", "site %s exists", in.Body.Name)
			} else if err != nil {
				return nil, err
			}
			// A roll of the geo that started meanwhile may already be past
			// this site: move it to the geo's current DEP with the key in
			// hand (its old DEP may be retired as soon as no site uses it).
			if r, err := s.cfg.Store.SiteRegistration(ctx, t.ID, geo); err == nil && r.DEP != d.ID {
				to, err := s.cfg.Store.DEP(ctx, t.ID, "site", r.DEP)
				if err != nil {
					return nil, err
				}
				newKey, err := s.depKey(ctx, to, keyring.Request{Initiator: keyring.Service, Reason: "new site " + in.Body.Name + " during a roll"})
				if err != nil {
					return nil, err
				}
				nrec, err := envelope.WrapContainerKey(newKey, envelope.Container{Tenant: t.ID, DEP: to.ID, ID: id}, ck)
				if err != nil {
					return nil, err
				}
				prev := m.DEP
				m.DEP, m.ContainerKey = to.ID, nrec.Marshal()
				if err := s.cfg.Store.UpdateMailbox(ctx, m, prev); err != nil && !errors.Is(err, store.ErrConflict) {
					return nil, err
				}
				d = to
			}
			return &struct{ Body SiteInfo }{Body: siteInfo(m, d)}, nil
		})

	type filePath struct {
		Tenant string `path:"tenant"`
		Site   string `path:"site"`
		File   string `path:"file"`
	}
	openSite := func(ctx context.Context, tenantName, site, why string) (store.ServiceTenant, store.Mailbox, *envelope.Key, error) {
		t, err := s.tenantRole(ctx, tenantName, writers...)
		if err != nil {
			return t, store.Mailbox{}, nil, err
		}
		m, err := s.cfg.Store.Mailbox(ctx, t.ID, siteContainer(site))
		if errors.Is(err, store.ErrNotFound) || err == nil && !strings.HasPrefix(m.Kind, "Site:") {
			return t, m, nil, problem(404, "Site.Exists", "check the site name", "tenant %s has no site %q", t.Name, site)
		} else if err != nil {
			return t, m, nil, err
		}
		ck, err := s.containerKey(ctx, t, m, keyring.Request{Initiator: keyring.User, Reason: why + " in site " + site + " by " + tenant.Caller(ctx).Subject})
		return t, m, ck, err
	}
	register(s, huma.Operation{OperationID: "put-file", Method: http.MethodPut, Path: "/v1/tenants/{tenant}/sites/{site}/files/{file}",
		Summary: "Write a new version of a file", Tags: []string{"site data"}, Security: bearerAuth, MaxBodyBytes: 16 << 20},
		func(ctx context.Context, in *struct {
			Tenant  string `path:"tenant"`
			Site    string `path:"site"`
			File    string `path:"file"`
			RawBody []byte `contentType:"application/octet-stream"`
		}) (*struct{ Body ItemInfo }, error) {
			t, m, ck, err := openSite(ctx, in.Tenant, in.Site, "write file")
			if err != nil {
				return nil, err
			}
			if !itemIDRE.MatchString(in.File) || strings.Contains(in.File, "@") {
				return nil, problem(400, "File.Name", "use 1-128 letters, digits, '.', '_' or '-'", "file name %q is invalid", in.File)
			}
			versions, err := s.fileVersions(ctx, t, m, in.File)
			if err != nil {
				return nil, err
			}
			version := uint32(len(versions) + 1)
			id := fmt.Sprintf("%s@%06d", in.File, version)
			sealed, err := envelope.Seal(ck, containerKeyID(m), envelope.Item{Tenant: t.ID, Container: m.ID, ID: id, Version: version}, in.RawBody)
			if err != nil {
				return nil, err
			}
			it := store.Item{Tenant: t.ID, Mailbox: m.ID, ID: id, Kind: "file", Version: version, Sealed: sealed, Created: s.cfg.Now().UTC()}
			if err := s.cfg.Store.PutItem(ctx, it); err != nil {
				return nil, err
			}
			info := itemInfo(it)
			info.ID = in.File
			return &struct{ Body ItemInfo }{Body: info}, nil
		})
	register(s, huma.Operation{OperationID: "get-file", Method: http.MethodGet, Path: "/v1/tenants/{tenant}/sites/{site}/files/{file}",
		Summary: "Read a file: the latest version, or ?version=N", Tags: []string{"site data"}, Security: bearerAuth},
		func(ctx context.Context, in *struct {
			Tenant  string `path:"tenant"`
			Site    string `path:"site"`
			File    string `path:"file"`
			Version int    `query:"version" doc:"A version number; 0 for the latest"`
		}) (*contentOutput, error) {
			t, m, ck, err := openSite(ctx, in.Tenant, in.Site, "read file")
			if err != nil {
				return nil, err
			}
			versions, err := s.fileVersions(ctx, t, m, in.File)
			if err != nil {
				return nil, err
			}
			if len(versions) == 0 || in.Version < 0 || in.Version > len(versions) {
				return nil, problem(404, "File.Exists", "list the site's files (ck site file list SITE)", "site %s has no file %q version %d", in.Site, in.File, in.Version)
			}
			it := versions[len(versions)-1]
			if in.Version > 0 {
				it = versions[in.Version-1]
			}
			content, err := s.openSealed(ck, t, m, it)
			if err != nil {
				return nil, err
			}
			return opened(content), nil
		})
	register(s, huma.Operation{OperationID: "list-files", Method: http.MethodGet, Path: "/v1/tenants/{tenant}/sites/{site}/files",
		Summary: "List a site's files with their versions (no content)", Tags: []string{"site data"}, Security: bearerAuth},
		func(ctx context.Context, in *struct {
			Tenant string `path:"tenant"`
			Site   string `path:"site"`
		}) (*itemsOutput, error) {
			t, err := s.tenantRole(ctx, in.Tenant, writers...)
			if err != nil {
				return nil, err
			}
			items, err := s.cfg.Store.ListItemHeads(ctx, t.ID, siteContainer(in.Site))
			if err != nil {
				return nil, err
			}
			out := &itemsOutput{}
			out.Body.Value = []ItemInfo{}
			for _, it := range items {
				info := itemInfo(it)
				info.ID, _, _ = strings.Cut(it.ID, "@")
				out.Body.Value = append(out.Body.Value, info)
			}
			return out, nil
		})
	register(s, huma.Operation{OperationID: "delete-file", Method: http.MethodDelete, Path: "/v1/tenants/{tenant}/sites/{site}/files/{file}",
		Summary: "Delete a file with all its versions", Tags: []string{"site data"}, Security: bearerAuth, DefaultStatus: http.StatusNoContent},
		func(ctx context.Context, in *filePath) (*struct{}, error) {
			t, err := s.tenantRole(ctx, in.Tenant, writers...)
			if err != nil {
				return nil, err
			}
			m := store.Mailbox{Tenant: t.ID, ID: siteContainer(in.Site)}
			versions, err := s.fileVersions(ctx, t, m, in.File)
			if err != nil {
				return nil, err
			}
			if len(versions) == 0 {
				return nil, problem(404, "File.Exists", "list the site's files (ck site file list SITE)", "site %s has no file %q", in.Site, in.File)
			}
			for _, it := range versions {
				if err := s.cfg.Store.DeleteItem(ctx, t.ID, m.ID, it.ID); err != nil {
					return nil, err
				}
			}
			return &struct{}{}, nil
		})
}

// fileVersions are a file's stored versions, oldest first.
func (s *Server) fileVersions(ctx context.Context, t store.ServiceTenant, m store.Mailbox, file string) ([]store.Item, error) {
	items, err := s.cfg.Store.ListItems(ctx, t.ID, m.ID)
	if err != nil {
		return nil, err
	}
	var out []store.Item
	for _, it := range items {
		if name, _, _ := strings.Cut(it.ID, "@"); name == file {
			out = append(out, it)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// SiteInfo describes a site.
type SiteInfo struct {
	Name  string `json:"name"`
	Geo   string `json:"geo"`
	DEPID string `json:"dataEncryptionPolicyID"`
	Kind  string `json:"keys" enum:"customer,service-managed"`
}

func siteInfo(m store.Mailbox, d store.DEP) SiteInfo {
	kind := "service-managed"
	if d.Kind == "site" {
		kind = "customer"
	}
	return SiteInfo{Name: strings.TrimPrefix(m.ID, "site:"), Geo: strings.TrimPrefix(m.Kind, "Site:"), DEPID: d.ID, Kind: kind}
}

// siteKeyURI is the URI of a site DEP's key given as vault, key and
// version (as Register- and Update-SPODataEncryptionPolicy take them).
func (s *Server) siteKeyURI(ctx context.Context, vault, key, version string) (string, error) {
	if s.cfg.Azure == nil {
		return "", problem(503, "Service.Workload", "the operator must configure the service's key vaults", "the service cannot look up vaults")
	}
	if !versionRE.MatchString(version) {
		return "", problem(400, "D4.KeyVersion", "give each key's version (32 hex characters): ck vault key show VAULT KEY", "key version %q is invalid", version)
	}
	v, err := s.cfg.Azure.Vault(ctx, vault)
	if err != nil {
		return "", problem(400, "D4.Vault", "check the vault name (ck vault list)", "vault %q not found", vault)
	}
	return v.URI + "/keys/" + key + "/" + strings.ToLower(version), nil
}

// siteArgs are a rewrap-sites job's arguments.
type siteArgs struct {
	Geo   string
	DEP   string // the geo's new site DEP
	State string // Registering or Rolling
	By    string
	// Recover, if set, is the operator's reason for key-loss recovery:
	// the sites' current DEP keys come from the availability key.
	Recover string `json:",omitempty"`
}

// startSiteWork points a geo at a new site DEP (registration, roll or
// recovery): it queues the job that moves every site of the geo to it,
// then records the geo's state. The job records it too, so a process
// that dies between the two writes leaves nothing half done.
func (s *Server) startSiteWork(ctx context.Context, t store.ServiceTenant, a siteArgs) (store.Job, error) {
	// The geo shows Registered a moment before its job is marked done:
	// give that job a moment rather than refuse.
	j, err := s.enqueue(ctx, t, jobSites, "geo:"+a.Geo, a)
	for deadline := time.Now().Add(2 * time.Second); isStatus(err, 409) && time.Now().Before(deadline); {
		select {
		case <-ctx.Done():
			return j, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		j, err = s.enqueue(ctx, t, jobSites, "geo:"+a.Geo, a)
	}
	if err != nil {
		return j, err
	}
	now := s.cfg.Now().UTC()
	return j, s.cfg.Store.PutSiteRegistration(ctx, store.SiteRegistration{Tenant: t.ID, Geo: a.Geo, DEP: a.DEP, State: a.State, Started: now, Updated: now})
}

// rewrapSites is the rewrap-sites job: it wraps every site of a geo under
// the geo's current site DEP (only the site keys are re-wrapped, K7),
// recording progress; sites stay readable throughout, each on the DEP
// that wraps its key. Done, the geo is Registered and the geo's older
// site DEPs, now unused, are disabled.
func (s *Server) rewrapSites(ctx context.Context, x *jobs.Run) error {
	var a siteArgs
	t, err := s.jobTenant(ctx, x, &a)
	if err != nil {
		return err
	}
	reg, err := s.cfg.Store.SiteRegistration(ctx, t.ID, a.Geo)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if reg.DEP != a.DEP { // the process died before startSiteWork recorded it
		now := s.cfg.Now().UTC()
		reg = store.SiteRegistration{Tenant: t.ID, Geo: a.Geo, DEP: a.DEP, State: a.State, Started: now, Updated: now}
	}
	to, err := s.cfg.Store.DEP(ctx, t.ID, "site", reg.DEP)
	if err != nil {
		return jobs.Permanent(err)
	}
	ms, err := s.cfg.Store.ListMailboxes(ctx, t.ID)
	if err != nil {
		return err
	}
	var todo []store.Mailbox
	total := 0
	for _, m := range ms {
		if m.Kind == "Site:"+reg.Geo {
			total++
			if m.DEP != to.ID {
				todo = append(todo, m)
			}
		}
	}
	progress := func(done int) error {
		reg.Total, reg.Done, reg.Updated = total, done, s.cfg.Now().UTC()
		if err := s.cfg.Store.PutSiteRegistration(ctx, reg); err != nil {
			return err
		}
		return x.Progress(ctx, done, total)
	}
	done := total - len(todo)
	if err := progress(done); err != nil {
		return err
	}
	req := keyring.Request{Initiator: keyring.Service, Reason: strings.ToLower(reg.State) + " geo " + reg.Geo + " for " + a.By}
	newKey, err := s.depKey(ctx, to, req)
	if err != nil {
		return err
	}
	oldKeys := map[string]*envelope.Key{}
	defer func() {
		if a.Recover != "" { // recovery keys are the job's own; cached keys are shared
			for _, k := range oldKeys {
				k.Destroy()
			}
		}
	}()
	for _, m := range todo {
		from, err := s.depByID(ctx, t, m.DEP)
		if err != nil {
			return err
		}
		oldKey := oldKeys[from.ID]
		if oldKey == nil {
			if oldKey, err = s.oldDEPKey(ctx, from, req, a.Recover); err != nil {
				return err
			}
			oldKeys[from.ID] = oldKey
		}
		if err := s.moveMailbox(ctx, t, m, from, oldKey, to, newKey); err != nil && !isStatus(err, 409) {
			return err // 409: moved meanwhile, by an earlier run of this job
		}
		done++
		if err := progress(done); err != nil {
			return err
		}
	}
	// Retire first: while the geo is not Registered no new roll can start,
	// so no new site DEP is being made that retiring could take.
	if err := s.retireSiteDEPs(ctx, t, reg.Geo, to); err != nil {
		return err
	}
	reg.State, reg.Updated = "Registered", s.cfg.Now().UTC()
	if err := s.cfg.Store.PutSiteRegistration(ctx, reg); err != nil {
		return err
	}
	s.cfg.Logger.Info("api: geo wrapped under its site DEP", "tenant", t.ID, "geo", reg.Geo, "dep", to.ID, "sites", total, "moved", len(todo))
	return nil
}

// maxSiteDEPs bounds a tenant's site DEPs: one per geo, plus those of
// rolls in progress (retired site DEPs are deleted).
const maxSiteDEPs = 100

// nextSiteDEPName names a geo's next site DEP (after a roll or recovery).
func nextSiteDEPName(geo string) string { return "SPO-" + geo + "-" + uuid.NewString()[:8] }

// retireSiteDEPs deletes the geo's site DEPs other than current that no
// site uses any more (after a roll or recovery, and any left by a request
// that died before its job was queued), destroying their availability
// keys: nothing is wrapped under their TIKs.
func (s *Server) retireSiteDEPs(ctx context.Context, t store.ServiceTenant, geo string, current store.DEP) error {
	ds, err := s.cfg.Store.ListDEPs(ctx, t.ID, "site")
	if err != nil {
		return err
	}
	ms, err := s.cfg.Store.ListMailboxes(ctx, t.ID)
	if err != nil {
		return err
	}
	used := map[string]bool{}
	for _, m := range ms {
		used[m.DEP] = true
	}
	for _, d := range ds {
		// Only DEPs older than the current one: a newer one may be a roll
		// being started.
		if d.ID == current.ID || used[d.ID] || d.Created.After(current.Created) || (d.Name != "SPO-"+geo && !strings.HasPrefix(d.Name, "SPO-"+geo+"-")) {
			continue
		}
		w, kd, err := s.ringDEP(d)
		if err != nil {
			return err
		}
		if err := w.Ring.DestroyAvailabilityKey(ctx, kd, "service", "site DEP "+d.Name+" retired: every site of geo "+geo+" is on "+current.Name); err != nil && !errors.Is(err, store.ErrConflict) {
			return err
		}
		if err := s.cfg.Store.DeleteDEP(ctx, t.ID, d.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return nil
}

// oldDEPKey is the key of a DEP that containers are moved off: through
// the keyring, or in a key-loss recovery (reason set) through the
// availability key alone (then the caller destroys it).
func (s *Server) oldDEPKey(ctx context.Context, d store.DEP, req keyring.Request, recoverReason string) (*envelope.Key, error) {
	if recoverReason == "" || d.Kind == "service" {
		if recoverReason != "" {
			return nil, jobs.Permanent(fmt.Errorf("DEP %s is service-managed: nothing to recover", d.Name))
		}
		return s.depKey(ctx, d, req)
	}
	w, kd, err := s.ringDEP(d)
	if err != nil {
		return nil, err
	}
	req.Reason = "key-loss recovery of DEP " + d.Name + " by the operator: " + recoverReason
	key, err := w.Ring.RecoveryKey(ctx, kd, req)
	if errors.Is(err, keyring.ErrAvailabilityKeyDestroyed) {
		return nil, jobs.Permanent(err)
	}
	return key, err
}

// isStatus reports whether err is a problem with the given HTTP status.
func isStatus(err error, status int) bool {
	var p *Problem
	return errors.As(err, &p) && p.Status == status
}
