package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"github.com/spf13/cobra"

	"github.com/customerkey/customerkey/vaultclient"
)

func (a *app) keyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "key",
		Short: "Keys in a vault, through the official azkeys client (act --as a principal)",
		Long: `Key commands speak the Azure Key Vault keys API through the official azkeys
client, as the principal given with --as (or $CK_AS), so the vault's access
policies or roles decide what is allowed. VAULT is a vault name or its URL.`,
	}
	cmd.AddCommand(a.keyURICmd(), a.keyAddCmd(), a.keyImportCmd(), a.keyShowCmd(), a.keyListCmd(), a.keyVersionsCmd(), a.keyUpdateCmd(), a.keyRotateCmd(),
		a.keyBackupCmd(), a.keyRestoreCmd(), a.keyDeleteCmd(), a.keyRecoverCmd(), a.keyPurgeCmd())
	return cmd
}

// keys returns an azkeys client for a vault name or URL, acting as --as.
func (a *app) keys(ctx context.Context, vaultArg string) (*azkeys.Client, error) {
	p, err := a.principal()
	if err != nil {
		return nil, err
	}
	uri, err := a.vaultURI(ctx, vaultArg)
	if err != nil {
		return nil, err
	}
	return a.mc.KeysClient(uri, p)
}

// vaultURI resolves a vault name (or URL) to the vault's URL.
func (a *app) vaultURI(ctx context.Context, vaultArg string) (string, error) {
	c, err := a.admin()
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(vaultArg, "https://") {
		return strings.TrimSuffix(vaultArg, "/"), nil
	}
	var v vaultclient.Vault
	if err := c.Do(ctx, "GET", "/vaults/"+esc(vaultArg), nil, &v); err != nil {
		return "", err
	}
	if v.URI == "" {
		return "", fmt.Errorf("vault %s is in region %s, which this connection file does not serve", v.Name, v.Region)
	}
	return v.URI, nil
}

// removeExpiry asks the vault to remove a key's expiry. The azkeys client
// cannot express it (it omits an unset expiry), so this sends the PATCH with
// "exp": null itself; the vault refuses it, as Azure does.
func (a *app) removeExpiry(ctx context.Context, vaultArg, name, version string) error {
	p, err := a.principal()
	if err != nil {
		return err
	}
	uri, err := a.vaultURI(ctx, vaultArg)
	if err != nil {
		return err
	}
	host := strings.TrimPrefix(uri, "https://")
	_, base, _ := strings.Cut(host, ".")
	tok, err := a.mc.Token(ctx, p, "", "https://"+base)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, uri+"/keys/"+esc(name)+"/"+esc(version)+"?api-version=2025-07-01", strings.NewReader(`{"attributes":{"exp":null}}`))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.mc.HTTP().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return runtime.NewResponseError(resp)
	}
	fmt.Fprintf(a.stdout, "Removed the expiry of %s.\n", name)
	return nil
}

