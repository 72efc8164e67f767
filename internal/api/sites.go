package api

import (
	"context"
	"strings"

	"github.com/customerkey/customerkey/client"
	"github.com/danielgtaylor/huma/v2"

	"github.com/customerkey/customerkey/internal/dep"
	"github.com/customerkey/customerkey/internal/lifecycle"
	"github.com/customerkey/customerkey/internal/workload"
)

type GeoPath struct {
	Tenant string `path:"tenant"`
	Geo    string `path:"geo"`
}

type FilePath struct {
	Tenant string `path:"tenant"`
	Site   string `path:"site"`
	File   string `path:"file"`
}

func geoJSON(g dep.Geo) client.SPODEP {
	return client.SPODEP{Geo: g.Geo, State: g.State, PercentComplete: g.Percent, PrimaryKeyURI: g.KeyURIs[0], SecondaryKeyURI: g.KeyURIs[1], DEPID: g.DEP, Sites: g.Sites, Done: g.Done}
}

func geoOut(g dep.Geo, err error) (*body[client.SPODEP], error) {
	if err != nil {
		return nil, err
	}
	return &body[client.SPODEP]{geoJSON(g)}, nil
}

func (s *Server) registerGeo(ctx context.Context, in *struct {
	TenantPath
	Body client.RegisterSPODEPRequest
}) (*body[client.SPODEP], error) {
	b := in.Body
	return geoOut(s.life.RegisterGeo(ctx, tenantOf(ctx), b.Geo,
		lifecycle.KeyRef{Vault: b.PrimaryVault, Key: b.PrimaryKey, Version: b.PrimaryVersion},
		lifecycle.KeyRef{Vault: b.SecondaryVault, Key: b.SecondaryKey, Version: b.SecondaryVersion}))
}

func (s *Server) updateGeo(ctx context.Context, in *struct {
	GeoPath
	Body client.UpdateSPODEPRequest
}) (*body[client.SPODEP], error) {
	b := in.Body
	return geoOut(s.life.RollGeo(ctx, tenantOf(ctx), in.Geo, b.KeyType, lifecycle.KeyRef{Vault: b.VaultName, Key: b.KeyName, Version: b.KeyVersion}, b.PermanentDataPurgeRequested))
}

func (s *Server) recoverGeo(ctx context.Context, in *struct {
	GeoPath
	Body client.RecoverSPODEPRequest
}) (*body[client.Job], error) {
	return jobOut(s.life.RecoverGeo(ctx, tenantOf(ctx), in.Geo, [2]string{in.Body.PrimaryKeyURI, in.Body.SecondaryKeyURI}, in.Body.Request))
}

func (s *Server) getGeos(ctx context.Context, in *struct {
	TenantPath
	Geo string `query:"geo" doc:"One geo; all registered geos if empty"`
	PageQuery
}) (*body[client.List[client.SPODEP]], error) {
	gs, err := s.deps.Geos(ctx, tenantOf(ctx), in.Geo)
	if err != nil {
		return nil, err
	}
	fetch, key := byName(gs, func(g dep.Geo) string { return g.Geo })
	return paged(in.PageQuery, "geos", fetch, key, geoJSON)
}

func (s *Server) geoHealth(ctx context.Context, in *GeoPath) (*body[client.List[client.DEPHealth]], error) {
	return geoHealthOut(s.deps.ProbeGeo(ctx, tenantOf(ctx), in.Geo, false))
}

func (s *Server) signalGeoRevocation(ctx context.Context, in *GeoPath) (*body[client.List[client.DEPHealth]], error) {
	return geoHealthOut(s.deps.ProbeGeo(ctx, tenantOf(ctx), in.Geo, true))
}

func geoHealthOut(hs []dep.Health, err error) (*body[client.List[client.DEPHealth]], error) {
	if err != nil {
		return nil, err
	}
	out := client.List[client.DEPHealth]{Value: []client.DEPHealth{}}
	for _, h := range hs {
		out.Value = append(out.Value, healthJSON(h))
	}
	return &body[client.List[client.DEPHealth]]{out}, nil
}

func (s *Server) newSite(ctx context.Context, in *struct {
	TenantPath
	Body client.NewSiteRequest
}) (*body[client.SiteInfo], error) {
	m, d, err := s.boxes.CreateSite(ctx, tenantOf(ctx), in.Body.Name, in.Body.Geo)
	if err != nil {
		return nil, err
	}
	keys := "service-managed"
	if d.Kind == string(dep.Site) {
		keys = "customer"
	}
	return &body[client.SiteInfo]{client.SiteInfo{Name: strings.TrimPrefix(m.ID, "site:"), Geo: strings.TrimPrefix(m.Kind, "Site:"), DEPID: d.ID, Kind: keys}}, nil
}

func (s *Server) putFile(ctx context.Context, in *struct {
	FilePath
	StreamIn
}) (*body[client.ItemInfo], error) {
	return s.putContent(ctx, workload.SiteRef(in.Site), in.File, "", &in.StreamIn, s.cfg.Limits.File, "a file")
}

func (s *Server) getFile(ctx context.Context, in *struct {
	FilePath
	Version int `query:"version" minimum:"0" maximum:"4294967295" doc:"A version number; 0 for the latest"`
	RangeIn
}) (*huma.StreamResponse, error) {
	return s.getContent(ctx, workload.SiteRef(in.Site), in.File, in.Version, in.RangeIn)
}

func (s *Server) listFiles(ctx context.Context, in *struct {
	Tenant string `path:"tenant"`
	Site   string `path:"site"`
	PageQuery
}) (*body[client.List[client.ItemInfo]], error) {
	return listItems(ctx, s, in.PageQuery, "files", workload.SiteRef(in.Site), listedInfo)
}

func (s *Server) deleteFile(ctx context.Context, in *FilePath) (*struct{}, error) {
	return &struct{}{}, s.boxes.DeleteItem(ctx, tenantOf(ctx), workload.SiteRef(in.Site), in.File)
}
