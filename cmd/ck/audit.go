package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/audit"
	"github.com/customerkey/customerkey/internal/shred"
)

// sinceArg reads a --since flag: an RFC 3339 time, or a duration back from now.
func sinceArg(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return t, fmt.Errorf("--since %q: give an RFC 3339 time (2026-11-22T08:00:00Z) or a duration back from now (24h)", s)
	}
	return t, nil
}

func (a *app) auditCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Your tenant's audit log: every key access by the service and every admin action, hash-chained",
		Long: `Every wrap and unwrap of a DEP key with a customer key, every use of an
availability key (with who asked and why), every cache refresh and every
admin action (allowed or refused) is appended to the tenant's audit log.
Each record carries the SHA-256 of its fields and of the record before it,
so a changed, removed or reordered record breaks the chain from there on.

Readable by the tenant's global and compliance admins and by the operator.`}
	var tenant string
	cmd.PersistentFlags().StringVar(&tenant, "tenant", "", "tenant ID or name (default: the tenant of your token)")

	var since string
	list := &cobra.Command{Use: "list [--since T]", Short: "Show the audit log", Args: cobra.NoArgs,
		Example: "  ck audit list --since 24h\n  ck audit list -o json",
		RunE: func(cmd *cobra.Command, _ []string) error {
			from, err := sinceArg(since)
			if err != nil {
				return err
			}
			recs, err := a.readAudit(cmd.Context(), tenant, nil)
			if err != nil {
				return err
			}
			shown := []client.AuditRecord{}
			for _, r := range recs {
				if !r.Time.Before(from) {
					shown = append(shown, r)
				}
			}
			if a.output == "json" {
				return a.printJSON(shown)
			}
			var rows [][]string
			for _, r := range shown {
				rows = append(rows, []string{strconv.FormatInt(r.Seq, 10), r.Time.Format(time.RFC3339), r.Actor, r.Action, r.Target, r.KeyID, r.Outcome, r.Reason})
			}
			a.table([]string{"SEQ", "TIME", "ACTOR", "ACTION", "TARGET", "KEY", "OUTCOME", "REASON"}, rows)
			return nil
		}}
	list.Flags().StringVar(&since, "since", "", "only records at or after this time (RFC 3339, or a duration like 24h)")

	var out, headFile, keyFile string
	export := &cobra.Command{Use: "export --out FILE", Short: "Export the whole audit log as JSON lines, to keep and verify later", Args: cobra.NoArgs,
		Example: "  ck audit export --out contoso-audit.jsonl\n  ck audit verify contoso-audit.jsonl",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return errors.New("--out is required: the file to write the audit log to")
			}
			recs, err := a.readAudit(cmd.Context(), tenant, func(n int) { fmt.Fprintf(a.stderr, "\rexported %d records", n) })
			if err != nil {
				return err
			}
			// A new 0600 file renamed over out once whole: not an existing
			// file's looser mode, not a symbolic link's target, and never a
			// half-written export where a complete one was.
			f, err := createAtomic(out, 0o600)
			if err != nil {
				return err
			}
			w := bufio.NewWriter(f)
			enc := json.NewEncoder(w)
			for _, r := range recs {
				if err := enc.Encode(r); err != nil {
					f.Abort()
					return err
				}
			}
			if err := w.Flush(); err != nil {
				f.Abort()
				return err
			}
			if err := f.Commit(); err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "\r")
			fmt.Fprintf(a.stdout, "Exported %d audit records to %s.\n", len(recs), out)
			return nil
		}}
	export.Flags().StringVar(&out, "out", "", "file to write (JSON lines, one record per line)")

	verify := &cobra.Command{Use: "verify [FILE]", Short: "Check the audit chain, from an export or from the service; names the first tampered record", Args: cobra.MaximumNArgs(1),
		Long: `Recomputes every record's hash and link. With FILE, checks an export;
without, reads the chain from the service. Exits non-zero at the first
record that was changed, removed or reordered, naming it.

A copy with records cut from its end still verifies on its own: keep a
signed head (ck audit head) and give it with --head; the chain must then
reach the head's record, with the head's hash. Without FILE, the service's
current head is read first and checked the same way.`,
		Example: "  ck audit verify\n  ck audit head --out head.json && ck audit export --out contoso-audit.jsonl\n  ck audit verify contoso-audit.jsonl --head head.json",
		RunE: func(cmd *cobra.Command, args []string) error {
			var recs []client.AuditRecord
			var head *client.AuditHead
			var err error
			from := "the service"
			if headFile != "" {
				b, err := os.ReadFile(headFile)
				if err != nil {
					return err
				}
				head = &client.AuditHead{}
				if err := json.Unmarshal(b, head); err != nil {
					return fmt.Errorf("--head %s: %v: give a file written by ck audit head", headFile, err)
				}
			}
			if len(args) == 1 {
				from = args[0]
				recs, err = readAuditFile(args[0])
			} else {
				if head == nil { // the service's head first: the chain read after must reach it
					h, err := a.auditHead(cmd.Context(), tenant)
					if err != nil {
						return err
					}
					head = &h
				}
				recs, err = a.readAudit(cmd.Context(), tenant, nil)
			}
			if err != nil {
				return err
			}
			if head != nil {
				pub, err := a.signingKey(cmd.Context(), keyFile)
				if err != nil {
					return err
				}
				if err := audit.VerifyHead(*head, pub); err != nil {
					return fmt.Errorf("the head: %w", err)
				}
			}
			chain := make([]audit.Record, len(recs))
			for i, r := range recs {
				if chain[i], err = audit.FromJSON(r); err != nil {
					return fmt.Errorf("audit record %d: bad hash encoding (%v): the record was changed", r.Seq, err)
				}
			}
			if err := audit.Verify(chain); err != nil {
				return fmt.Errorf("%s: TAMPERED: %w", from, err)
			}
			if head != nil {
				if err := audit.CheckHead(chain, *head); err != nil {
					return fmt.Errorf("%s: TAMPERED: %w", from, err)
				}
			}
			if len(recs) == 0 {
				fmt.Fprintf(a.stdout, "%s: the audit log is empty.\n", from)
				return nil
			}
			last := recs[len(recs)-1]
			printf(a.stdout, "%s: %d audit records of tenant %s, chain intact.\nLast: record %d at %s, hash %s\n",
				from, len(recs), last.Tenant, last.Seq, last.Time.Format(time.RFC3339), last.Hash)
			return nil
		}}
	verify.Flags().StringVar(&headFile, "head", "", "a head saved earlier with ck audit head: the chain must reach it (catches records cut from the end)")
	verify.Flags().StringVar(&keyFile, "public-key", "", "the service's public key file (PEM or base64) to check the head; default: ask the service")
	head := &cobra.Command{Use: "head --out FILE", Short: "Save the service's signed statement of where the audit chain ends now", Args: cobra.NoArgs,
		Long: `The chain links each record to the one before, so a copy with records cut
from its end still verifies on its own. Keep a signed head from time to
time: "ck audit verify --head" checks that a later copy still reaches it.`,
		Example: "  ck audit head --out head-2026-11-22.json",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return errors.New("--out is required: the file to write the head to")
			}
			h, err := a.auditHead(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			b, _ := json.MarshalIndent(h, "", "  ")
			if err := writeFileAtomic(out, append(b, '\n'), 0o600); err != nil {
				return err
			}
			printf(a.stdout, "Head of tenant %s: record %d at %s, signed by the service. Saved to %s.\n", h.Tenant, h.Seq, h.Time.Format(time.RFC3339), out)
			return nil
		}}
	head.Flags().StringVar(&out, "out", "", "file to write")
	cmd.AddCommand(list, export, verify, head)
	return cmd
}

