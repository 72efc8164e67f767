package main

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"github.com/customerkey/customerkey/client"
)

func (a *app) showOnboarding(r client.OnboardingResult) {
	a.fields("ID", r.ID, "CreatedDate", ts(&r.CreatedDate), "Scenario", r.Request.Scenario, "Mode", r.Request.Mode,
		"ValidationResult", r.ValidationResult.Status, "EnablementResult", r.EnablementResult)
	var rows [][]string
	for _, rule := range r.ValidationResult.Rules {
		result := "Passed"
		if !rule.Passed {
			result = "Failed"
			if rule.Advisory {
				result = "Advice"
			}
		}
		details := ""
		if !rule.Passed {
			details = rule.Details
		}
		rows = append(rows, []string{rule.Name, result, rule.Expected, rule.Actual, rule.Scope, details})
	}
	a.table([]string{"RULE", "RESULT", "EXPECTED", "ACTUAL", "SCOPE", "DETAILS"}, rows)
}

func (a *app) onboardingCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "onboarding", Short: "Customer Key onboarding (New-/Get-CustomerKeyOnboardingRequest)"}
	var tenant string
	cmd.PersistentFlags().StringVar(&tenant, "tenant", "", "tenant ID or name (default: the tenant of your token)")
	var scenario, mode string
	var subs, vaults, keys [2]string
	var officers []string
	newCmd := &cobra.Command{
		Use:   "new --scenario EXO|MDEP|SPO --subscription1 S1 --vault1 V1 --key1 K1 --subscription2 S2 --vault2 V2 --key2 K2 --mode Validate|Prepare|Enable",
		Short: "Check (and prepare or enable) a scenario's Azure resources (New-CustomerKeyOnboardingRequest)",
		Args:  cobra.NoArgs,
		Example: `  ck onboarding new --scenario EXO --mode Validate \
      --subscription1 $SUB1 --vault1 ContosoEXOAKV01 --key1 ContosoEXOKey1 \
      --subscription2 $SUB2 --vault2 ContosoEXOAKV02 --key2 ContosoEXOKey2
  ck onboarding new ... --mode Prepare     # registers the mandatory retention period
  ck onboarding new ... --mode Enable --officer cso@contoso.com`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, t, err := a.tenantClient(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			r, err := c.NewOnboardingRequest(cmd.Context(), t, client.OnboardingRequest{Scenario: strings.ToUpper(scenario), Mode: mode, Subscriptions: subs, Vaults: vaults, Keys: keys, Officers: officers})
			return out(a, r, err, a.showOnboarding)
		},
	}
	f := newCmd.Flags()
	f.StringVar(&scenario, "scenario", "", "EXO (mailboxes), MDEP (multi-workload) or SPO (sites)")
	f.StringVar(&mode, "mode", "Validate", "Validate, Prepare or Enable")
	for i := range 2 {
		n := string(rune('1' + i))
		f.StringVar(&subs[i], "subscription"+n, "", "subscription "+n+" ID")
		f.StringVar(&vaults[i], "vault"+n, "", "vault "+n+" name")
		f.StringVar(&keys[i], "key"+n, "", "key "+n+" name")
	}
	f.StringArrayVar(&officers, "officer", nil, "an authorised officer (UPN) who must approve a data purge; repeat for more")
	newCmd.MarkFlagRequired("scenario")
	var pg *paging
	list := &cobra.Command{Use: "list", Short: "List onboarding requests (Get-CustomerKeyOnboardingRequest)", Args: cobra.NoArgs,
		Example: pageExample("ck onboarding list"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, t, err := a.tenantClient(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			l, err := readPages(cmd.Context(), a, pg, func(ctx context.Context, p client.Page) (client.List[client.OnboardingResult], error) {
				return c.OnboardingResultsPage(ctx, t, p)
			})
			return out(a, l, err, func(l client.List[client.OnboardingResult]) {
				var rows [][]string
				for _, r := range l.Value {
					rows = append(rows, []string{r.ID, ts(&r.CreatedDate), r.Request.Scenario, r.Request.Mode, r.ValidationResult.Status, r.EnablementResult})
				}
				a.table([]string{"ID", "CREATED", "SCENARIO", "MODE", "VALIDATION", "ENABLEMENT"}, rows)
			})
		}}
	pg = pageFlags(list)
	show := &cobra.Command{Use: "show ID", Short: "Show a request with every rule (Get-CustomerKeyOnboardingRequest -RequestID)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, t, err := a.tenantClient(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			r, err := c.OnboardingResult(cmd.Context(), t, args[0])
			return out(a, r, err, a.showOnboarding)
		}}
	cmd.AddCommand(newCmd, list, show)
	return cmd
}

func (a *app) plansCmd() *cobra.Command {
	var plans []string
	cmd := &cobra.Command{Use: "plans TENANT --plan P...", Short: "Set a tenant's service plans (operator); E5 includes Customer Key", Args: cobra.ExactArgs(1),
		Example: `  ck tenant plans Contoso --plan E5`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.service()
			if err != nil {
				return err
			}
			p, err := c.SetPlans(cmd.Context(), args[0], plans)
			return out(a, p, err, func(p client.TenantPlans) {
				a.fields("Tenant", args[0], "Plans", strings.Join(p.Plans, ", "))
			})
		}}
	cmd.Flags().StringArrayVar(&plans, "plan", nil, "a service plan, e.g. E5 or E3; repeat for more")
	return cmd
}

func (a *app) licenceCmd() *cobra.Command {
	var plan string
	cmd := &cobra.Command{Use: "licence TENANT USER --plan P", Short: "Give a user a licence; E5 includes Customer Key ('' removes it)", Args: cobra.ExactArgs(2),
		Example: `  ck tenant licence Contoso alice@contoso.com --plan E5`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.service()
			if err != nil {
				return err
			}
			l, err := c.SetLicence(cmd.Context(), args[0], args[1], plan)
			return out(a, l, err, func(l client.Licence) {
				a.fields("User", l.User, "Plan", l.Plan, "Customer Key", map[bool]string{true: "included", false: "not included"}[l.CustomerKey])
			})
		}}
	cmd.Flags().StringVar(&plan, "plan", "E5", "the plan")
	return cmd
}
