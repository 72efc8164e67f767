// Package onboarding is the Customer Key onboarding service's rules engine
// (SPEC O2-O7): it checks a tenant's Azure resources for a scenario and
// reports every rule with its expected value, actual value, scope (the
// first five characters of the subscription ID) and how to fix it.
package onboarding

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/kms"
)

// Scenarios and modes, as the API names them.
const (
	MDEP = client.ScenarioMDEP // multi-workload
	EXO  = client.ScenarioEXO  // Exchange mailboxes
	SPO  = client.ScenarioSPO  // SharePoint and OneDrive sites

	Validate = client.ModeValidate
	Prepare  = client.ModePrepare
	Enable   = client.ModeEnable
)

// CustomerKeyPlans are the service plans that include Customer Key (O1):
// the licences the seed ("Valid Microsoft 365 and Office 365 licenses that
// offer Microsoft 365 Customer Key") names, by their names, the older Office
// 365 Advanced Compliance that is still supported, and the short names E5,
// E5-Compliance and E5-InformationProtection this service has always taken.
var CustomerKeyPlans = []string{
	"E5", "E5-Compliance", "E5-InformationProtection",
	"Office 365 E5",
	"Microsoft 365 E5",
	"Microsoft 365 E5 Compliance",
	"Microsoft 365 E5 Information Protection & Governance",
	"Microsoft 365 Security and Compliance for FLW",
	"Office 365 Advanced Compliance",
}

// Application IDs whose service principals the seed asks a tenant to
// register before onboarding ("Register the required Service Principals").
const (
	OnboardingApp = "19f7f505-34aa-44a4-9dcc-6a768854d2ea" // Customer Key Onboarding
	M365App       = "c066d759-24ae-40e7-a56f-027002b5d3e4" // M365DataAtRestEncryption: the multi-workload DEP
	ExchangeApp   = "00000002-0000-0ff1-ce00-000000000000" // Office 365 Exchange Online: mailbox DEPs
	SharePointApp = "00000003-0000-0ff1-ce00-000000000000" // Office 365 SharePoint Online: site DEPs
)

// appNames are the display names of the applications above.
var appNames = map[string]string{
	OnboardingApp: "Customer Key Onboarding",
	M365App:       "M365DataAtRestEncryption",
	ExchangeApp:   "Office 365 Exchange Online",
	SharePointApp: "Office 365 SharePoint Online",
}

// Request is New-CustomerKeyOnboardingRequest's parameters.
type Request = client.OnboardingRequest

// Rule is one check's outcome.
type Rule = client.OnboardingRule

// Subscription and Vault are what the rules read of Azure.
type Subscription struct {
	ID, TenantID, Kind, State, Retention string
}

type Vault struct {
	Name, URI, SubscriptionID, Region string
	SoftDelete                        bool
	RetentionDays                     int
}

// ErrNotFound: Azure has no such subscription, vault or service principal
// (for this caller).
var ErrNotFound = errors.New("not found")

// Azure reads (and, for Prepare, changes) the tenant's Azure resources.
type Azure interface {
	Subscription(ctx context.Context, id string) (Subscription, error)
	Vault(ctx context.Context, name string) (Vault, error)
	RegisterRetention(ctx context.Context, subscriptionID string) error
	// ServicePrincipal returns nil if the application's service principal
	// is registered in the tenant (Get-AzADServicePrincipal), ErrNotFound
	// if it is not.
	ServicePrincipal(ctx context.Context, tenant, appID string) error
}

// Facts are the tenant-side facts of a check.
type Facts struct {
	Tenant    string   // the tenant's directory ID
	Plans     []string // the tenant's service plans
	Onboarded []string // scenarios already enabled
	App       string   // the scenario's workload application ID
}

func scope(sub string) string {
	if len(sub) > 5 {
		return sub[:5]
	}
	return sub
}

