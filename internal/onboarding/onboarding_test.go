package onboarding

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/kms"
)

const (
	tenant = "7c8d9e0f-1a2b-4c3d-8e9f-0a1b2c3d4e5f"
	sub1   = "11111111-aaaa-4000-8000-000000000001"
	sub2   = "22222222-bbbb-4000-8000-000000000002"
)

// fakeAzure is a tenant's Azure: subscriptions, vaults and registered
// service principals.
type fakeAzure struct {
	subs       map[string]*Subscription
	vaults     map[string]*Vault
	principals map[string]bool // tenant/appID
}

func (a *fakeAzure) Subscription(_ context.Context, id string) (Subscription, error) {
	s, ok := a.subs[id]
	if !ok {
		return Subscription{}, ErrNotFound
	}
	return *s, nil
}

func (a *fakeAzure) Vault(_ context.Context, name string) (Vault, error) {
	v, ok := a.vaults[name]
	if !ok {
		return Vault{}, ErrNotFound
	}
	return *v, nil
}

func (a *fakeAzure) RegisterRetention(_ context.Context, id string) error {
	a.subs[id].Retention = "Registered"
	return nil
}

func (a *fakeAzure) ServicePrincipal(_ context.Context, tenant, appID string) error {
	if !a.principals[tenant+"/"+appID] {
		return ErrNotFound
	}
	return nil
}

// fakeKeys is the workload's view of the customer keys.
type fakeKeys struct {
	keys   map[string]*kms.KeyInfo // versionless URI
	denied map[string]bool         // wrap refused by an access policy
	dirs   map[string]string       // vault URI: the directory its bearer challenge names
	calls  []string                // the key calls (get, wrap, unwrap) with their URIs
}

func (k *fakeKeys) Directory(_ context.Context, uri string) (string, error) {
	vault, _, _, err := kms.ParseKeyURI(uri)
	if err != nil {
		return "", &kms.Error{Class: kms.Invalid, Reason: kms.BadKeyURI, Op: "directory", KeyURI: uri, Cause: err.Error()}
	}
	return k.dirs[vault], nil
}

func (k *fakeKeys) Get(_ context.Context, uri string) (kms.KeyInfo, error) {
	k.calls = append(k.calls, "get "+uri)
	info, ok := k.keys[uri]
	if !ok {
		return kms.KeyInfo{}, &kms.Error{Class: kms.Denied, Op: "get", KeyURI: uri, Status: 404, Cause: "key deleted or not found"}
	}
	return *info, nil
}

func (k *fakeKeys) Wrap(_ context.Context, uri string, key []byte) (kms.Wrapped, error) {
	k.calls = append(k.calls, "wrap "+uri)
	if k.denied[uri] {
		return kms.Wrapped{}, &kms.Error{Class: kms.Denied, Op: "wrap", KeyURI: uri, Status: 403, Cause: "access removed (ForbiddenByPolicy)"}
	}
	return kms.Wrapped{KeyURI: uri, Data: slices.Clone(key)}, nil
}

func (k *fakeKeys) Unwrap(_ context.Context, uri string, wrapped []byte) ([]byte, error) {
	k.calls = append(k.calls, "unwrap "+uri)
	return slices.Clone(wrapped), nil
}

// world is one onboarding check's input.
type world struct {
	req   Request
	facts Facts
	az    *fakeAzure
	keys  *fakeKeys
}

func (w *world) vault(i int) *Vault            { return w.az.vaults[w.req.Vaults[i]] }
func (w *world) key(i int) *kms.KeyInfo        { return w.keys.keys[w.vault(i).URI+"/keys/"+w.req.Keys[i]] }
func (w *world) sub(i int) *Subscription       { return w.az.subs[w.req.Subscriptions[i]] }
func (w *world) unregister(app string)         { delete(w.az.principals, tenant+"/"+app) }
func (w *world) check() []Rule                 { return Check(context.Background(), w.req, w.facts, w.az, w.keys) }
func date(s string) *time.Time                 { t, _ := time.Parse("2006-01-02", s); return &t }
func (w *world) deny(i int)                    { w.keys.denied[w.key(i).URI] = true }
func (w *world) scenario(sc, app string)       { w.req.Scenario, w.facts.App = sc, app }
func (w *world) enable(officers ...string)     { w.req.Mode, w.req.Officers = Enable, officers }
func (w *world) plans(plans ...string)         { w.facts.Plans = plans }
func (w *world) onboarded(scenarios ...string) { w.facts.Onboarded = scenarios }