func (a *app) printKey(b azkeys.KeyBundle) error {
	if a.output == "json" {
		raw, err := json.Marshal(b)
		if err != nil {
			return err
		}
		return a.printJSON(json.RawMessage(raw))
	}
	id := *b.Key.KID
	var ops []string
	for _, op := range b.Key.KeyOps {
		ops = append(ops, string(*op))
	}
	expires := "(none)"
	if b.Attributes.Expires != nil {
		expires = ts(b.Attributes.Expires)
	}
	notBefore := ""
	if b.Attributes.NotBefore != nil {
		notBefore = ts(b.Attributes.NotBefore)
	}
	a.fields("Vault Name", vaultOf(string(id)), "Name", id.Name(), "Version", id.Version(), "Id", string(id),
		"Key Type", string(*b.Key.Kty), "Key Size", strconv.Itoa(len(b.Key.N)*8), "Key Ops", strings.Join(ops, ","),
		"Enabled", strconv.FormatBool(*b.Attributes.Enabled), "Expires", expires, "Not Before", notBefore,
		"Created", ts(b.Attributes.Created), "Updated", ts(b.Attributes.Updated),
		"Recovery Level", deref(b.Attributes.RecoveryLevel), "Recoverable Days", strconv.Itoa(int(deref(b.Attributes.RecoverableDays))))
	return nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// vaultOf returns the vault name of a key ID.
func vaultOf(id string) string {
	host := strings.TrimPrefix(id, "https://")
	name, _, _ := strings.Cut(host, ".")
	return name
}

func parseDate(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02", time.RFC3339, "01/02/2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("date %q: use YYYY-MM-DD (e.g. 9999-12-31) or RFC 3339", s)
}

func keyOps(ops []string) []*azkeys.KeyOperation {
	if ops == nil {
		return nil
	}
	out := []*azkeys.KeyOperation{}
	for _, o := range ops {
		out = append(out, to.Ptr(azkeys.KeyOperation(o)))
	}
	return out
}

// keyAttrs reads --expires, --not-before and --enabled.
func keyAttrs(cmd *cobra.Command, expires, notBefore string, enabled bool) (*azkeys.KeyAttributes, error) {
	var attrs azkeys.KeyAttributes
	set := false
	if expires != "" {
		t, err := parseDate(expires)
		if err != nil {
			return nil, err
		}
		attrs.Expires, set = &t, true
	}
	if notBefore != "" {
		t, err := parseDate(notBefore)
		if err != nil {
			return nil, err
		}
		attrs.NotBefore, set = &t, true
	}
	if cmd.Flags().Changed("enabled") {
		attrs.Enabled, set = to.Ptr(enabled), true
	}
	if !set {
		return nil, nil
	}
	return &attrs, nil
}

func (a *app) keyAddCmd() *cobra.Command {
	var destination, expires, notBefore string
	var size int
	var ops []string
	var enabled bool
	cmd := &cobra.Command{
		Use:   "add VAULT NAME [--destination HSM|Software] [--size 2048]",
		Short: "Create a key, or a new version of it (Add-AzKeyVaultKey)",
		Args:  cobra.ExactArgs(2),
		Example: `  ck vault key add ContosoEXOAKV01 ContosoEXOKey1 --destination HSM --as admin@contoso.com
  ck vault key add ContosoEXOAKV01 ContosoEXOKey1 --size 4096 --ops wrapKey,unwrapKey --as admin@contoso.com`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var kty azkeys.KeyType
			switch strings.ToLower(destination) {
			case "hsm":
				kty = azkeys.KeyTypeRSAHSM
			case "software":
				kty = azkeys.KeyTypeRSA
			default:
				return fmt.Errorf("--destination %q: use HSM or Software", destination)
			}
			attrs, err := keyAttrs(cmd, expires, notBefore, enabled)
			if err != nil {
				return err
			}
			c, err := a.keys(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			resp, err := c.CreateKey(cmd.Context(), args[1], azkeys.CreateKeyParameters{Kty: &kty, KeySize: to.Ptr(int32(size)), KeyOps: keyOps(ops), KeyAttributes: attrs}, nil)
			if err != nil {
				return err
			}
			return a.printKey(resp.KeyBundle)
		},
	}
	f := cmd.Flags()
	f.StringVar(&destination, "destination", "HSM", "HSM (RSA-HSM, needs a premium vault) or Software (RSA)")
	f.IntVar(&size, "size", 2048, "RSA key size: 2048, 3072 or 4096")
	f.StringSliceVar(&ops, "ops", nil, "key operations (default: encrypt,decrypt,sign,verify,wrapKey,unwrapKey)")
	f.StringVar(&expires, "expires", "", "expiry date (Customer Key wants none, or 9999-12-31)")
	f.StringVar(&notBefore, "not-before", "", "activation date")
	f.BoolVar(&enabled, "enabled", true, "create the key enabled")
	return cmd
}

func (a *app) keyImportCmd() *cobra.Command {
	var file string
	var hsm bool
	cmd := &cobra.Command{
		Use:     "import VAULT NAME --jwk FILE [--hsm]",
		Short:   "Import an RSA private key given as a JSON Web Key",
		Args:    cobra.ExactArgs(2),
		Example: `  ck vault key import ContosoEXOAKV01 ContosoEXOKey2 --jwk key.jwk.json --hsm --as admin@contoso.com`,
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			var jwk azkeys.JSONWebKey
			if err := json.Unmarshal(data, &jwk); err != nil {
				return fmt.Errorf("%s is not a JSON Web Key: %w", file, err)
			}
			c, err := a.keys(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			resp, err := c.ImportKey(cmd.Context(), args[1], azkeys.ImportKeyParameters{Key: &jwk, HSM: to.Ptr(hsm)}, nil)
			if err != nil {
				return err
			}
			return a.printKey(resp.KeyBundle)
		},
	}
	cmd.Flags().StringVar(&file, "jwk", "", "file holding the key as a JWK (kty RSA with n, e, d, p, q)")
	cmd.Flags().BoolVar(&hsm, "hsm", false, "protect the key as RSA-HSM (premium vaults)")
	cmd.MarkFlagRequired("jwk")
	return cmd
}

func (a *app) keyShowCmd() *cobra.Command {
	var version string
	cmd := &cobra.Command{
		Use:   "show VAULT NAME [--version V]",
		Short: "Show a key: its URI, attributes and recovery level (Get-AzKeyVaultKey)",
		Args:  cobra.ExactArgs(2),
		Example: `  ck vault key show ContosoEXOAKV01 ContosoEXOKey1 --as admin@contoso.com
  ck vault key show ContosoEXOAKV01 ContosoEXOKey1 -o json --as admin@contoso.com | jq -r .key.kid`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.keys(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			resp, err := c.GetKey(cmd.Context(), args[1], version, nil)
			if err != nil {
				return err
			}
			return a.printKey(resp.KeyBundle)
		},
	}
	cmd.Flags().StringVar(&version, "version", "", "a version (default: the latest)")
	return cmd
}

func (a *app) printKeyItems(items []*azkeys.KeyProperties, deleted []*azkeys.DeletedKeyProperties) error {
	if a.output == "json" {
		if deleted != nil {
			return a.printJSON(deleted)
		}
		return a.printJSON(items)
	}
	var rows [][]string
	for _, it := range items {
		rows = append(rows, []string{it.KID.Name(), it.KID.Version(), strconv.FormatBool(*it.Attributes.Enabled), expiry(it.Attributes.Expires), ts(it.Attributes.Created), deref(it.Attributes.RecoveryLevel)})
	}
	for _, it := range deleted {
		rows = append(rows, []string{it.KID.Name(), "", strconv.FormatBool(*it.Attributes.Enabled), expiry(it.Attributes.Expires), ts(it.DeletedDate), ts(it.ScheduledPurgeDate)})
	}
	if deleted != nil {
		a.table([]string{"NAME", "VERSION", "ENABLED", "EXPIRES", "DELETED", "SCHEDULED PURGE"}, rows)
		return nil
	}
	a.table([]string{"NAME", "VERSION", "ENABLED", "EXPIRES", "CREATED", "RECOVERY LEVEL"}, rows)
	return nil
}

func expiry(t *time.Time) string {
	if t == nil {
		return "(none)"
	}
	return ts(t)
}

func (a *app) keyURICmd() *cobra.Command {
	var versionless bool
	cmd := &cobra.Command{
		Use:   "uri VAULT NAME",
		Short: "Print a key's URI, for the DEPs ((Get-AzKeyVaultKey -VaultName V).Id)",
		Args:  cobra.ExactArgs(2),
		Example: `  ck vault key uri ContosoEXOAKV01 ContosoEXOKey1 --as admin@contoso.com
  ck dep new Contoso-EXO-DEP-1 --key "$(ck vault key uri ContosoEXOAKV01 ContosoEXOKey1 --as admin@contoso.com)" --key ...`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.keys(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			resp, err := c.GetKey(cmd.Context(), args[1], "", nil)
			if err != nil {
				return err
			}
			id := string(*resp.Key.KID)
			if versionless {
				id = strings.TrimSuffix(id, "/"+resp.Key.KID.Version())
			}
			fmt.Fprintln(a.stdout, printable(id))
			return nil
		},
	}
	cmd.Flags().BoolVar(&versionless, "versionless", false, "without the version (new wraps then use the latest version)")
	return cmd
}

func (a *app) keyListCmd() *cobra.Command {
	var deleted bool
	cmd := &cobra.Command{
		Use:     "list VAULT [--deleted]",
		Short:   "List the keys of a vault (Get-AzKeyVaultKey -VaultName)",
		Args:    cobra.ExactArgs(1),
		Example: `  ck vault key list ContosoEXOAKV01 --as admin@contoso.com`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.keys(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if deleted {
				out := []*azkeys.DeletedKeyProperties{}
				for p := c.NewListDeletedKeyPropertiesPager(nil); p.More(); {
					page, err := p.NextPage(cmd.Context())
					if err != nil {
						return err
					}
					out = append(out, page.Value...)
				}
				return a.printKeyItems(nil, out)
			}
			out := []*azkeys.KeyProperties{}
			for p := c.NewListKeyPropertiesPager(nil); p.More(); {
				page, err := p.NextPage(cmd.Context())
				if err != nil {
					return err
				}
				out = append(out, page.Value...)
			}
			return a.printKeyItems(out, nil)
		},
	}
	cmd.Flags().BoolVar(&deleted, "deleted", false, "list soft-deleted keys")
	return cmd
}

func (a *app) keyVersionsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "versions VAULT NAME",
		Short: "List every version of a key, oldest first",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.keys(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			out := []*azkeys.KeyProperties{}
			for p := c.NewListKeyPropertiesVersionsPager(args[1], nil); p.More(); {
				page, err := p.NextPage(cmd.Context())
				if err != nil {
					return err
				}
				out = append(out, page.Value...)
			}
			return a.printKeyItems(out, nil)
		},
	}
}