// Check runs every rule (Prepare first registers the retention feature).
// It uses only the tenant's own resources (SPEC T4): for each subscription
// it stops at a subscription of another directory, a vault outside that
// subscription, or a vault that does not name the tenant's directory
// (VaultOwner), before any key call, and shows nothing of another
// directory but that it is one.
func Check(ctx context.Context, req Request, f Facts, az Azure, keys kms.Client) []Rule {
	var rules []Rule
	add := func(r Rule) { rules = append(rules, r) }

	count := 0
	for _, s := range req.Subscriptions {
		if s != "" {
			count++
		}
	}
	add(Rule{Name: "SubscriptionsCountPerScenario", Expected: "2", Actual: fmt.Sprint(count), Passed: count == 2,
		Details: "Verify that you're using two subscriptions in the request: -Subscription1 and -Subscription2."})
	unique := count == 2 && !strings.EqualFold(req.Subscriptions[0], req.Subscriptions[1])
	add(Rule{Name: "SubscriptionUniquePerScenario", Expected: "2 different subscriptions", Actual: map[bool]string{true: "2 different subscriptions", false: "the same subscription twice"}[unique], Passed: unique,
		Details: "Verify that you're using two unique subscription IDs: each key must live in its own subscription."})
	var plansOK bool
	for _, p := range f.Plans {
		plansOK = plansOK || slices.Contains(CustomerKeyPlans, p)
	}
	add(Rule{Name: "OrganizationHasRequiredServicePlan", Expected: "one of " + strings.Join(CustomerKeyPlans, ", "), Actual: strings.Join(append([]string{}, f.Plans...), ", "), Passed: plansOK,
		Details: "Ensure your tenant has the required licenses: a service plan that includes Customer Key, which the operator records (ck tenant plans " + f.Tenant + " --plan E5)."})
	for _, p := range principals(f.App) {
		add(principalRule(ctx, az, f.Tenant, p))
	}
	if req.Scenario == SPO {
		ok := slices.Contains(f.Onboarded, EXO) || slices.Contains(f.Onboarded, MDEP)
		add(Rule{Name: "OnboardedForEXOorMDEP", Expected: "EXO or MDEP enabled", Actual: strings.Join(append([]string{}, f.Onboarded...), ", "), Passed: ok,
			Details: "SharePoint can be onboarded only after Exchange (EXO) or the multi-workload scenario (MDEP): onboard one of them first."})
	}

	var vaults [2]*Vault
	for i, sub := range req.Subscriptions {
		if sub == "" {
			continue
		}
		sc := scope(sub)
		s, err := az.Subscription(ctx, sub)
		if err != nil {
			actual := "not found"
			if !errors.Is(err, ErrNotFound) {
				actual = "error: " + err.Error()
			}
			add(Rule{Name: "SubscriptionInRequestOrganization", Expected: f.Tenant, Actual: actual, Scope: sc,
				Details: "Verify that the supplied subscription was created within the indicated tenant."})
			continue
		}
		// Nothing of a subscription of another directory is read, nor
		// shown: not its directory, and no vault or key through it (T4).
		if !strings.EqualFold(s.TenantID, f.Tenant) {
			add(Rule{Name: "SubscriptionInRequestOrganization", Expected: f.Tenant, Actual: otherDirectory, Scope: sc,
				Details: "Verify that the supplied subscription was created within the indicated tenant: name a subscription of your own directory (" + f.Tenant + "); the vault and key of this one were not checked."})
			continue
		}
		add(Rule{Name: "SubscriptionInRequestOrganization", Expected: f.Tenant, Actual: s.TenantID, Scope: sc, Passed: true,
			Details: "Verify that the supplied subscription was created within the indicated tenant."})
		add(Rule{Name: "SubscriptionIsPaid", Expected: "paid", Actual: s.Kind, Scope: sc, Passed: s.Kind == "paid" && s.State == "Active",
			Details: "Use a paid, active subscription: trial subscriptions cannot hold Customer Key root keys."})
		if req.Mode == Prepare && s.Retention == "NotRegistered" {
			if err := az.RegisterRetention(ctx, sub); err == nil {
				if s2, err := az.Subscription(ctx, sub); err == nil {
					s = s2
				}
			}
		}
		add(Rule{Name: "MandatoryRetentionPeriodState", Expected: "Registered", Actual: s.Retention, Scope: sc, Passed: s.Retention == "Registered",
			Details: "Verify that \"Prepare\" mode was run; registration may take a while (ck vault feature show mandatoryRetentionPeriodEnabled --subscription " + sub + ")."})

		v, err := az.Vault(ctx, req.Vaults[i])
		if err != nil {
			add(Rule{Name: "VaultExistsInSubscription", Expected: sub, Actual: "vault " + req.Vaults[i] + " not found", Scope: sc,
				Details: "Verify that the Azure Key Vault was created within the indicated subscription."})
			continue
		}
		// A vault outside the subscription, which is the tenant's, is
		// not looked at further: it may be another directory's (T4).
		if !strings.EqualFold(v.SubscriptionID, sub) {
			add(Rule{Name: "VaultExistsInSubscription", Expected: sub, Actual: subscriptionOf(ctx, az, f.Tenant, v), Scope: sc,
				Details: "Verify that the Azure Key Vault was created within the indicated subscription; its key was not checked."})
			continue
		}
		add(Rule{Name: "VaultExistsInSubscription", Expected: sub, Actual: v.SubscriptionID, Scope: sc, Passed: true,
			Details: "Verify that the Azure Key Vault was created within the indicated subscription."})
		uri := v.URI + "/keys/" + req.Keys[i]
		// The vault's own word too, before any key call (T4): the
		// workload is the same application in every directory.
		r := vaultDirectoryRule(ctx, keys, az, f.Tenant, v.Name, uri)
		r.Scope = sc
		add(r)
		if !r.Passed {
			continue
		}
		vaults[i] = &v
		add(Rule{Name: "SoftDeleteRetention", Expected: "soft delete on, 90 days", Actual: fmt.Sprintf("soft delete %v, %d days", v.SoftDelete, v.RetentionDays), Scope: sc,
			Passed: v.SoftDelete && v.RetentionDays == 90, Details: "Create the vault with soft delete and a 90-day retention (it cannot be changed later)."})

		info, err := keys.Get(ctx, uri)
		if err != nil {
			add(Rule{Name: "KeyAccessPermissions", Expected: "get, wrapKey, unwrapKey", Actual: causeOf(err), Scope: sc,
				Details: "Assign the proper permissions to AKV keys: the workload " + f.App + " needs get, wrapKey and unwrapKey (ck vault access-policy set " + v.Name + " --spn " + f.App + " --key-permissions get,wrapKey,unwrapKey)."})
			continue
		}
		add(Rule{Name: "RecoveryLevel", Expected: "Recoverable+ProtectedSubscription", Actual: info.RecoveryLevel, Scope: sc, Passed: info.RecoveryLevel == "Recoverable+ProtectedSubscription",
			Details: "Register the mandatory retention period (Prepare mode) and keep soft delete at 90 days; see Incorrect Mandatory Retention Period State."})
		opsOK := slices.Contains(info.Ops, "wrapKey") && slices.Contains(info.Ops, "unwrapKey")
		add(Rule{Name: "KeyOperationsSupported", Expected: "wrapKey, unwrapKey", Actual: strings.Join(info.Ops, ", "), Scope: sc, Passed: opsOK,
			Details: "Allow wrapKey and unwrapKey in the key's operations (ck vault key update " + v.Name + " " + req.Keys[i] + " --ops wrapKey,unwrapKey,...)."})
		exp := "never"
		if info.Expires != nil {
			exp = info.Expires.UTC().Format("2006-01-02")
		}
		add(Rule{Name: "KeyNeverExpires", Expected: "never, or 9999-12-31", Actual: exp, Scope: sc, Passed: exp == "never" || exp == "9999-12-31",
			Details: "Verify the expiration of your keys: an expiry cannot be removed, so move it to 9999-12-31 (ck vault key update " + v.Name + " " + req.Keys[i] + " --expires 9999-12-31)."})
		actual := "get, wrapKey, unwrapKey"
		probe := make([]byte, 32)
		rand.Read(probe)
		w, err := keys.Wrap(ctx, info.URI, probe)
		if err == nil {
			_, err = keys.Unwrap(ctx, w.KeyURI, w.Data)
		}
		if err != nil {
			actual = causeOf(err)
		}
		add(Rule{Name: "KeyAccessPermissions", Expected: "get, wrapKey, unwrapKey", Actual: actual, Scope: sc, Passed: err == nil,
			Details: "Assign the proper permissions to AKV keys: the workload " + f.App + " needs get, wrapKey and unwrapKey (ck vault access-policy set " + v.Name + " --spn " + f.App + " --key-permissions get,wrapKey,unwrapKey, or the Key Vault Crypto Service Encryption User role)."})
	}
	if vaults[0] != nil && vaults[1] != nil {
		add(Rule{Name: "DistinctVaults", Expected: "2 different vaults", Actual: vaults[0].Name + ", " + vaults[1].Name, Passed: !strings.EqualFold(vaults[0].Name, vaults[1].Name),
			Details: "Put the two keys in two different vaults."})
		add(Rule{Name: "VaultsInDifferentRegions", Expected: "2 regions", Actual: vaults[0].Region + ", " + vaults[1].Region, Passed: vaults[0].Region != vaults[1].Region, Advisory: true,
			Details: "Vaults in two regions keep your data readable when a region is down."})
	}
	if req.Mode == Enable && req.Scenario == EXO {
		actual := strings.Join(req.Officers, ", ")
		if actual == "" {
			actual = "none"
		}
		add(Rule{Name: "AuthorisedOfficers", Expected: "at least one officer", Actual: actual, Passed: len(req.Officers) > 0,
			Details: "Name the authorised officers who must approve a data purge (ck onboarding new ... --officer UPN), as SPEC O7 asks."})
	}
	return rules
}

