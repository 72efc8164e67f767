package dep

import (
	"context"
	"errors"
	"regexp"
	"strings"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/rule"
	"github.com/customerkey/customerkey/internal/store"
)

// Geo states of a tenant's SharePoint geo.
const (
	Unregistered = "Unregistered"
	Registering  = "Registering"
	Registered   = "Registered"
	Rolling      = "Rolling"
)

// GeoRE is a geo's name: three capital letters.
var GeoRE = regexp.MustCompile(`^[A-Z]{3}$`)

var versionRE = regexp.MustCompile(`^[0-9a-fA-F]{32}$`)

// Geo is Get-SPODataEncryptionPolicy's view of one geo.
type Geo struct {
	Geo     string
	State   string
	DEP     string // the geo's current site DEP
	KeyURIs [2]string
	Sites   int // sites of the geo to wrap
	Done    int // sites wrapped under the geo's key
	Percent float64
}

// Geo returns a geo's site DEP state.
func (s *Service) Geo(ctx context.Context, t store.ServiceTenant, geo string) (Geo, error) {
	r, err := s.st.SiteRegistration(ctx, t.ID, geo)
	if errors.Is(err, store.ErrNotFound) {
		return Geo{Geo: geo, State: Unregistered}, nil
	}
	if err != nil {
		return Geo{}, err
	}
	out := Geo{Geo: r.Geo, State: r.State, DEP: r.DEP, Sites: r.Total, Done: r.Done, Percent: 100}
	if r.Total > 0 {
		out.Percent = float64(r.Done) * 100 / float64(r.Total)
	}
	if d, err := s.st.DEP(ctx, t.ID, string(Site), r.DEP); err == nil {
		out.KeyURIs = d.KeyURIs
	}
	return out, nil
}

// ProbeGeo is a geo's health check (R5), or with revoked the tenant's
// revocation signal for it (T1): every site DEP of the geo (two while a
// roll or recovery runs) is probed, and revoked first.
func (s *Service) ProbeGeo(ctx context.Context, t store.ServiceTenant, geo string, revoked bool) ([]Health, error) {
	geo = strings.ToUpper(geo)
	ds, err := s.st.ListDEPs(ctx, t.ID, string(Site))
	if err != nil {
		return nil, err
	}
	var out []Health
	for _, d := range ds {
		if !OfGeo(d, geo) {
			continue
		}
		h, err := s.probe(ctx, d, revoked)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	if len(out) == 0 {
		return nil, rule.NotFound(client.RuleSiteDEPRegistered, "register the geo first (ck spo dep register --geo "+geo+" ...)", "geo %s of tenant %s has no site DEP", geo, t.Name)
	}
	return out, nil
}

// Geos returns the state of the given geo, or of every registered geo for "".
func (s *Service) Geos(ctx context.Context, t store.ServiceTenant, geo string) ([]Geo, error) {
	geos := []string{strings.ToUpper(geo)}
	if geo == "" {
		rs, err := s.st.ListSiteRegistrations(ctx, t.ID)
		if err != nil {
			return nil, err
		}
		geos = nil
		for _, r := range rs {
			geos = append(geos, r.Geo)
		}
	}
	out := []Geo{}
	for _, g := range geos {
		x, err := s.Geo(ctx, t, g)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}

// Registration returns a registered geo's record; fix says what to do
// when the geo has none, in the caller's words.
func (s *Service) Registration(ctx context.Context, t store.ServiceTenant, geo, fix string) (store.SiteRegistration, error) {
	reg, err := s.st.SiteRegistration(ctx, t.ID, geo)
	if errors.Is(err, store.ErrNotFound) {
		return reg, rule.NotFound(client.RuleSiteDEPRegistered, fix, "geo %s has no site DEP", geo)
	}
	return reg, err
}

// SiteKeyURI is the URI of a site DEP's key given as vault, key and
// version (as Register- and Update-SPODataEncryptionPolicy take them).
func (s *Service) SiteKeyURI(ctx context.Context, vault, key, version string) (string, error) {
	if s.cfg.Azure == nil {
		return "", rule.Unavailable(client.RuleServiceWorkload, "the operator must configure the service's key vaults", "the service cannot look up vaults")
	}
	if !versionRE.MatchString(version) {
		return "", rule.Invalid(client.RuleSiteDEPKeyVersion, "give each key's version (32 hex characters): ck vault key show VAULT KEY", "key version %q is invalid", version)
	}
	v, err := s.cfg.Azure.Vault(ctx, vault)
	if err != nil {
		return "", rule.Invalid(client.RuleSiteDEPVault, "check the vault name (ck vault list)", "vault %q not found", vault)
	}
	return v.URI + "/keys/" + key + "/" + strings.ToLower(version), nil
}
