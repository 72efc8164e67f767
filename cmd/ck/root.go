package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/spf13/cobra"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/vaultclient"
)

// cmdlets maps each seed cmdlet to its ck command (SPEC A1); `ck CMDLET ...`
// runs the mapped command with the rest of the arguments. A Get- cmdlet
// given an identity shows that one object (getCmdlets).
var cmdlets = map[string][]string{
	"Register-AzProviderFeature":                   {"vault", "feature", "register"},
	"Get-AzProviderFeature":                        {"vault", "feature", "show"},
	"Register-AzResourceProvider":                  {"vault", "provider", "register"},
	"New-AzADServicePrincipal":                     {"vault", "principal", "create"},
	"New-AzKeyVault":                               {"vault", "create"},
	"Update-AzKeyVault":                            {"vault", "update"},
	"Remove-AzKeyVault":                            {"vault", "delete"},
	"Undo-AzKeyVaultRemoval":                       {"vault", "recover"},
	"Set-AzKeyVaultAccessPolicy":                   {"vault", "access-policy", "set"},
	"Remove-AzKeyVaultAccessPolicy":                {"vault", "access-policy", "remove"},
	"New-AzRoleAssignment":                         {"vault", "role", "assign"},
	"Remove-AzRoleAssignment":                      {"vault", "role", "remove"},
	"Add-AzKeyVaultKey":                            {"vault", "key", "add"},
	"Update-AzKeyVaultKey":                         {"vault", "key", "update"},
	"Backup-AzKeyVaultKey":                         {"vault", "key", "backup"},
	"Restore-AzKeyVaultKey":                        {"vault", "key", "restore"},
	"Remove-AzKeyVaultKey":                         {"vault", "key", "delete"},
	"Undo-AzKeyVaultKeyRemoval":                    {"vault", "key", "recover"},
	"Invoke-AzKeyVaultKeyRotation":                 {"vault", "key", "rotate"},
	"Get-AzKeyVaultKeyVersions":                    {"vault", "key", "versions"},
	"Remove-AzKeyVaultKey-InRemovedState":          {"vault", "key", "purge"},
	"New-DataEncryptionPolicy":                     {"dep", "new"},
	"Set-DataEncryptionPolicy":                     {"dep", "set"},
	"Set-Mailbox":                                  {"mailbox", "set"},
	"Set-MailUser":                                 {"mailuser", "set"},
	"Get-MailboxStatistics":                        {"mailbox", "stats"},
	"New-CustomerKeyOnboardingRequest":             {"onboarding", "new"},
	"New-M365DataAtRestEncryptionPolicy":           {"mdep", "new"},
	"Register-SPODataEncryptionPolicy":             {"spo", "dep", "register"},
	"Get-SPODataEncryptionPolicy":                  {"spo", "dep", "show"},
	"Update-SPODataEncryptionPolicy":               {"spo", "dep", "update"},
	"Set-M365DataAtRestEncryptionPolicy":           {"mdep", "set"},
	"Set-M365DataAtRestEncryptionPolicyAssignment": {"mdep", "assign"},
	"Get-M365DataAtRestEncryptionPolicyAssignment": {"mdep", "assignment"},
}

// getCmdlets are the Get- cmdlets that list without an identity and
// show one object with it: with more than ids positional arguments the
// show command runs, else the list command (Get-AzKeyVaultKey -VaultName
// V lists V's keys; -VaultName V -Name K shows K).
var getCmdlets = map[string]struct {
	list, show []string
	ids        int
}{
	"Get-DataEncryptionPolicy":           {[]string{"dep", "list"}, []string{"dep", "show"}, 0},
	"Get-M365DataAtRestEncryptionPolicy": {[]string{"mdep", "list"}, []string{"mdep", "show"}, 0},
	"Get-CustomerKeyOnboardingRequest":   {[]string{"onboarding", "list"}, []string{"onboarding", "show"}, 0},
	"Get-AzKeyVault":                     {[]string{"vault", "list"}, []string{"vault", "show"}, 0},
	"Get-AzKeyVaultKey":                  {[]string{"vault", "key", "list"}, []string{"vault", "key", "show"}, 1},
	"Get-AzADServicePrincipal":           {[]string{"vault", "principal", "list"}, []string{"vault", "principal", "show"}, 0},
}

