package console_test

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/audit"
)

// TestBrowserVerifier runs the console's audit chain verifier
// (static/audit.js, the code the Audit page runs) in Node on chains the
// Go code sealed, tampered with as audit.Verify's tests do, and on the
// independent hash vector of docs/format.md: the browser must name the
// same record as ck audit verify.
func TestBrowserVerifier(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("no node: the console's audit verifier is tested in Node (apt-get install nodejs)")
	}
	var chain []audit.Record
	var last audit.Record
	paris := time.FixedZone("CET", 3600)
	for i := range 6 {
		at := time.Unix(1700000000+int64(i), int64(i)*123456789+7).UTC()
		if i == 2 {
			at = at.In(paris) // an offset other than Z, and nanoseconds
		}
		r := audit.Seal(last, audit.Record{Tenant: "t1", Time: at, Actor: "exo@contoso.com (exchange-admin)", Action: "unwrap", Target: "dep-1",
			KeyID: "https://contoso.vault.ck.localhost/keys/k1/v1", Reason: "read mailbox item é", Outcome: "ok"})
		chain = append(chain, r)
		last = r
	}
	js := func(rs []audit.Record) []client.AuditRecord {
		out := make([]client.AuditRecord, len(rs))
		for i, r := range rs {
			out[i] = audit.JSON(r)
		}
		return out
	}
	cp := func() []client.AuditRecord { return js(slices.Clone(chain)) }
	head := func(seq int64, hash []byte) *client.AuditHead {
		return &client.AuditHead{Tenant: "t1", Seq: seq, Hash: hash}
	}
	type tc struct {
		Name    string               `json:"name"`
		Records []client.AuditRecord `json:"records,omitempty"`
		Head    *client.AuditHead    `json:"head,omitempty"`
		Record  *client.AuditRecord  `json:"record,omitempty"`
		want    int64
	}
	changed := cp()
	changed[2].Reason = "nothing to see"
	outcome := cp()
	outcome[4].Outcome = "ok (forged)"
	timed := cp()
	timed[1].Time = timed[1].Time.Add(time.Nanosecond)
	rehashed := slices.Clone(chain)
	rehashed[2].Actor = "someone else"
	rehashed[2].Hash = audit.Hash(rehashed[2])
	swapped := cp()
	swapped[3], swapped[4] = swapped[4], swapped[3]
	vector := audit.JSON(audit.Record{Tenant: "t1", Seq: 1, Time: time.Unix(1700000000, 5).UTC(), Actor: "a", Action: "wrap", Target: "dep-1", KeyID: "k", Reason: "r", Outcome: "ok"})
	cases := []tc{
		{Name: "intact", Records: cp()},
		{Name: "empty", Records: []client.AuditRecord{}},
		{Name: "field changed", Records: changed, want: 3},
		{Name: "outcome changed", Records: outcome, want: 5},
		{Name: "time changed by 1 ns", Records: timed, want: 2},
		{Name: "rehashed after change", Records: js(rehashed), want: 4},
		{Name: "removed", Records: slices.Delete(cp(), 3, 4), want: 4},
		{Name: "removed first", Records: cp()[1:], want: 1},
		{Name: "reordered", Records: swapped, want: 4},
		{Name: "reaches the head", Records: cp(), Head: head(6, chain[5].Hash)},
		{Name: "cut before the head", Records: cp()[:4], Head: head(6, chain[5].Hash), want: 6},
		{Name: "rewritten under the head", Records: cp(), Head: head(5, chain[5].Hash), want: 5},
		{Name: "vector", Record: &vector},
	}
	// What the Go verifier says of the same chains: the browser must agree.
	for _, c := range cases[:9] {
		var rs []audit.Record
		for _, r := range c.Records {
			x, err := audit.FromJSON(r)
			if err != nil {
				t.Fatal(err)
			}
			rs = append(rs, x)
		}
		var te *audit.TamperError
		err := audit.Verify(rs)
		if err != nil && (!errors.As(err, &te) || te.Seq != c.want) || err == nil && c.want != 0 {
			t.Fatalf("case %q: audit.Verify = %v, want record %d", c.Name, err, c.want)
		}
	}
	dir := t.TempDir()
	data, _ := json.Marshal(cases)
	file := filepath.Join(dir, "cases.json")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(node, "testdata/verify.mjs", file).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	var got map[string]json.RawMessage
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("node's answer: %v\n%s", err, out)
	}
	for _, c := range cases {
		if c.Record != nil {
			// Computed independently from the documented layout (internal/audit's TestHashVector).
			if want := `"7bb99bbf5ee56cb970d5afeecf8ae127a4760e2dfd7579eb49df07124a92c46c"`; string(got[c.Name]) != want {
				t.Errorf("the browser's hash of the vector record = %s, want %s", got[c.Name], want)
			}
			continue
		}
		var v struct {
			Seq    int64
			Reason string
		}
		if err := json.Unmarshal(got[c.Name], &v); err != nil {
			t.Fatalf("case %q: %s", c.Name, got[c.Name])
		}
		if v.Seq != c.want || (c.want != 0) == (v.Reason == "") || strings.Contains(v.Reason, "undefined") {
			t.Errorf("case %q: the browser says record %d (%q), want record %d", c.Name, v.Seq, v.Reason, c.want)
		}
	}
}
