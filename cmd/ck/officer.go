package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"

	"github.com/customerkey/customerkey/client"
)

// officerCmd is ck officer: the authorised officers' keys (SPEC O7, T7).
// An officer keeps a private key; the tenant's global admin registers its
// public key; the officer approves a purge by signing it
// (ck dep purge approve NAME --key FILE).
func (a *app) officerCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "officer", Short: "Authorised officers' signing keys: keygen, register, confirm, list (T7)",
		Long: `An authorised officer designated at onboarding (ck onboarding new ... --officer UPN)
approves a data purge with their own signature, never with a token alone:

  1. the officer makes a key pair and keeps the private key:
       ck officer keygen --out cso.key            (cso.key 0600, cso.key.pub)
     (an existing ssh-ed25519 key works too: ~/.ssh/id_ed25519.pub)
  2. the tenant's global admin registers the public key:
       ck officer register cso@contoso.com --public-key cso.key.pub
  3. the service operator confirms it with the officer, out of band (the
     officer reads out the fingerprint that keygen printed):
       ck officer confirm cso@contoso.com --fingerprint SHA256:... --tenant Contoso
  4. the officer approves a purge by signing it:
       ck dep purge approve NAME --key cso.key

A key signs only once confirmed: the global admin, who issues every token,
cannot register a key of their own for an officer and sign in the
officer's name without the operator. Registering, replacing (which needs
a new confirmation) and confirming are in the audit log; registering and
replacing are refused while a purge request is open (confirming is not:
an approval still takes only a key registered before the request).`}
	var tenant string
	cmd.PersistentFlags().StringVar(&tenant, "tenant", "", "tenant ID or name (default: the tenant of your token)")

	var outFile, comment string
	keygen := &cobra.Command{Use: "keygen --out FILE", Short: "Make an officer's Ed25519 key pair: FILE (private, 0600) and FILE.pub", Args: cobra.NoArgs,
		Example: `  ck officer keygen --out cso.key --comment cso@contoso.com
  ck officer register cso@contoso.com --public-key cso.key.pub   # as the global admin`,
		Long: `Writes the private key to FILE (PKCS#8 PEM, as openssl reads it; mode
0600; never overwritten) and the public key to FILE.pub as an
ssh-ed25519 line, and prints the public key and its fingerprint. Keep
FILE to yourself: whoever holds it approves purges in your name. Give
FILE.pub (or the printed line) to the tenant's global admin to register.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if outFile == "" {
				return errors.New("--out FILE is required")
			}
			pub, priv, err := ed25519.GenerateKey(rand.Reader)
			if err != nil {
				return err
			}
			der, err := x509.MarshalPKCS8PrivateKey(priv)
			if err != nil {
				return err
			}
			f, err := os.OpenFile(outFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return fmt.Errorf("%w (key files are never overwritten)", err)
			}
			if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			line := client.AuthorizedKey(pub, comment)
			if err := os.WriteFile(outFile+".pub", []byte(line+"\n"), 0o644); err != nil {
				return err
			}
			res := struct {
				PrivateKeyFile string `json:"privateKeyFile"`
				PublicKeyFile  string `json:"publicKeyFile"`
				PublicKey      string `json:"publicKey"`
				Fingerprint    string `json:"fingerprint"`
			}{outFile, outFile + ".pub", line, client.KeyFingerprint(pub)}
			if a.output == "json" {
				return a.printJSON(res)
			}
			fmt.Fprintf(a.stderr, "wrote %s (private: keep it) and %s\n", outFile, outFile+".pub")
			fmt.Fprintln(a.stderr, "read the fingerprint below to the service operator yourself (by phone, in person): they confirm your key by it, not by what anyone else sends them")
			a.fields("Public key", res.PublicKey, "Fingerprint", res.Fingerprint)
			return nil
		}}
	keygen.Flags().StringVar(&outFile, "out", "", "private key file to write (the public key goes to FILE.pub)")
	keygen.Flags().StringVar(&comment, "comment", "", "comment on the public key line, e.g. the officer's address")

	showOfficer := func(o client.Officer) {
		reg := ""
		if o.Registered != nil {
			reg = o.Registered.Format(time.RFC3339) + " by " + o.RegisteredBy
		}
		conf := "no: the service operator confirms it with the fingerprint the officer reads out (ck officer confirm " + o.Officer + " --fingerprint FP)"
		if o.Confirmed != nil {
			conf = o.Confirmed.Format(time.RFC3339) + " by " + o.ConfirmedBy
		}
		a.fields("Officer", o.Officer, "Fingerprint", o.Fingerprint, "Public key", o.PublicKey, "Registered", reg, "Confirmed", conf)
		if o.Replaced != "" {
			a.fields("Replaced", o.Replaced)
		}
	}
	var pubFile string
	register := &cobra.Command{Use: "register UPN --public-key FILE", Short: "Register or replace an authorised officer's public key (the tenant's global admin)", Args: cobra.ExactArgs(1),
		Example: `  ck officer register cso@contoso.com --public-key cso.key.pub
  ck officer register cso@contoso.com --public-key ~/.ssh/id_ed25519.pub`,
		Long: `Registers the Ed25519 public key that signs the officer's purge approvals:
an ssh-ed25519 line (FILE.pub of: ck officer keygen --out FILE), PEM, or
32 bytes base64. The officer must be designated at onboarding. A second
registration replaces the key: it is recorded in the audit log with both
fingerprints, and refused while a purge request is open.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if pubFile == "" {
				return errors.New("--public-key FILE is required")
			}
			b, err := os.ReadFile(pubFile)
			if err != nil {
				return err
			}
			if _, err := client.ParseOfficerKey(string(b)); err != nil {
				return fmt.Errorf("%s: %w", pubFile, err)
			}
			c, t, err := a.tenantClient(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			o, err := c.RegisterOfficerKey(cmd.Context(), t, args[0], client.RegisterOfficerKeyRequest{PublicKey: string(b)})
			return out(a, o, err, showOfficer)
		}}
	register.Flags().StringVar(&pubFile, "public-key", "", "the officer's public key file")
	var fingerprint, confirmPub string
	confirm := &cobra.Command{Use: "confirm UPN (--fingerprint FP | --public-key FILE) --tenant NAME", Short: "Confirm an officer's registered key with the officer (the service operator)", Args: cobra.ExactArgs(1),
		Example: `  ck officer confirm cso@contoso.com --fingerprint SHA256:lbmsoA0yIEcEiVDRnMWuzm+nV+3ZEEpVIURqFoeSspg --tenant Contoso
  ck officer confirm cso@contoso.com --public-key cso.key.pub --tenant Contoso`,
		Long: `The service operator confirms the key registered for an officer, after
checking its fingerprint with the officer out of band (by phone, in
person): the fingerprint that keygen printed for them, or a public key
file the officer sent you directly (never one that came through the
tenant's admins: the check is what keeps them from signing as the
officer). Only the key with that fingerprint is confirmed: one registered
by someone else, or meanwhile, is refused (T7.KeyFingerprint). Until
confirmed, a key signs no purge approval.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case (fingerprint == "") == (confirmPub == ""):
				return errors.New("give the fingerprint the officer read out (--fingerprint SHA256:...) or the public key file they sent (--public-key FILE), one of them")
			case confirmPub != "":
				b, err := os.ReadFile(confirmPub)
				if err != nil {
					return err
				}
				pub, err := client.ParseOfficerKey(string(b))
				if err != nil {
					return fmt.Errorf("%s: %w", confirmPub, err)
				}
				fingerprint = client.KeyFingerprint(pub)
			}
			c, t, err := a.tenantClient(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			o, err := c.ConfirmOfficerKey(cmd.Context(), t, args[0], client.ConfirmOfficerKeyRequest{Fingerprint: fingerprint})
			return out(a, o, err, showOfficer)
		}}
	confirm.Flags().StringVar(&fingerprint, "fingerprint", "", "the key's fingerprint as the officer gave it (SHA256:...)")
	confirm.Flags().StringVar(&confirmPub, "public-key", "", "the officer's public key file, as the officer sent it")
	list := &cobra.Command{Use: "list", Short: "The authorised officers and their keys' fingerprints", Args: cobra.NoArgs,
		Example: "  ck officer list --token-file admin.token",
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, t, err := a.tenantClient(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			offs, err := c.Officers(cmd.Context(), t)
			return out(a, offs, err, func(offs client.Officers) {
				var rows [][]string
				for _, o := range offs.Value {
					fp, reg, conf := o.Fingerprint, "", ""
					if fp == "" {
						fp = "(no key: ck officer register " + o.Officer + " --public-key FILE)"
					}
					if o.Registered != nil {
						reg, conf = o.Registered.Format(time.RFC3339), "no"
					}
					if o.Confirmed != nil {
						conf = o.Confirmed.Format(time.RFC3339)
					}
					rows = append(rows, []string{o.Officer, fp, reg, conf})
				}
				a.table([]string{"OFFICER", "KEY", "REGISTERED", "CONFIRMED"}, rows)
			})
		}}
	cmd.AddCommand(keygen, register, confirm, list)
	return cmd
}

// readOfficerKey reads an officer's private key: PKCS#8 PEM (ck officer
// keygen, openssl genpkey -algorithm ed25519) or an OpenSSH ed25519 key
// (ssh-keygen -t ed25519; a passphrase from $CK_KEY_PASSPHRASE).
func readOfficerKey(file string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: not a PEM private key", file)
	}
	var k any
	switch blk.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	case "OPENSSH PRIVATE KEY":
		if pass := os.Getenv("CK_KEY_PASSPHRASE"); pass != "" {
			k, err = ssh.ParseRawPrivateKeyWithPassphrase(b, []byte(pass))
		} else {
			k, err = ssh.ParseRawPrivateKey(b)
		}
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			return nil, fmt.Errorf("%s is encrypted: give its passphrase in $CK_KEY_PASSPHRASE", file)
		}
	default:
		return nil, fmt.Errorf("%s: a %s block; want an Ed25519 private key (PRIVATE KEY or OPENSSH PRIVATE KEY)", file, blk.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	switch k := k.(type) {
	case ed25519.PrivateKey:
		return k, nil
	case *ed25519.PrivateKey:
		return *k, nil
	}
	return nil, fmt.Errorf("%s: not an Ed25519 key (officers sign with Ed25519)", file)
}

// statementLines is what an officer is about to sign, to read first.
// Every field is printable: the reason and the contact are the
// requester's words, and a request stored before the service refused
// control characters in them (R6.Reason, R6.Contact) must not erase,
// move or forge the lines the officer reads before signing (SPEC T7).
func statementLines(p client.PurgeRequest, officer string) string {
	var b strings.Builder
	printf(&b, "You sign, as %s, the approval of the PERMANENT purge of DEP %s (%s)\n", officer, p.Name, p.DEP)
	printf(&b, "of tenant %s, requested by %s at %s.\n", p.Tenant, p.RequestedBy, p.Requested)
	printf(&b, "Reason: %s\nContact: %s\n", p.Reason, p.Contact)
	printf(&b, "It deletes %d containers with all their data, for good:\n", len(p.Containers))
	for _, c := range p.Containers {
		printf(&b, "  %s\n", c)
	}
	return b.String()
}
