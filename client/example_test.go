package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/customerkey/customerkey/client"
)

// The examples run against the service TestMain starts (main_test.go):
// serviceURL, caFile, operatorToken, adminToken and keyURIs are what `ck
// dev` writes to its connection file and what the seed's set-up makes.

func ExampleNew() {
	c, err := client.New(client.Config{URL: serviceURL, Token: operatorToken, CAFile: caFile})
	if err != nil {
		log.Fatal(err)
	}
	me, err := c.Me(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(me.Subject, me.Role)
	// Output: operator operator
}

func ExampleClient_CreateTenant() {
	ctx := context.Background()
	op, _ := client.New(client.Config{URL: serviceURL, Token: operatorToken, CAFile: caFile})
	t, err := op.CreateTenant(ctx, client.CreateTenantRequest{Name: "Fabrikam", ID: "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(t.Name, t.ID)
	// Output: Fabrikam 0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0
}

// The tenant's global admin issues its admins' tokens (the operator
// issues only the tenant's first global admin's).
func ExampleClient_CreateToken() {
	ctx := context.Background()
	admin, _ := client.New(client.Config{URL: serviceURL, Token: adminToken, CAFile: caFile})
	tok, err := admin.CreateToken(ctx, "Contoso", client.CreateTokenRequest{Subject: "exo@contoso.com", Role: client.RoleExchangeAdmin, ValidFor: "24h"})
	if err != nil {
		log.Fatal(err)
	}
	exo := admin.WithToken(tok.Token) // acts as the Exchange admin from now on
	me, err := exo.Me(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(me.Subject, me.Role, me.Tenant == tok.Tenant)
	// Output: exo@contoso.com exchange-admin true
}

// A tenant's global admin lists its tokens (never their secrets) and
// revokes one: it is refused from the next request on.
func ExampleClient_RevokeToken() {
	ctx := context.Background()
	admin, _ := client.New(client.Config{URL: serviceURL, Token: adminToken, CAFile: caFile})
	tok, err := admin.CreateToken(ctx, "Contoso", client.CreateTokenRequest{Subject: "temp@contoso.com", Role: client.RoleSharePointAdmin})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := admin.RevokeToken(ctx, "Contoso", tok.ID); err != nil {
		log.Fatal(err)
	}
	tokens, err := admin.Tokens(ctx, "Contoso")
	if err != nil {
		log.Fatal(err)
	}
	for _, t := range tokens {
		if t.ID == tok.ID {
			fmt.Println(t.Subject, t.Revoked != nil)
		}
	}
	_, err = admin.WithToken(tok.Token).Me(ctx)
	var p *client.Problem
	fmt.Println(errors.As(err, &p) && p.Rule == client.RuleAuthentication)
	// Output:
	// temp@contoso.com true
	// true
}

// The operator acts on a tenant's data only with the tenant's consent:
// it asks, and a global admin of the tenant approves (or denies).
func ExampleClient_NewAccessRequest() {
	ctx := context.Background()
	op, _ := client.New(client.Config{URL: serviceURL, Token: operatorToken, CAFile: caFile})
	admin := op.WithToken(adminToken)
	for _, name := range []string{"Lost-DEP", "New-DEP"} {
		if _, err := admin.NewDEP(ctx, "Contoso", client.MailboxDEPs, client.NewDEPRequest{Name: name, AzureKeyIDs: keyURIs[:]}); err != nil {
			log.Fatal(err)
		}
	}
	r, err := op.NewAccessRequest(ctx, "Contoso", client.NewAccessRequest{Action: client.AccessRecover, DEP: "Lost-DEP", To: "New-DEP",
		Reason: "ticket 4711: both keys of Lost-DEP were deleted", ValidFor: "4h"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(r.Action, r.DEPName, r.TargetName, r.State)
	r, err = admin.ApproveAccessRequest(ctx, "Contoso", r.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(r.State, r.DecidedBy)
	// The operator may now run the recovery once: op.RecoverDEP(ctx,
	// "Contoso", "Lost-DEP", client.RecoverDEPRequest{To: "New-DEP", Request: r.ID}).
	// Output:
	// recover Lost-DEP New-DEP Pending
	// Approved admin@contoso.com (global-admin)
}

// Errors the service answers are *client.Problem values naming the rule
// broken and how to fix it.
func ExampleProblem() {
	op, _ := client.New(client.Config{URL: serviceURL, Token: operatorToken, CAFile: caFile})
	_, err := op.CreateTenant(context.Background(), client.CreateTenantRequest{Name: "contoso"})
	var p *client.Problem
	if errors.As(err, &p) && p.Rule == client.RuleTenantUnique {
		fmt.Println(p.Status, p.Rule)
		fmt.Println("fix:", p.Fix)
	}
	// Output:
	// 409 Tenant.Unique
	// fix: choose another name, or use the existing tenant
}

// Validate checks a scenario's Azure resources and changes nothing; every
// rule is reported with its expected and actual values.
func ExampleClient_NewOnboardingRequest() {
	ctx := context.Background()
	admin, _ := client.New(client.Config{URL: serviceURL, Token: adminToken, CAFile: caFile})
	// The request names the vaults and keys; the subscriptions come from
	// an earlier request of the tenant.
	earlier, err := admin.OnboardingResults(ctx, "Contoso")
	if err != nil {
		log.Fatal(err)
	}
	req := earlier[0].Request
	req.Mode = client.ModeValidate
	r, err := admin.NewOnboardingRequest(ctx, "Contoso", req)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(r.ValidationResult.Status, r.EnablementResult)
	for _, rule := range r.ValidationResult.Rules {
		if rule.Name == client.CheckKeyNeverExpires {
			fmt.Println(rule.Name, rule.Scope != "", rule.Passed)
		}
	}
	// Output:
	// Passed NotAttempted
	// KeyNeverExpires true true
	// KeyNeverExpires true true
}

func ExampleClient_NewDEP() {
	ctx := context.Background()
	admin, _ := client.New(client.Config{URL: serviceURL, Token: adminToken, CAFile: caFile})
	d, err := admin.NewDEP(ctx, "Contoso", client.MailboxDEPs, client.NewDEPRequest{
		Name:        "Contoso-EXO-DEP-1",
		Description: "Mailboxes in the US",
		AzureKeyIDs: keyURIs[:], // two keys in two vaults
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d.Name, d.Kind, d.Enabled, len(d.WrappedWith))
	// Output: Contoso-EXO-DEP-1 mailbox true 2
}

func ExampleClient_DEPHealth() {
	ctx := context.Background()
	admin, _ := client.New(client.Config{URL: serviceURL, Token: adminToken, CAFile: caFile})
	if _, err := admin.NewDEP(ctx, "Contoso", client.MailboxDEPs, client.NewDEPRequest{Name: "Contoso-Health", AzureKeyIDs: keyURIs[:]}); err != nil {
		log.Fatal(err)
	}
	h, err := admin.DEPHealth(ctx, "Contoso", client.MailboxDEPs, "Contoso-Health")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(h.Name, h.State)
	for _, k := range h.Keys {
		fmt.Println(k.OK)
	}
	// Output:
	// Contoso-Health healthy
	// true
	// true
}

// A mailbox on a DEP, and an item sealed under its keys and read back.
func ExampleClient_PutItem() {
	ctx := context.Background()
	admin, _ := client.New(client.Config{URL: serviceURL, Token: adminToken, CAFile: caFile})
	if _, err := admin.NewDEP(ctx, "Contoso", client.MailboxDEPs, client.NewDEPRequest{Name: "Contoso-Items", AzureKeyIDs: keyURIs[:]}); err != nil {
		log.Fatal(err)
	}
	// Only users licensed for Customer Key get a customer DEP.
	if _, err := admin.SetLicence(ctx, "Contoso", "alice@contoso.com", "E5"); err != nil {
		log.Fatal(err)
	}
	st, err := admin.NewMailbox(ctx, "Contoso", client.NewMailboxRequest{ID: "alice@contoso.com", DataEncryptionPolicy: "Contoso-Items"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st.Identity, st.IsEncrypted)
	info, err := admin.PutItem(ctx, "Contoso", "alice@contoso.com", "msg-1", "message", []byte("Quarterly numbers"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.ID, info.Version)
	content, err := admin.Item(ctx, "Contoso", "alice@contoso.com", "msg-1")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(content))
	// Output:
	// alice@contoso.com true
	// msg-1 1
	// Quarterly numbers
}

// Listings come a page at a time (SPEC D9): Pages follows the cursors,
// the ...Page methods read one page, and the plain methods (Items,
// Search, ...) read every page.
func ExamplePages() {
	ctx := context.Background()
	admin, _ := client.New(client.Config{URL: serviceURL, Token: adminToken, CAFile: caFile})
	for _, id := range []string{"msg-2", "msg-3"} {
		if _, err := admin.PutItem(ctx, "Contoso", "alice@contoso.com", id, "", []byte("Quarterly review "+id)); err != nil {
			log.Fatal(err)
		}
	}
	items := func(ctx context.Context, p client.Page) (client.List[client.ItemInfo], error) {
		return admin.ItemsPage(ctx, "Contoso", "alice@contoso.com", p)
	}
	for it, err := range client.Pages(ctx, client.Page{PageSize: 2}, items) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(it.ID)
	}
	page, err := admin.SearchPage(ctx, "Contoso", "alice@contoso.com", "QUARTERLY", client.Page{PageSize: 2})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(page.Value, page.NextCursor != "")
	rest, err := admin.SearchPage(ctx, "Contoso", "alice@contoso.com", "QUARTERLY", client.Page{PageSize: 2, Cursor: page.NextCursor})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(rest.Value, rest.NextCursor != "")
	// Output:
	// msg-1
	// msg-2
	// msg-3
	// [msg-1 msg-2] true
	// [msg-3] false
}

// Set-Mailbox re-wraps the mailbox key in the background; WaitJob follows
// the job, and the statistics show the new DEP once it is done.
func ExampleClient_WaitJob() {
	ctx := context.Background()
	admin, _ := client.New(client.Config{URL: serviceURL, Token: adminToken, CAFile: caFile})
	if _, err := admin.SetLicence(ctx, "Contoso", "bob@contoso.com", "E5"); err != nil {
		log.Fatal(err)
	}
	if _, err := admin.NewMailbox(ctx, "Contoso", client.NewMailboxRequest{ID: "bob@contoso.com"}); err != nil { // service-managed keys
		log.Fatal(err)
	}
	d, err := admin.NewDEP(ctx, "Contoso", client.MailboxDEPs, client.NewDEPRequest{Name: "Contoso-Moves", AzureKeyIDs: keyURIs[:]})
	if err != nil {
		log.Fatal(err)
	}
	res, err := admin.SetMailbox(ctx, "Contoso", "bob@contoso.com", "Contoso-Moves")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("pending:", res.Pending == d.ID)
	if _, err := admin.WaitJob(ctx, "Contoso", res.Job.ID, nil); err != nil {
		log.Fatal(err)
	}
	// The job re-wraps every pending mailbox; this one is done when it
	// shows the DEP.
	for {
		st, err := admin.MailboxStatistics(ctx, "Contoso", "bob@contoso.com")
		if err != nil {
			log.Fatal(err)
		}
		if st.Pending == "" {
			fmt.Println("encrypted:", st.IsEncrypted, st.DataEncryptionPolicyID == d.ID)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Output:
	// pending: true
	// encrypted: true true
}

func ExampleIsRule() {
	admin, _ := client.New(client.Config{URL: serviceURL, Token: adminToken, CAFile: caFile})
	_, err := admin.DEP(context.Background(), "Contoso", client.MailboxDEPs, "No-Such-DEP")
	fmt.Println(client.IsRule(err, client.RuleDEPExists))
	// Output: true
}