func (a *app) keyUpdateCmd() *cobra.Command {
	var version, expires, notBefore string
	var enabled bool
	var ops []string
	cmd := &cobra.Command{
		Use:   "update VAULT NAME [--expires 9999-12-31] [--enabled=false] [--ops ...]",
		Short: "Change a key's attributes (Update-AzKeyVaultKey); an expiry can move, never go away",
		Args:  cobra.ExactArgs(2),
		Example: `  ck vault key update ContosoEXOAKV01 ContosoEXOKey1 --expires 9999-12-31 --as admin@contoso.com
  ck vault key update ContosoEXOAKV01 ContosoEXOKey1 --enabled=false --as admin@contoso.com`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.EqualFold(expires, "none") {
				return a.removeExpiry(cmd.Context(), args[0], args[1], version)
			}
			attrs, err := keyAttrs(cmd, expires, notBefore, enabled)
			if err != nil {
				return err
			}
			if attrs == nil && ops == nil {
				return fmt.Errorf("nothing to update: give --expires, --not-before, --enabled or --ops")
			}
			c, err := a.keys(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			resp, err := c.UpdateKey(cmd.Context(), args[1], version, azkeys.UpdateKeyParameters{KeyAttributes: attrs, KeyOps: keyOps(ops)}, nil)
			if err != nil {
				return err
			}
			return a.printKey(resp.KeyBundle)
		},
	}
	f := cmd.Flags()
	f.StringVar(&version, "version", "", "a version (default: the latest)")
	f.StringVar(&expires, "expires", "", "new expiry date, e.g. 9999-12-31 (\"none\" asks to remove it, which the vault refuses once set)")
	f.StringVar(&notBefore, "not-before", "", "new activation date")
	f.BoolVar(&enabled, "enabled", true, "enable or disable the key")
	f.StringSliceVar(&ops, "ops", nil, "new key operations")
	return cmd
}