// resolveCmdlet replaces a seed cmdlet's name in args, wherever the global
// flags leave it, by its ck command.
func resolveCmdlet(args []string) []string {
	root := (&app{stdout: io.Discard, stderr: io.Discard}).rootCmd()
	i := firstArg(root, args)
	if i < 0 {
		return args
	}
	rest := append(append([]string{}, args[:i]...), args[i+1:]...)
	with := func(path []string) []string {
		return append(append(append([]string{}, args[:i]...), path...), args[i+1:]...)
	}
	for name, path := range cmdlets {
		if strings.EqualFold(args[i], name) {
			return with(path)
		}
	}
	for name, g := range getCmdlets {
		if !strings.EqualFold(args[i], name) {
			continue
		}
		list, _, err := root.Find(g.list)
		if err != nil || list.ParseFlags(rest) != nil || len(list.Flags().Args()) <= g.ids {
			return with(g.list)
		}
		return with(g.show)
	}
	return args
}

// firstArg is the index of the first argument that is not a flag of the
// root command (or a flag's value), or -1.
func firstArg(root *cobra.Command, args []string) int {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return -1
		case strings.HasPrefix(a, "--"):
			if f := root.PersistentFlags().Lookup(strings.TrimPrefix(a, "--")); f != nil && f.Value.Type() != "bool" {
				i++ // its value
			}
		case strings.HasPrefix(a, "-") && len(a) == 2:
			if f := root.PersistentFlags().ShorthandLookup(a[1:]); f != nil && f.Value.Type() != "bool" {
				i++
			}
		case strings.HasPrefix(a, "-"):
		default:
			return i
		}
	}
	return -1
}

// app holds what every command shares: flags, config and output.
type app struct {
	configPath string
	output     string
	as         string
	token      string
	stdout     io.Writer
	stderr     io.Writer

	cfg *vaultclient.Config
	mc  *vaultclient.Client
}

func run(args []string) int { return runIO(args, os.Stdout, os.Stderr) }

