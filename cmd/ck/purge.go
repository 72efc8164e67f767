package main

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/shred"
)

// purgeCmd is ck dep purge: the officer's approval, the request's state,
// and the crypto-shred certificate (SPEC R6).
func (a *app) purgeCmd(tenant *string) *cobra.Command {
	cmd := &cobra.Command{Use: "purge", Short: "The data purge path: approve, follow, and verify the crypto-shred certificate (R6)",
		Long: `The data purge path of a mailbox DEP, for a tenant leaving the service:

  1. remove the Exchange Online workload's wrap and unwrap permissions on
     both keys (ck vault access-policy remove ...);
  2. request the purge: ck dep set NAME --purge-request --reason R --contact C
     (refused while either key still unwraps; the DEP can no longer be
     assigned);
  3. each authorised officer designated at onboarding approves by signing
     the request with their own key (ck officer keygen; the global admin
     registers it with ck officer register): ck dep purge approve NAME --key FILE;
  4. the service deletes the DEP, deletes its mailboxes and destroys the
     availability key, then issues a signed crypto-shred certificate:
     ck dep purge certificate NAME --out cert.json; ck dep purge verify cert.json.`}
	var wait bool
	get := func(ctx context.Context, name string) (client.PurgeRequest, error) {
		c, t, err := a.tenantClient(ctx, *tenant)
		if err != nil {
			return client.PurgeRequest{}, err
		}
		return c.Purge(ctx, t, name)
	}
	showPurge := func(p client.PurgeRequest) {
		var approvals []string
		for _, ap := range p.Approvals {
			line := ap.Officer + " at " + ap.At.Format(time.RFC3339)
			if ap.Fingerprint != "" {
				line += " (signed, key " + ap.Fingerprint + ")"
			}
			approvals = append(approvals, line)
		}
		a.fields("DEP", p.Name, "ID", p.DEP, "State", p.State, "Reason", p.Reason, "Contact", p.Contact, "Requested by", p.RequestedBy+" at "+p.Requested,
			"Containers", strconv.Itoa(len(p.Containers))+" "+strings.Join(p.Containers, ", "),
			"Approvals", strconv.Itoa(len(p.Approvals))+" of "+strconv.Itoa(p.ApprovalsRequired)+" "+strings.Join(approvals, ", "))
		if p.Certificate != "" {
			fmt.Fprintln(a.stdout, "Certificate issued: ck dep purge certificate "+printable(p.Name)+" --out FILE")
		}
	}
	show := &cobra.Command{Use: "show NAME-or-GUID [--wait]", Short: "Show a DEP's purge request: state, approvals, certificate", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := get(cmd.Context(), args[0])
			last := ""
			for err == nil && wait && p.State != client.PurgePurged {
				if line := p.State + ": " + strconv.Itoa(len(p.Approvals)) + " of " + strconv.Itoa(p.ApprovalsRequired) + " approvals"; line != last {
					fmt.Fprintln(a.stderr, printable(line))
					last = line
				}
				select {
				case <-cmd.Context().Done():
					return cmd.Context().Err()
				case <-time.After(200 * time.Millisecond):
				}
				p, err = get(cmd.Context(), args[0])
			}
			return out(a, p, err, showPurge)
		}}
	show.Flags().BoolVar(&wait, "wait", false, "wait until the purge is done")
	var keyPath, officer string
	approve := &cobra.Command{Use: "approve NAME-or-GUID --key FILE", Short: "Approve a purge as an authorised officer: sign the request with your key (T7)", Args: cobra.ExactArgs(1),
		Example: `  ck dep purge approve Contoso-EXO-DEP-1 --key cso.key --token-file cso.token
  ck dep purge approve Contoso-EXO-DEP-1 --key ~/.ssh/id_ed25519 --officer cso@contoso.com`,
		Long: `Fetches the purge request, shows what it deletes, signs its canonical
statement (docs/format.md) locally with the officer's private key (--key:
from ck officer keygen, openssl, or an OpenSSH ed25519 key) and sends the
signature. The service checks it against the key registered for the
officer; the token only carries it. --officer defaults to your token's
subject.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if keyPath == "" {
				return errors.New("--key FILE is required: an approval is the officer's signature (make a key with: ck officer keygen --out FILE)")
			}
			key, err := readOfficerKey(keyPath)
			if err != nil {
				return err
			}
			c, t, err := a.tenantClient(cmd.Context(), *tenant)
			if err != nil {
				return err
			}
			who := officer
			if who == "" {
				me, err := c.Me(cmd.Context())
				if err != nil {
					return err
				}
				who = me.Subject
			}
			p, err := c.Purge(cmd.Context(), t, args[0])
			if err != nil {
				return err
			}
			st, err := p.Statement(who)
			if err != nil {
				return err
			}
			fmt.Fprint(a.stderr, statementLines(p, strings.ToLower(who)))
			fmt.Fprintf(a.stderr, "Signing with key %s\n", client.KeyFingerprint(key.Public().(ed25519.PublicKey)))
			p, err = c.ApprovePurge(cmd.Context(), t, p.DEP, client.ApprovePurgeRequest{Officer: who, Signature: client.SignPurge(key, st)})
			return out(a, p, err, showPurge)
		}}
	approve.Flags().StringVar(&keyPath, "key", "", "the officer's private key file")
	approve.Flags().StringVar(&officer, "officer", "", "the officer who signs (default: your token's subject)")
	var out string
	certificate := &cobra.Command{Use: "certificate NAME-or-GUID --out FILE", Short: "Save the signed crypto-shred certificate of a purged DEP", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return errors.New("--out FILE is required")
			}
			p, err := get(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if p.Certificate == "" {
				return fmt.Errorf("the purge of %s is %s: the certificate is issued when it is Purged (ck dep purge show %s --wait)", p.Name, p.State, p.Name)
			}
			data, err := base64.StdEncoding.DecodeString(p.Certificate)
			if err != nil {
				return err
			}
			if err := os.WriteFile(out, data, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "wrote %s\n", out)
			return nil
		}}
	certificate.Flags().StringVar(&out, "out", "", "file to write")
	var keyFile string
	verify := &cobra.Command{Use: "verify FILE [--public-key PEM-FILE]", Short: "Verify a crypto-shred certificate with the service's public key, and show what it states", Args: cobra.ExactArgs(1),
		Long: `Checks the certificate's Ed25519 signature with the service's public key:
from --public-key (PEM or base64, e.g. saved from /v1/service/signing-key
earlier), or else fetched from the service; then each officer's signature
over the purge request the certificate states, with the officer's public
key it carries (compare the fingerprints with those you registered:
ck officer list). Certificates of version 1, issued before officers
signed, verify with their approvals marked unsigned. Exit status 1 if
anything does not verify.`,
		Example: `  ck dep purge verify cert.json
  ck dep purge verify cert.json --public-key service-signing.pem -o json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			pub, err := a.signingKey(cmd.Context(), keyFile)
			if err != nil {
				return err
			}
			cert, err := shred.Verify(data, pub)
			if err != nil {
				return err
			}
			if a.output == "json" {
				return a.printJSON(cert)
			}
			fmt.Fprintln(a.stdout, "Signature OK: signed by the service's key "+cert.PublicKey)
			var keys []string
			for _, k := range cert.Keys {
				keys = append(keys, k.Kind+" "+k.ID+" "+k.State)
			}
			var approvals []string
			for _, ap := range cert.Approvals {
				if cert.Type == shred.TypeV1 {
					approvals = append(approvals, ap.Officer+" at "+ap.At.Format(time.RFC3339)+" (not signed: a version 1 certificate, from before officers signed)")
					continue
				}
				approvals = append(approvals, ap.Officer+" signature OK, key "+ap.Fingerprint+", at "+ap.At.Format(time.RFC3339))
			}
			a.fields("Tenant", cert.TenantName+" ("+cert.Tenant+")", "DEP", cert.DEPName+" ("+cert.DEP+")", "Containers", strings.Join(cert.Containers, ", "),
				"Keys", strings.Join(keys, "; "), "Requested", cert.RequestedBy+" at "+cert.Requested.Format(time.RFC3339), "Approvals", strings.Join(approvals, "; "), "Completed", cert.Completed.Format(time.RFC3339))
			return nil
		}}
	verify.Flags().StringVar(&keyFile, "public-key", "", "the service's public key file (PEM or base64); default: ask the service")
	cmd.AddCommand(show, approve, certificate, verify)
	return cmd
}