func (a *app) keyRotateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "rotate VAULT NAME",
		Short: "Create a new version of a key (older versions keep unwrapping)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.keys(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			resp, err := c.RotateKey(cmd.Context(), args[1], nil)
			if err != nil {
				return err
			}
			return a.printKey(resp.KeyBundle)
		},
	}
}

func (a *app) keyBackupCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:     "backup VAULT NAME --out FILE",
		Short:   "Back up a key with all its versions to an encrypted file (Backup-AzKeyVaultKey)",
		Args:    cobra.ExactArgs(2),
		Example: `  ck vault key backup ContosoEXOAKV01 ContosoEXOKey1 --out ContosoEXOKey1.backup --as admin@contoso.com`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.keys(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			resp, err := c.BackupKey(cmd.Context(), args[1], nil)
			if err != nil {
				return err
			}
			if err := writeFileAtomic(out, resp.Value, 0o600); err != nil { // a new 0600 file; a symbolic link is replaced, not followed
				return err
			}
			if a.output == "json" {
				return a.printJSON(map[string]any{"key": args[1], "file": out, "bytes": len(resp.Value)})
			}
			fmt.Fprintf(a.stdout, "Backed up %s (all versions, %d bytes, encrypted) to %s\n", args[1], len(resp.Value), out)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "file to write")
	cmd.MarkFlagRequired("out")
	return cmd
}