// ready is an Exchange tenant whose every rule passes: two paid
// subscriptions with the retention period registered, a vault in each (two
// regions, soft delete for 90 days), a key in each that never expires and
// that the Exchange application may use, the service principals
// registered, and an E5 plan.
func ready() *world {
	w := &world{
		req: Request{Scenario: EXO, Mode: Validate, Subscriptions: [2]string{sub1, sub2},
			Vaults: [2]string{"ContosoEXOAKV01", "ContosoEXOAKV02"}, Keys: [2]string{"ContosoEXOKey1", "ContosoEXOKey2"}},
		facts: Facts{Tenant: tenant, Plans: []string{"E5"}, App: ExchangeApp},
		az: &fakeAzure{subs: map[string]*Subscription{}, vaults: map[string]*Vault{},
			principals: map[string]bool{tenant + "/" + OnboardingApp: true, tenant + "/" + M365App: true, tenant + "/" + ExchangeApp: true}},
		keys: &fakeKeys{keys: map[string]*kms.KeyInfo{}, denied: map[string]bool{}, dirs: map[string]string{}},
	}
	for i, region := range []string{"eastus", "westus"} {
		sub, name := w.req.Subscriptions[i], w.req.Vaults[i]
		w.az.subs[sub] = &Subscription{ID: sub, TenantID: tenant, Kind: "paid", State: "Active", Retention: "Registered"}
		uri := "https://" + strings.ToLower(name) + ".vault.test"
		w.az.vaults[name] = &Vault{Name: name, URI: uri, SubscriptionID: sub, Region: region, SoftDelete: true, RetentionDays: 90}
		w.keys.dirs[uri] = tenant
		w.keys.keys[uri+"/keys/"+w.req.Keys[i]] = &kms.KeyInfo{URI: uri + "/keys/" + w.req.Keys[i] + "/0123456789abcdef0123456789abcdef", Enabled: true,
			Ops: []string{"wrapKey", "unwrapKey"}, RecoveryLevel: "Recoverable+ProtectedSubscription", Bits: 2048}
	}
	return w
}

func TestReadyTenantPasses(t *testing.T) {
	rules := ready().check()
	for _, r := range rules {
		if !r.Passed {
			t.Errorf("rule %s (scope %q) failed: expected %q, actual %q", r.Name, r.Scope, r.Expected, r.Actual)
		}
	}
	if !Passed(rules) {
		t.Error("Passed = false for a ready tenant")
	}
}

