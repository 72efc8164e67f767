package client

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/customerkey/customerkey/internal/rest"
)

// The service API's paths, built here and nowhere else: every segment a
// caller gives is escaped as one segment.

func servicePath(segments ...string) string {
	return rest.Path(append([]string{"v1"}, segments...)...)
}

// tenantPath is /v1/tenants/{tenant}/{segments...}.
func tenantPath(tenant string, segments ...string) string {
	return rest.Path(append([]string{"v1", "tenants", tenant}, segments...)...)
}

// withQuery adds the non-empty query values to path.
func withQuery(path string, kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

func itoa(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// DEPKind says which policies a DEP call is about: mailbox DEPs or
// multi-workload DEPs (site DEPs have calls of their own: the SPO ones).
type DEPKind string

// Kinds of DEP, as DEP.Kind names them.
const (
	MailboxDEPs       DEPKind = "mailbox" // New-/Get-/Set-DataEncryptionPolicy
	MultiWorkloadDEPs DEPKind = "mdep"    // New-/Get-/Set-M365DataAtRestEncryptionPolicy
)

// collection is the kind's collection under a tenant.
func (k DEPKind) collection() (string, error) {
	switch k {
	case MailboxDEPs:
		return "dataEncryptionPolicies", nil
	case MultiWorkloadDEPs:
		return "m365DataAtRestEncryptionPolicies", nil
	}
	return "", fmt.Errorf("client: DEP kind %q: use client.MailboxDEPs or client.MultiWorkloadDEPs", string(k))
}

// depPath is the path of a tenant's DEPs of kind, or of one (dep) and
// what is below it.
func depPath(tenant string, kind DEPKind, segments ...string) (string, error) {
	coll, err := kind.collection()
	if err != nil {
		return "", err
	}
	return tenantPath(tenant, append([]string{coll}, segments...)...), nil
}

// ConsolePath is where the service serves its web console (SPEC A3).
const ConsolePath = "/console/"

// ConsoleSignInLink is the console's address on a service with token in
// the URL's fragment: a browser never sends the fragment to a server (so
// no server logs it), and the console moves the token into the tab's
// session storage and off the address bar at once.
func ConsoleSignInLink(serviceURL, token string) string {
	return strings.TrimSuffix(serviceURL, "/") + ConsolePath + "#token=" + url.QueryEscape(token)
}
