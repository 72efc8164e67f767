package client_test

import (
	"context"
	"testing"

	"github.com/customerkey/customerkey/client"
)

// Names the caller gives are one path segment each, however they are
// spelled: they reach the operation, never another route.
func TestSegmentsEscaped(t *testing.T) {
	ctx := context.Background()
	admin, err := client.New(client.Config{URL: serviceURL, Token: adminToken, CAFile: caFile})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a/b", "../Contoso", "x?y", "DEP#1", "%2e%2e"} {
		_, err := admin.DEP(ctx, "Contoso", client.MailboxDEPs, name)
		if !client.IsRule(err, client.RuleDEPExists) {
			t.Errorf("DEP %q: got %v, want a problem with rule %s", name, err, client.RuleDEPExists)
		}
	}
	if _, err := admin.DEPs(ctx, "Contoso", client.DEPKind("site")); err == nil {
		t.Error("a DEP kind without its collection was sent")
	}
}