// TestRules is the rules as a table: for each, an input on which it passes
// (the ready tenant, changed by pass where the rule needs more to apply) and
// one on which it fails (changed by fail), with what the failed rule says.
func TestRules(t *testing.T) {
	tests := []struct {
		rule, scope string
		pass, fail  func(*world)
		// The failed rule: its expected and actual values, and a part of
		// its details that tells the fix.
		expected, actual, fix string
		advisory              bool
	}{
		{rule: "SubscriptionsCountPerScenario",
			fail:     func(w *world) { w.req.Subscriptions[1] = "" },
			expected: "2", actual: "1", fix: "-Subscription1 and -Subscription2"},
		{rule: "SubscriptionUniquePerScenario",
			fail:     func(w *world) { w.req.Subscriptions[1] = strings.ToUpper(sub1) },
			expected: "2 different subscriptions", actual: "the same subscription twice", fix: "two unique subscription IDs"},
		{rule: "OrganizationHasRequiredServicePlan",
			pass:     func(w *world) { w.plans("E3", "Microsoft 365 Security and Compliance for FLW") },
			fail:     func(w *world) { w.plans("E3", "EMS E5") },
			expected: "one of " + strings.Join(CustomerKeyPlans, ", "), actual: "E3, EMS E5", fix: "ck tenant plans " + tenant + " --plan E5"},
		{rule: "ServicePrincipalRegistered",
			fail:     func(w *world) { w.unregister(ExchangeApp) },
			expected: ExchangeApp, actual: "not registered",
			fix: "ck vault principal create " + ExchangeApp + " --tenant " + tenant + " --display-name 'Office 365 Exchange Online'"},
		{rule: "ServicePrincipalRegistered",
			pass: func(w *world) {
				w.scenario(SPO, SharePointApp)
				w.onboarded(EXO)
				w.az.principals[tenant+"/"+SharePointApp] = true
			},
			fail:     func(w *world) { w.scenario(SPO, SharePointApp); w.onboarded(EXO) },
			expected: SharePointApp, actual: "not registered",
			fix: "ck vault principal create " + SharePointApp + " --tenant " + tenant + " --display-name 'Office 365 SharePoint Online'"},
		{rule: "ServicePrincipalRegistered",
			pass:     func(w *world) { w.scenario(MDEP, M365App); w.unregister(ExchangeApp) },
			fail:     func(w *world) { w.scenario(MDEP, M365App); w.unregister(M365App) },
			expected: M365App, actual: "not registered",
			fix: "ck vault principal create " + M365App + " --tenant " + tenant + " --display-name 'M365DataAtRestEncryption'"},
		// For Exchange, M365DataAtRestEncryption and the onboarding
		// application block too: the seed requires all three.
		{rule: "ServicePrincipalRegistered",
			fail:     func(w *world) { w.unregister(M365App) },
			expected: M365App, actual: "not registered", fix: "ck vault principal create " + M365App},
		{rule: "ServicePrincipalRegistered",
			fail:     func(w *world) { w.unregister(OnboardingApp) },
			expected: OnboardingApp, actual: "not registered",
			fix: "ck vault principal create " + OnboardingApp + " --tenant " + tenant + " --display-name 'Customer Key Onboarding'"},
		{rule: "OnboardedForEXOorMDEP",
			pass:     func(w *world) { w.scenario(SPO, ExchangeApp); w.onboarded(MDEP) },
			fail:     func(w *world) { w.scenario(SPO, ExchangeApp); w.onboarded(SPO) },
			expected: "EXO or MDEP enabled", actual: "SPO", fix: "onboard one of them first"},
		{rule: "SubscriptionInRequestOrganization", scope: "11111",
			fail:     func(w *world) { w.sub(0).TenantID = "fabrikam" },
			expected: tenant, actual: "another directory", fix: "name a subscription of your own directory (" + tenant + ")"},
		{rule: "SubscriptionInRequestOrganization", scope: "33333",
			pass: func(w *world) {
				w.req.Subscriptions[1] = "33333333"
				w.az.subs["33333333"] = w.sub(0)
				w.vault(1).SubscriptionID = "33333333"
			},
			fail:     func(w *world) { w.req.Subscriptions[1] = "33333333" },
			expected: tenant, actual: "not found", fix: "created within the indicated tenant"},
		{rule: "SubscriptionIsPaid", scope: "22222",
			fail:     func(w *world) { w.sub(1).Kind = "trial" },
			expected: "paid", actual: "trial", fix: "paid, active subscription"},
		{rule: "MandatoryRetentionPeriodState", scope: "11111",
			pass:     func(w *world) { w.req.Mode = Prepare; w.sub(0).Retention = "NotRegistered" },
			fail:     func(w *world) { w.sub(0).Retention = "NotRegistered" },
			expected: "Registered", actual: "NotRegistered", fix: "ck vault feature show mandatoryRetentionPeriodEnabled --subscription " + sub1},
		{rule: "VaultExistsInSubscription", scope: "22222",
			fail:     func(w *world) { w.vault(1).SubscriptionID = sub1 },
			expected: sub2, actual: sub1, fix: "created within the indicated subscription"},
		{rule: "VaultExistsInSubscription", scope: "22222",
			fail:     func(w *world) { w.req.Vaults[1] = "NoSuchVault" },
			expected: sub2, actual: "vault NoSuchVault not found", fix: "created within the indicated subscription"},
		{rule: "VaultExistsInSubscription", scope: "22222",
			fail: func(w *world) {
				w.az.subs["44444444"] = &Subscription{ID: "44444444", TenantID: "fabrikam", Kind: "paid", State: "Active", Retention: "Registered"}
				w.vault(1).SubscriptionID = "44444444"
			},
			expected: sub2, actual: "a subscription of another directory", fix: "its key was not checked"},
		{rule: "VaultInRequestOrganization", scope: "22222",
			fail:     func(w *world) { w.keys.dirs[w.vault(1).URI] = "fabrikam" },
			expected: tenant, actual: "another directory", fix: "Use a vault of a subscription of your own directory (" + tenant + ")"},
		{rule: "VaultInRequestOrganization", scope: "11111",
			fail:     func(w *world) { delete(w.keys.dirs, w.vault(0).URI) },
			expected: tenant, actual: "no directory", fix: "its key was not checked"},
		{rule: "SoftDeleteRetention", scope: "11111",
			fail:     func(w *world) { w.vault(0).RetentionDays = 7 },
			expected: "soft delete on, 90 days", actual: "soft delete true, 7 days", fix: "90-day retention"},
		{rule: "KeyAccessPermissions", scope: "22222",
			fail:     func(w *world) { w.req.Keys[1] = "NoSuchKey" },
			expected: "get, wrapKey, unwrapKey", actual: "denied by customer: key deleted or not found",
			fix: "ck vault access-policy set ContosoEXOAKV02 --spn " + ExchangeApp + " --key-permissions get,wrapKey,unwrapKey"},
		{rule: "RecoveryLevel", scope: "11111",
			fail:     func(w *world) { w.key(0).RecoveryLevel = "Recoverable+Purgeable" },
			expected: "Recoverable+ProtectedSubscription", actual: "Recoverable+Purgeable", fix: "Prepare mode"},
		{rule: "KeyOperationsSupported", scope: "22222",
			fail:     func(w *world) { w.key(1).Ops = []string{"encrypt", "decrypt", "wrapKey"} },
			expected: "wrapKey, unwrapKey", actual: "encrypt, decrypt, wrapKey", fix: "ck vault key update ContosoEXOAKV02 ContosoEXOKey2 --ops wrapKey,unwrapKey"},
		{rule: "KeyNeverExpires", scope: "22222",
			pass:     func(w *world) { w.key(1).Expires = date("9999-12-31") },
			fail:     func(w *world) { w.key(1).Expires = date("2030-01-01") },
			expected: "never, or 9999-12-31", actual: "2030-01-01", fix: "ck vault key update ContosoEXOAKV02 ContosoEXOKey2 --expires 9999-12-31"},
		{rule: "KeyAccessPermissions", scope: "11111",
			fail:     func(w *world) { w.deny(0) },
			expected: "get, wrapKey, unwrapKey", actual: "denied by customer: access removed (ForbiddenByPolicy)",
			fix: "ck vault access-policy set ContosoEXOAKV01 --spn " + ExchangeApp + " --key-permissions get,wrapKey,unwrapKey"},
		{rule: "DistinctVaults",
			fail: func(w *world) {
				w.req.Subscriptions[1], w.req.Vaults[1], w.req.Keys[1] = sub1, w.req.Vaults[0], w.req.Keys[0]
			},
			expected: "2 different vaults", actual: "ContosoEXOAKV01, ContosoEXOAKV01", fix: "two different vaults"},
		{rule: "VaultsInDifferentRegions",
			fail:     func(w *world) { w.vault(1).Region = "eastus" },
			expected: "2 regions", actual: "eastus, eastus", fix: "two regions", advisory: true},
		{rule: "AuthorisedOfficers",
			pass:     func(w *world) { w.enable("cso@contoso.com") },
			fail:     func(w *world) { w.enable() },
			expected: "at least one officer", actual: "none", fix: "--officer UPN"},
	}
	for _, tt := range tests {
		name := tt.rule + "/" + tt.actual
		find := func(rules []Rule) (Rule, bool) {
			i := slices.IndexFunc(rules, func(r Rule) bool {
				return r.Name == tt.rule && r.Scope == tt.scope && r.Expected == tt.expected
			})
			if i < 0 {
				return Rule{}, false
			}
			return rules[i], true
		}
		t.Run(name+"/pass", func(t *testing.T) {
			w := ready()
			if tt.pass != nil {
				tt.pass(w)
			}
			rules := w.check()
			r, ok := find(rules)
			if !ok {
				t.Fatalf("no rule %s with scope %q and expected %q in %v", tt.rule, tt.scope, tt.expected, rules)
			}
			if !r.Passed {
				t.Errorf("%s failed: actual %q, details %q", tt.rule, r.Actual, r.Details)
			}
			if !Passed(rules) {
				t.Errorf("Passed = false: some other rule failed: %v", rules)
			}
		})
		t.Run(name+"/fail", func(t *testing.T) {
			w := ready()
			tt.fail(w)
			rules := w.check()
			r, ok := find(rules)
			if !ok {
				t.Fatalf("no rule %s with scope %q and expected %q in %v", tt.rule, tt.scope, tt.expected, rules)
			}
			if r.Passed {
				t.Fatalf("%s passed, want failed with actual %q", tt.rule, tt.actual)
			}
			if r.Actual != tt.actual {
				t.Errorf("%s actual = %q, want %q", tt.rule, r.Actual, tt.actual)
			}
			if !strings.Contains(r.Details, tt.fix) {
				t.Errorf("%s details = %q, want it to contain %q", tt.rule, r.Details, tt.fix)
			}
			if r.Advisory != tt.advisory {
				t.Errorf("%s advisory = %v, want %v", tt.rule, r.Advisory, tt.advisory)
			}
			if Passed(rules) != tt.advisory {
				t.Errorf("Passed = %v with %s failed (advisory %v)", Passed(rules), tt.rule, tt.advisory)
			}
		})
	}
}