// otherDirectory is what a rule shows for a subscription or vault of
// another directory: never that directory's IDs.
const otherDirectory = "another directory"

// subscriptionOf is what VaultExistsInSubscription shows of the
// subscription vault v is in when it is not the one named: its ID if it
// is the tenant's, otherwise only that it is another directory's.
func subscriptionOf(ctx context.Context, az Azure, tenant string, v Vault) string {
	s, err := az.Subscription(ctx, v.SubscriptionID)
	switch {
	case err == nil && strings.EqualFold(s.TenantID, tenant):
		return v.SubscriptionID
	case err == nil || errors.Is(err, ErrNotFound):
		return "a subscription of " + otherDirectory
	}
	return "a subscription that could not be read"
}

// vaultDirectoryRule is VaultInRequestOrganization: the vault of keyURI
// (named name) belongs to the tenant's directory, by its own word and by
// its subscription (VaultOwner), asked before any key call of Check.
func vaultDirectoryRule(ctx context.Context, keys kms.Client, az Azure, tenant, name, keyURI string) Rule {
	r := Rule{Name: "VaultInRequestOrganization", Expected: tenant, Actual: tenant,
		Details: "Use a vault of a subscription of your own directory (" + tenant + "): the service uses a key only once its vault names your directory (the authorization URL of its bearer challenge); its key was not checked."}
	owner, err := VaultOwner(ctx, keys, az, tenant, keyURI)
	switch {
	case errors.Is(err, ErrNoDirectoryReader):
		r.Actual = "unknown: the service cannot read a vault's directory"
		r.Details = "The operator must configure a vault client that reads a vault's directory (vaults.kind builtin or azure); the key of vault " + name + " was not checked."
	case err != nil:
		r.Actual = causeOf(err)
		r.Details = "Check that vault " + name + " is up and reachable, then retry; its key was not checked."
	case owner == OwnerNone:
		r.Actual = "no directory"
	case owner == OwnerOtherDirectory:
		r.Actual = otherDirectory
	case owner == OwnerOtherSubscription:
		r.Actual = "a subscription of " + otherDirectory
	default:
		r.Passed = true
		r.Details = "The service uses a key only in a vault of your own directory (SPEC T4)."
	}
	return r
}