func (a *app) keyRestoreCmd() *cobra.Command {
	var in string
	cmd := &cobra.Command{
		Use:     "restore VAULT --in FILE",
		Short:   "Restore a backed-up key into a vault of the same subscription (Restore-AzKeyVaultKey)",
		Args:    cobra.ExactArgs(1),
		Example: `  ck vault key restore ContosoEXOAKV01 --in ContosoEXOKey1.backup --as admin@contoso.com`,
		RunE: func(cmd *cobra.Command, args []string) error {
			blob, err := os.ReadFile(in)
			if err != nil {
				return err
			}
			c, err := a.keys(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			resp, err := c.RestoreKey(cmd.Context(), azkeys.RestoreKeyParameters{KeyBackup: blob}, nil)
			if err != nil {
				return err
			}
			return a.printKey(resp.KeyBundle)
		},
	}
	cmd.Flags().StringVar(&in, "in", "", "backup file")
	cmd.MarkFlagRequired("in")
	return cmd
}

func (a *app) keyDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete VAULT NAME",
		Short: "Soft-delete a key (Remove-AzKeyVaultKey); recoverable for the vault's retention period",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.keys(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			resp, err := c.DeleteKey(cmd.Context(), args[1], nil)
			if err != nil {
				return err
			}
			if a.output == "json" {
				raw, _ := json.Marshal(resp.DeletedKey)
				return a.printJSON(json.RawMessage(raw))
			}
			fmt.Fprintf(a.stdout, "Key %s deleted; recoverable until %s (ck vault key recover %s %s).\n", args[1], ts(resp.ScheduledPurgeDate), args[0], args[1])
			return nil
		},
	}
}

func (a *app) keyRecoverCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "recover VAULT NAME",
		Short: "Recover a soft-deleted key with all its versions",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.keys(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			resp, err := c.RecoverDeletedKey(cmd.Context(), args[1], nil)
			if err != nil {
				return err
			}
			return a.printKey(resp.KeyBundle)
		},
	}
}

func (a *app) keyPurgeCmd() *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "purge VAULT NAME --yes",
		Short: "Permanently destroy a soft-deleted key (needs the purge permission; refused under purge protection)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !yes {
				return fmt.Errorf("purging key %s destroys it and makes every piece of data it protects unreadable, for good; run again with --yes to confirm", args[1])
			}
			c, err := a.keys(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if _, err := c.PurgeDeletedKey(cmd.Context(), args[1], nil); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Key %s purged.\n", args[1])
			return nil
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "confirm the purge")
	return cmd
}