// TestCustomerKeyPlans: every licence the seed names passes
// OrganizationHasRequiredServicePlan; others do not.
func TestCustomerKeyPlans(t *testing.T) {
	for _, tt := range []struct {
		plan string
		ok   bool
	}{
		{"Office 365 E5", true},
		{"Microsoft 365 E5", true},
		{"Microsoft 365 E5 Compliance", true},
		{"Microsoft 365 E5 Information Protection & Governance", true},
		{"Microsoft 365 Security and Compliance for FLW", true},
		{"Office 365 Advanced Compliance", true},
		{"E5", true},
		{"E5-Compliance", true},
		{"E5-InformationProtection", true},
		{"E3", false},
		{"Office 365 E3", false},
		{"Microsoft 365 E3", false},
		{"", false},
	} {
		w := ready()
		w.plans(tt.plan)
		i := slices.IndexFunc(w.check(), func(r Rule) bool { return r.Name == "OrganizationHasRequiredServicePlan" })
		if got := w.check()[i].Passed; got != tt.ok {
			t.Errorf("plan %q: OrganizationHasRequiredServicePlan passed = %v, want %v", tt.plan, got, tt.ok)
		}
	}
}

// TestRequiredPrincipals: the onboarding application and
// M365DataAtRestEncryption for every scenario, and the workload's own
// application, the one the service acts as.
func TestRequiredPrincipals(t *testing.T) {
	for _, tt := range []struct {
		app  string
		want []requiredPrincipal
	}{
		{ExchangeApp, []requiredPrincipal{{OnboardingApp, false}, {M365App, false}, {ExchangeApp, true}}},
		{SharePointApp, []requiredPrincipal{{OnboardingApp, false}, {M365App, false}, {SharePointApp, true}}},
		{M365App, []requiredPrincipal{{OnboardingApp, false}, {M365App, true}}},
		{strings.ToUpper(M365App), []requiredPrincipal{{OnboardingApp, false}, {M365App, true}}},
		{"", []requiredPrincipal{{OnboardingApp, false}, {M365App, false}}},
	} {
		if got := principals(tt.app); !slices.Equal(got, tt.want) {
			t.Errorf("principals(%q) = %v, want %v", tt.app, got, tt.want)
		}
	}
}

