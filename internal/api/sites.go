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

	"github.com/customerkey/customerkey/internal/envelope"
	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/store"
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
	writers := []string{RoleGlobalAdmin, RoleSharePointAdmin}
	huma.Register(s.api, huma.Operation{OperationID: "register-spodataencryptionpolicy", Method: http.MethodPost, Path: "/v1/tenants/{tenant}/spoDataEncryptionPolicies",
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
			if s.cfg.Azure == nil {
				return nil, problem(503, "Service.Workload", "the operator must configure the service's key vaults", "the service cannot look up vaults")
			}
			var uris []string
			for _, k := range [][3]string{{in.Body.PrimaryVault, in.Body.PrimaryKey, in.Body.PrimaryVersion}, {in.Body.SecondaryVault, in.Body.SecondaryKey, in.Body.SecondaryVersion}} {
				if !versionRE.MatchString(k[2]) {
					return nil, problem(400, "D4.KeyVersion", "give each key's version (32 hex characters): ck vault key show VAULT KEY", "key version %q is invalid", k[2])
				}
				v, err := s.cfg.Azure.Vault(ctx, k[0])
				if err != nil {
					return nil, problem(400, "D4.Vault", "check the vault name (ck vault list)", "vault %q not found", k[0])
				}
				uris = append(uris, v.URI+"/keys/"+k[1]+"/"+strings.ToLower(k[2]))
			}
			d, err := s.newDEP(ctx, t, "site", keyring.Site, "SPO-"+geo, "site DEP of geo "+geo, uris, 100)
			if err != nil {
				return nil, err
			}
			now := s.cfg.Now().UTC()
			reg := store.SiteRegistration{Tenant: t.ID, Geo: geo, DEP: d.ID, State: "Registering", Started: now, Updated: now}
			if err := s.cfg.Store.PutSiteRegistration(ctx, reg); err != nil {
				return nil, err
			}
			go s.registerSites(t, reg, caller(ctx).Subject)
			out, err := s.spoDEP(ctx, t, geo)
			return &struct{ Body SPODEP }{Body: out}, err
		})

	huma.Register(s.api, huma.Operation{OperationID: "get-spodataencryptionpolicy", Method: http.MethodGet, Path: "/v1/tenants/{tenant}/spoDataEncryptionPolicies",
		Summary: "Get-SPODataEncryptionPolicy: each geo's key URIs, state and % of sites done", Tags: []string{"site DEPs"}, Security: bearerAuth},
		func(ctx context.Context, in *struct {
			Tenant string `path:"tenant"`
			Geo    string `query:"geo" doc:"One geo; all registered geos if empty"`
		}) (*struct {
			Body struct {
				Value []SPODEP `json:"value"`
			}
		}, error) {
			t, err := s.tenantRole(ctx, in.Tenant, tenantRoles...)
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

	huma.Register(s.api, huma.Operation{OperationID: "new-site", Method: http.MethodPost, Path: "/v1/tenants/{tenant}/sites",
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
			rec, err := envelope.WrapContainerKey(depKey, envelope.Container{Tenant: t.ID, DEP: d.ID, ID: id}, envelope.NewKey())
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
			return &struct{ Body SiteInfo }{Body: siteInfo(m, d)}, nil
		})

	type filePath struct {
		Tenant string `path:"tenant"`
		Site   string `path:"site"`
		File   string `path:"file"`
	}
	openSite := func(ctx context.Context, tenant, site, why string) (store.ServiceTenant, store.Mailbox, *envelope.Key, error) {
		t, err := s.tenantRole(ctx, tenant, writers...)
		if err != nil {
			return t, store.Mailbox{}, nil, err
		}
		m, err := s.cfg.Store.Mailbox(ctx, t.ID, siteContainer(site))
		if errors.Is(err, store.ErrNotFound) || err == nil && !strings.HasPrefix(m.Kind, "Site:") {
			return t, m, nil, problem(404, "Site.Exists", "check the site name", "tenant %s has no site %q", t.Name, site)
		} else if err != nil {
			return t, m, nil, err
		}
		ck, err := s.containerKey(ctx, t, m, keyring.Request{Initiator: keyring.User, Reason: why + " in site " + site + " by " + caller(ctx).Subject})
		return t, m, ck, err
	}
	huma.Register(s.api, huma.Operation{OperationID: "put-file", Method: http.MethodPut, Path: "/v1/tenants/{tenant}/sites/{site}/files/{file}",
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
	huma.Register(s.api, huma.Operation{OperationID: "get-file", Method: http.MethodGet, Path: "/v1/tenants/{tenant}/sites/{site}/files/{file}",
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
	huma.Register(s.api, huma.Operation{OperationID: "list-files", Method: http.MethodGet, Path: "/v1/tenants/{tenant}/sites/{site}/files",
		Summary: "List a site's files with their versions (no content)", Tags: []string{"site data"}, Security: bearerAuth},
		func(ctx context.Context, in *struct {
			Tenant string `path:"tenant"`
			Site   string `path:"site"`
		}) (*itemsOutput, error) {
			t, err := s.tenantRole(ctx, in.Tenant, writers...)
			if err != nil {
				return nil, err
			}
			items, err := s.cfg.Store.ListItems(ctx, t.ID, siteContainer(in.Site))
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
	huma.Register(s.api, huma.Operation{OperationID: "delete-file", Method: http.MethodDelete, Path: "/v1/tenants/{tenant}/sites/{site}/files/{file}",
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

// registerSites wraps every site of a geo under its TIK (only the site
// keys are re-wrapped), recording progress; sites stay readable throughout.
func (s *Server) registerSites(t store.ServiceTenant, reg store.SiteRegistration, by string) {
	ctx := context.Background()
	fail := func(err error) {
		s.cfg.Logger.Error("api: site registration stopped", "tenant", t.ID, "geo", reg.Geo, "done", reg.Done, "of", reg.Total, "err", err)
	}
	to, err := s.cfg.Store.DEP(ctx, t.ID, "site", reg.DEP)
	if err != nil {
		fail(err)
		return
	}
	ms, err := s.cfg.Store.ListMailboxes(ctx, t.ID)
	if err != nil {
		fail(err)
		return
	}
	var sites []store.Mailbox
	for _, m := range ms {
		if m.Kind == "Site:"+reg.Geo && m.DEP != reg.DEP {
			sites = append(sites, m)
		}
	}
	reg.Total = len(sites)
	for i, m := range sites {
		if err := s.rewrapAs(ctx, t, m, to, by); err != nil {
			fail(err)
			return
		}
		reg.Done, reg.Updated = i+1, s.cfg.Now().UTC()
		if err := s.cfg.Store.PutSiteRegistration(ctx, reg); err != nil {
			fail(err)
			return
		}
	}
	reg.State, reg.Updated = "Registered", s.cfg.Now().UTC()
	if err := s.cfg.Store.PutSiteRegistration(ctx, reg); err != nil {
		fail(err)
		return
	}
	s.cfg.Logger.Info("api: site DEP registered", "tenant", t.ID, "geo", reg.Geo, "sites", reg.Total, "in", time.Since(reg.Started).Round(time.Millisecond).String())
}