// runIO is run writing to stdout and stderr (the tests capture them).
func runIO(args []string, stdout, stderr io.Writer) int {
	args = resolveCmdlet(args)
	a := &app{stdout: stdout, stderr: stderr}
	root := a.rootCmd()
	root.SetArgs(args)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(a.stderr, "Error:", friendly(err))
		return 1
	}
	return 0
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "ck",
		Short: "customerkey: encryption at rest under keys your tenants hold",
		Long: `customerkey lets a service encrypt each tenant's data at rest under root keys
that the tenant holds in its own key vaults (the Customer Key model).

Start everything on this machine with "ck dev"; every other command is a
client. Connection details come from --config, else $CK_CONFIG, else
./ck-data/dev.json (written by "ck dev").

Seed cmdlet names work too: "ck Add-AzKeyVaultKey VAULT NAME" is "ck vault key
add VAULT NAME", and a Get- cmdlet given an identity shows that object
("ck Get-DataEncryptionPolicy GUID"). "ck cmdlets" lists them.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&a.configPath, "config", "", "connection file (default $CK_CONFIG, else ./ck-data/dev.json)")
	root.PersistentFlags().StringVarP(&a.output, "output", "o", "table", "output format: table or json")
	root.PersistentFlags().StringVar(&a.as, "as", os.Getenv("CK_AS"), "act as this principal (UPN or application ID) with a token from the dev issuer (default $CK_AS)")
	root.PersistentFlags().StringVar(&a.token, "token", os.Getenv("CK_TOKEN"), "service API token (default $CK_TOKEN, else the operator's token from the connection file)")
	var tokenFile string
	root.PersistentFlags().StringVar(&tokenFile, "token-file", "", "read the service API token from this file")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if a.output != "table" && a.output != "json" {
			return fmt.Errorf("-o %q: use table or json", a.output)
		}
		if tokenFile != "" {
			b, err := os.ReadFile(tokenFile)
			if err != nil {
				return fmt.Errorf("--token-file: %w", err)
			}
			a.token = strings.TrimSpace(string(b))
		}
		return nil
	}
	root.AddCommand(a.devCmd(), a.serverCmd(), a.vaultCmd(), a.serviceTenantCmd(), a.depCmd("dep", client.MailboxDEPs, "DataEncryptionPolicy"), a.depCmd("mdep", client.MultiWorkloadDEPs, "M365DataAtRestEncryptionPolicy"), a.mailboxCmd("mailbox", "UserMailbox"), a.mailboxCmd("mailuser", "MailUser"), a.onboardingCmd(), a.recordCmd(), a.spoCmd(), a.siteCmd(), a.auditCmd(), a.operatorCmd(), a.accessRequestCmd(), a.officerCmd(), a.jobCmd(), a.consoleCmd(), a.cmdletsCmd())
	return root
}

// cmdletsCmd lists the seed cmdlets and their commands.
func (a *app) cmdletsCmd() *cobra.Command {
	return &cobra.Command{Use: "cmdlets", Short: "List the seed cmdlets that work as aliases, and the command each runs", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rows := [][]string{}
			for name, path := range cmdlets {
				rows = append(rows, []string{name, "ck " + strings.Join(path, " ")})
			}
			for name, g := range getCmdlets {
				rows = append(rows, []string{name, "ck " + strings.Join(g.list, " ") + "; with an identity: ck " + strings.Join(g.show, " ")})
			}
			sort.Slice(rows, func(i, j int) bool { return rows[i][0] < rows[j][0] })
			if a.output == "json" {
				m := map[string]string{}
				for _, r := range rows {
					m[r[0]] = r[1]
				}
				return a.printJSON(m)
			}
			a.table([]string{"CMDLET", "CK COMMAND"}, rows)
			return nil
		}}
}

// config loads the connection file once.
func (a *app) config() (*vaultclient.Config, error) {
	if a.cfg != nil {
		return a.cfg, nil
	}
	path := a.configPath
	if path == "" {
		path = os.Getenv("CK_CONFIG")
	}
	if path == "" {
		path = "ck-data/dev.json"
	}
	cfg, err := vaultclient.LoadConfig(path)
	if err != nil {
		return nil, err
	}
	a.cfg = cfg
	return cfg, nil
}

// admin returns a management client with the admin token.
func (a *app) admin() (*vaultclient.Client, error) {
	if a.mc != nil {
		return a.mc, nil
	}
	cfg, err := a.config()
	if err != nil {
		return nil, err
	}
	if a.mc, err = vaultclient.New(cfg); err != nil {
		return nil, err
	}
	return a.mc, nil
}

// mgmt returns a management client acting as --as if given, else as admin.
func (a *app) mgmt(ctx context.Context) (*vaultclient.Client, error) {
	c, err := a.admin()
	if err != nil || a.as == "" {
		return c, err
	}
	tok, err := c.Token(ctx, a.as, "", "")
	if err != nil {
		return nil, err
	}
	return c.WithToken(tok.AccessToken), nil
}

// principal is the --as principal, required for data-plane commands.
func (a *app) principal() (string, error) {
	if a.as == "" {
		return "", errors.New("key commands act as a principal of the vault's tenant: pass --as UPN-or-APPID (or set CK_AS)")
	}
	return a.as, nil
}

// printJSON writes v as indented JSON.
func (a *app) printJSON(v any) error {
	var b []byte
	var err error
	if raw, ok := v.(json.RawMessage); ok {
		var x any
		if err := json.Unmarshal(raw, &x); err != nil {
			return err
		}
		v = x
	}
	if b, err = json.MarshalIndent(v, "", "  "); err != nil {
		return err
	}
	_, err = fmt.Fprintln(a.stdout, jsonPrintable(string(b)))
	return err
}

// jsonPrintable escapes, as \uXXXX, what encoding/json leaves raw and a
// terminal would act on or reorder: DEL, the C1 controls and the
// bidirectional-text controls (needsEscape; C0 is escaped already, and
// the newlines left are the indentation). They occur only inside JSON
// strings, so the JSON means the same.
func jsonPrintable(s string) string {
	esc := func(r rune) bool { return r != '\n' && needsEscape(r) }
	if strings.IndexFunc(s, esc) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if esc(r) {
			fmt.Fprintf(&b, `\u%04x`, r)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// table prints rows under a header, aligned; every cell printable.
func (a *app) table(header []string, rows [][]string) {
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		cells := make([]string, len(r))
		for i, c := range r {
			cells[i] = printable(c)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	tw.Flush()
}

// fields prints name: value pairs, aligned; every value printable.
func (a *app) fields(pairs ...string) {
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 1, ' ', 0)
	for i := 0; i+1 < len(pairs); i += 2 {
		fmt.Fprintf(tw, "%s:\t%s\n", pairs[i], printable(pairs[i+1]))
	}
	tw.Flush()
}

// friendly turns errors into one readable line: the server's message and
// code (printable: a server's words cannot start a line of their own).
func friendly(err error) string {
	var le *linesError
	if errors.As(err, &le) {
		lines := make([]string, len(le.lines))
		for i, l := range le.lines {
			lines[i] = printable(l)
		}
		return strings.Join(lines, "\n")
	}
	var pe *client.Problem
	if errors.As(err, &pe) {
		return printable(pe.Error())
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.RawResponse != nil {
		data, _ := io.ReadAll(re.RawResponse.Body)
		if ve := vaultclient.ParseError(re.StatusCode, data); ve.Code != "" {
			return printable(ve.Error())
		}
		return printable(fmt.Sprintf("vault answered %d %s", re.StatusCode, re.ErrorCode))
	}
	// Any other error may carry a server's words too (a failed job's
	// error, client.JobError), so it is made printable like the rest.
	return printable(err.Error())
}