// An error other than not found is shown as it is, and blocks.
func TestPrincipalLookupError(t *testing.T) {
	w := ready()
	r := principalRule(context.Background(), failingDirectory{w.az}, tenant, requiredPrincipal{app: ExchangeApp, acts: true})
	if r.Passed || r.Actual != "error: directory unreachable" || r.Advisory {
		t.Errorf("got %+v, want a blocking failure with actual %q", r, "error: directory unreachable")
	}
}

type failingDirectory struct{ *fakeAzure }

func (failingDirectory) ServicePrincipal(context.Context, string, string) error {
	return errors.New("directory unreachable")
}

// SPEC T4 in the rules: Fabrikam's subscriptions, vaults and keys are in
// the service's directory too, and its vaults grant the workload (the same
// application in every directory). A request of the tenant that names
// them, in any mix with its own, makes no key call on them, fails, and
// shows none of Fabrikam's IDs or vault facts.
func TestOtherDirectoryNotUsed(t *testing.T) {
	const (
		fabrikam = "0f0f0f0f-1111-4222-8333-444444444444"
		fsub1    = "55555555-dddd-4000-8000-000000000005"
		fsub2    = "66666666-eeee-4000-8000-000000000006"
	)
	withFabrikam := func() *world {
		w := ready()
		for i, sub := range []string{fsub1, fsub2} {
			name := fmt.Sprintf("FabrikamAKV0%d", i+1)
			uri := "https://" + strings.ToLower(name) + ".vault.test"
			w.az.subs[sub] = &Subscription{ID: sub, TenantID: fabrikam, Kind: "paid", State: "Active", Retention: "Registered"}
			w.az.vaults[name] = &Vault{Name: name, URI: uri, SubscriptionID: sub, Region: "northeurope", SoftDelete: true, RetentionDays: 90}
			w.keys.keys[uri+"/keys/key"] = &kms.KeyInfo{URI: uri + "/keys/key/fedcba9876543210fedcba9876543210", Enabled: true,
				Ops: []string{"wrapKey", "unwrapKey"}, RecoveryLevel: "Recoverable+ProtectedSubscription", Bits: 2048}
			w.keys.dirs[uri] = fabrikam
		}
		return w
	}
	for _, tc := range []struct {
		name  string
		subs  [2]string
		vault [2]string
		lie   bool // the service's directory puts Fabrikam's vaults in the tenant's subscriptions
	}{
		{"own subscriptions, Fabrikam's vaults", [2]string{sub1, sub2}, [2]string{"FabrikamAKV01", "FabrikamAKV02"}, false},
		{"Fabrikam's subscriptions and vaults", [2]string{fsub1, fsub2}, [2]string{"FabrikamAKV01", "FabrikamAKV02"}, false},
		{"one own vault, one of Fabrikam", [2]string{sub1, sub2}, [2]string{"ContosoEXOAKV01", "FabrikamAKV02"}, false},
		{"Fabrikam's vaults said to be in own subscriptions", [2]string{sub1, sub2}, [2]string{"FabrikamAKV01", "FabrikamAKV02"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := withFabrikam()
			if tc.lie {
				w.az.vaults["FabrikamAKV01"].SubscriptionID, w.az.vaults["FabrikamAKV02"].SubscriptionID = sub1, sub2
			}
			w.req.Subscriptions, w.req.Vaults, w.req.Keys = tc.subs, tc.vault, [2]string{"ContosoEXOKey1", "key"}
			rules := w.check()
			if Passed(rules) {
				t.Fatalf("passed: %v", rules)
			}
			for _, c := range w.keys.calls {
				if strings.Contains(c, "fabrikam") {
					t.Errorf("key call on Fabrikam's vault: %s", c)
				}
			}
			own := 0 // the tenant's own vaults in the request: only they have vault facts
			for _, v := range tc.vault {
				if strings.HasPrefix(v, "Contoso") {
					own++
				}
			}
			facts := 0
			for _, r := range rules {
				if r.Name == "SoftDeleteRetention" {
					facts++
				}
				shown := r.Actual + " " + r.Details
				for _, secret := range []string{fabrikam, fsub1, fsub2, "northeurope"} {
					if strings.Contains(shown, secret) {
						t.Errorf("rule %s shows %s: actual %q, details %q", r.Name, secret, r.Actual, r.Details)
					}
				}
				if r.Name == "VaultsInDifferentRegions" {
					t.Errorf("rule %s reported with Fabrikam's vault: %+v", r.Name, r)
				}
			}
			if facts != own {
				t.Errorf("%d SoftDeleteRetention rules for %d own vaults", facts, own)
			}
		})
	}
}