// auditHead gets the service's signed head of a tenant's chain.
func (a *app) auditHead(ctx context.Context, tenant string) (client.AuditHead, error) {
	c, t, err := a.tenantClient(ctx, tenant)
	if err != nil {
		return client.AuditHead{}, err
	}
	return c.AuditHead(ctx, t)
}

// signingKey is the service's Ed25519 public key: from keyFile (PEM or
// base64) if given, else asked of the service.
func (a *app) signingKey(ctx context.Context, keyFile string) (ed25519.PublicKey, error) {
	if keyFile != "" {
		b, err := os.ReadFile(keyFile)
		if err != nil {
			return nil, err
		}
		return shred.ParsePublicKey(string(b))
	}
	c, err := a.service()
	if err != nil {
		return nil, err
	}
	k, err := c.SigningKey(ctx)
	if err != nil {
		return nil, err
	}
	return shred.ParsePublicKey(k.PublicKey)
}

// readAudit reads a tenant's whole chain from the service, page by page.
func (a *app) readAudit(ctx context.Context, tenant string, progress func(int)) ([]client.AuditRecord, error) {
	c, t, err := a.tenantClient(ctx, tenant)
	if err != nil {
		return nil, err
	}
	return c.AuditLog(ctx, t, progress)
}

// readAuditFile reads an export of `ck audit export`.
func readAuditFile(file string) ([]client.AuditRecord, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []client.AuditRecord
	dec := json.NewDecoder(f)
	for {
		var r client.AuditRecord
		err := dec.Decode(&r)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: record %d: %v: give a file written by ck audit export (JSON lines)", file, len(out)+1, err)
		}
		out = append(out, r)
	}
}