// A requiredPrincipal is a service principal the tenant must register.
type requiredPrincipal struct {
	app string
	// acts: the service acts as this application to reach the keys.
	acts bool
}

// principals are the service principals a scenario whose workload acts as
// app needs, every one of them required (the seed: "your tenant must have
// the required service principals registered"): the onboarding
// application, M365DataAtRestEncryption, and the workload's own.
func principals(app string) []requiredPrincipal {
	ps := []requiredPrincipal{{app: OnboardingApp}, {app: M365App}}
	if app == "" {
		return ps
	}
	for i := range ps {
		if strings.EqualFold(ps[i].app, app) {
			ps[i].acts = true
			return ps
		}
	}
	return append(ps, requiredPrincipal{app: strings.ToLower(app), acts: true})
}

// principalRule checks that one service principal is registered in the tenant.
func principalRule(ctx context.Context, az Azure, tenant string, p requiredPrincipal) Rule {
	name := appNames[p.app]
	if name == "" {
		name = p.app
	}
	actual := p.app
	err := az.ServicePrincipal(ctx, tenant, p.app)
	switch {
	case errors.Is(err, ErrNotFound):
		actual = "not registered"
	case err != nil:
		actual = "error: " + err.Error()
	}
	why := "Customer Key requires it in every tenant"
	if p.acts {
		why = "the service acts as this application to reach the keys: without it every wrap and unwrap fails"
	}
	return Rule{Name: "ServicePrincipalRegistered", Expected: p.app, Actual: actual, Passed: err == nil,
		Details: "Register the service principal of the " + name + " application in the tenant (New-AzADServicePrincipal -ApplicationId " + p.app + "); " + why +
			" (ck vault principal create " + p.app + " --tenant " + tenant + " --display-name '" + name + "')."}
}

// Passed reports whether every blocking rule passed.
func Passed(rules []Rule) bool {
	for _, r := range rules {
		if !r.Passed && !r.Advisory {
			return false
		}
	}
	return true
}

func causeOf(err error) string {
	var ke *kms.Error
	if errors.As(err, &ke) {
		return ke.Class.String() + ": " + ke.Cause
	}
	return err.Error()
}
