package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Crash tests (SPEC R2, issue 5): ck dev is killed with SIGKILL at random
// points of a site key roll, a mailbox re-assignment and a purge; after a
// restart every job converges and every item reads back identical.
// CK_CRASH_ROUNDS sets the rounds per operation (default 20), CK_CRASH_SEED
// the random seed (logged) to replay a run.

// devProc is a ck dev process of this test binary.
type devProc struct {
	t    *testing.T
	dir  string
	port int
	cmd  *exec.Cmd
}

func (d *devProc) start() {
	d.t.Helper()
	conn := filepath.Join(d.dir, DevFile)
	os.Remove(conn)
	log, err := os.OpenFile(filepath.Join(d.dir, "dev.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		d.t.Fatal(err)
	}
	defer log.Close()
	d.cmd = exec.Command(os.Args[0], "dev", "--data", d.dir, "--port", strconv.Itoa(d.port), "--feature-delay", "10ms", "--job-lease", "300ms")
	d.cmd.Env = append(os.Environ(), "CK_TEST_RUN_CK=1")
	d.cmd.Stdout, d.cmd.Stderr = log, log
	if err := d.cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(conn); err == nil {
			return
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("ck dev did not start; its log:\n%s", d.log())
		}
	}
}

func (d *devProc) kill() {
	d.cmd.Process.Kill() // SIGKILL: no shutdown of any kind
	d.cmd.Wait()
}

func (d *devProc) log() string {
	b, _ := os.ReadFile(filepath.Join(d.dir, "dev.log"))
	if len(b) > 20000 {
		b = b[len(b)-20000:]
	}
	return string(b)
}

// freePorts finds a port with the next two free too (ck dev --port N uses
// N, N+1 and N+2); the same ports are used across restarts, since DEPs
// name their keys by URL.
func freePorts(t *testing.T) int {
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		ok := p < 65000
		for i := 1; i <= 2 && ok; i++ {
			if l2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+i)); err == nil {
				l2.Close()
			} else {
				ok = false
			}
		}
		if ok {
			return p
		}
	}
	t.Fatal("no three consecutive free ports")
	return 0
}

// ckRun runs a ck command in this process against the dev connection file.
func ckRun(conf string, args ...string) (string, error) {
	var out, errb bytes.Buffer
	a := &app{stdout: &out, stderr: &errb}
	root := a.rootCmd()
	root.SetArgs(append([]string{"--config", conf}, args...))
	if err := root.ExecuteContext(context.Background()); err != nil {
		return out.String(), fmt.Errorf("ck %s: %s", strings.Join(args, " "), friendly(err))
	}
	return out.String(), nil
}

func TestCrashConvergence(t *testing.T) {
	if testing.Short() {
		t.Skip("crash tests kill and restart ck dev many times")
	}
	rounds := 20
	if v, err := strconv.Atoi(os.Getenv("CK_CRASH_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	seed := uint64(time.Now().UnixNano())
	if v, err := strconv.ParseUint(os.Getenv("CK_CRASH_SEED"), 10, 64); err == nil {
		seed = v
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	t.Logf("random seed %d, %d rounds per operation", seed, rounds)
	dir := t.TempDir()
	d := &devProc{t: t, dir: dir, port: freePorts(t)}
	d.start()
	t.Cleanup(d.kill)
	conf := filepath.Join(dir, DevFile)
	ck := func(args ...string) string {
		t.Helper()
		out, err := ckRun(conf, args...)
		if err != nil {
			t.Fatalf("%v\nck dev log:\n%s", err, d.log())
		}
		return out
	}
	tok := func(name string) string { return filepath.Join(dir, name+".token") }
	const exo, spo = "00000002-0000-0ff1-ce00-000000000000", "00000003-0000-0ff1-ce00-000000000000"

	// The seed set-up: two vaults with two keys, both workloads granted.
	ck("vault", "tenant", "create", "Contoso", "--id", "7c8d9e0f-1a2b-4c3d-8e9f-0a1b2c3d4e5f")
	for _, p := range []string{"owner@contoso.com", exo, spo, "19f7f505-34aa-44a4-9dcc-6a768854d2ea", "c066d759-24ae-40e7-a56f-027002b5d3e4"} { // the three Customer Key requires, and SharePoint
		ck("vault", "principal", "create", p, "--tenant", "Contoso")
	}
	subs := []string{"11111111-aaaa-4000-8000-000000000001", "22222222-bbbb-4000-8000-000000000002"}
	vaults := []string{"CrashAKV01", "CrashAKV02"}
	keyURI := func(i int, key string, versioned bool) string {
		args := []string{"vault", "key", "uri", vaults[i], key, "--as", "owner@contoso.com"}
		if !versioned {
			args = append(args, "--versionless")
		}
		return strings.TrimSpace(ck(args...))
	}
	for i, region := range []string{"eastus", "westus"} {
		ck("vault", "subscription", "create", "CK"+strconv.Itoa(i+1), "--tenant", "Contoso", "--owner", "owner@contoso.com", "--id", subs[i])
		ck("vault", "feature", "register", "mandatoryRetentionPeriodEnabled", "--subscription", "CK"+strconv.Itoa(i+1), "--wait")
		ck("vault", "create", vaults[i], "--subscription", "CK"+strconv.Itoa(i+1), "--region", region, "--sku", "premium")
		ck("vault", "access-policy", "set", vaults[i], "--upn", "owner@contoso.com", "--key-permissions", "all")
		for _, app := range []string{exo, spo} {
			ck("vault", "access-policy", "set", vaults[i], "--spn", app, "--key-permissions", "get,wrapKey,unwrapKey")
		}
		for _, k := range []string{"KeyA", "KeyB"} {
			ck("vault", "key", "add", vaults[i], k, "--as", "owner@contoso.com")
		}
	}
	ck("tenant", "create", "Contoso", "--id", "7c8d9e0f-1a2b-4c3d-8e9f-0a1b2c3d4e5f")
	ck("tenant", "plans", "Contoso", "--plan", "E5")
	ck("tenant", "token", "Contoso", "--subject", "admin@contoso.com", "--role", "global-admin", "--out", tok("admin"))
	ck("tenant", "token", "Contoso", "--subject", "cso@contoso.com", "--role", "compliance-admin", "--out", tok("cso"), "--token-file", tok("admin"))
	for _, sc := range []string{"EXO", "SPO"} {
		ck("onboarding", "new", "--scenario", sc, "--mode", "Enable", "--subscription1", subs[0], "--vault1", vaults[0], "--key1", "KeyA",
			"--subscription2", subs[1], "--vault2", vaults[1], "--key2", "KeyA", "--officer", "cso@contoso.com", "--token-file", tok("admin"))
	}
	// The officer's signing key (T7), registered by the global admin and
	// confirmed by the operator.
	officerKey := filepath.Join(dir, "cso.key")
	ck("officer", "keygen", "--out", officerKey)
	ck("officer", "register", "cso@contoso.com", "--public-key", officerKey+".pub", "--token-file", tok("admin"))
	ck("officer", "confirm", "cso@contoso.com", "--public-key", officerKey+".pub", "--tenant", "Contoso")
	as := func(args ...string) string { return ck(append(args, "--token-file", tok("admin"))...) }
	as("dep", "new", "DEP-A", "--key", keyURI(0, "KeyA", false), "--key", keyURI(1, "KeyA", false))
	as("dep", "new", "DEP-B", "--key", keyURI(0, "KeyB", false), "--key", keyURI(1, "KeyB", false))

	// Data: mailboxes on DEP-A, sites in a registered geo.
	content := map[[2]string]string{} // {mailbox or "site:NAME", item} -> content
	var mailboxes []string
	for i := range 24 {
		mb := fmt.Sprintf("user%02d@contoso.com", i)
		mailboxes = append(mailboxes, mb)
		ck("tenant", "licence", "Contoso", mb, "--plan", "E5")
		as("mailbox", "create", mb, "--dep", "DEP-A")
		for j := range 2 {
			item := "msg-" + strconv.Itoa(j)
			content[[2]string{mb, item}] = fmt.Sprintf("mail %d of %s", j, mb)
			as("mailbox", "item", "put", mb, item, "--data", content[[2]string{mb, item}])
		}
	}
	for i := range 30 {
		site := fmt.Sprintf("site-%02d", i)
		as("site", "create", site, "--geo", "NAM")
		content[[2]string{"site:" + site, "doc.txt"}] = "document of " + site
		as("site", "file", "put", site, "doc.txt", "--data", "document of "+site)
	}
	version := func(i int, key string) string {
		u := keyURI(i, key, true)
		return u[strings.LastIndex(u, "/")+1:]
	}
	as("spo", "dep", "register", "--geo", "NAM", "--primary-vault", vaults[0], "--primary-key", "KeyA", "--primary-version", version(0, "KeyA"),
		"--secondary-vault", vaults[1], "--secondary-key", "KeyA", "--secondary-version", version(1, "KeyA"), "--wait")

	readAll := func(when string) {
		t.Helper()
		for k, want := range content {
			var out string
			var err error
			if site, ok := strings.CutPrefix(k[0], "site:"); ok {
				out, err = ckRun(conf, "site", "file", "get", site, k[1], "--token-file", tok("admin"))
			} else {
				out, err = ckRun(conf, "mailbox", "item", "get", k[0], k[1], "--token-file", tok("admin"))
			}
			if err != nil || strings.TrimSuffix(out, "\n") != want {
				t.Fatalf("%s: %v: %q, %v, want %q\nck dev log:\n%s", when, k, out, err, want, d.log())
			}
		}
	}
	// crash runs work in the background and kills ck dev after a random
	// delay up to span, then restarts it. With span 0 it lets work finish
	// and measures how long work and then done took: the span of later
	// rounds, so that the kills land anywhere in the operation.
	crash := func(span *time.Duration, work func(), done func() bool) {
		t.Helper()
		if *span == 0 {
			start := time.Now()
			work()
			for !done() {
				time.Sleep(2 * time.Millisecond)
			}
			*span = max(time.Since(start), 5*time.Millisecond)
			t.Logf("uninterrupted: %s", span.Round(time.Millisecond))
			return
		}
		var wg sync.WaitGroup
		wg.Go(work)
		time.Sleep(time.Duration(rng.Int64N(int64(*span))))
		d.kill()
		wg.Wait()
		d.start()
	}
	// unfinished reports whether the tenant's newest job of kind was left
	// unfinished by the crash (counted, to show where the kills landed).
	unfinished := func(kind string) bool {
		out, err := ckRun(conf, "job", "list", "-o", "json", "--token-file", tok("admin"))
		if err != nil {
			return false
		}
		var l struct {
			Value []struct{ Kind, State string }
		}
		json.Unmarshal([]byte(out), &l)
		for _, j := range l.Value {
			if j.Kind == kind {
				return j.State != "succeeded"
			}
		}
		return false
	}
	// waitFor polls until done reports true.
	waitFor := func(what string, done func() bool) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); !done(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				jobs, _ := ckRun(conf, "job", "list", "--token-file", tok("admin"))
				geo, _ := ckRun(conf, "spo", "dep", "show", "--token-file", tok("admin"))
				t.Fatalf("%s did not converge\njobs:\n%s\ngeo:\n%s\nck dev log:\n%s", what, jobs, geo, d.log())
			}
		}
	}

	// roll
	func() {
		interrupted, span := 0, time.Duration(0)
		for r := range rounds + 1 {
			side, i := "Primary", 0
			if r%2 == 1 {
				side, i = "Secondary", 1
			}
			ck("vault", "key", "add", vaults[i], "KeyA", "--as", "owner@contoso.com")
			v := version(i, "KeyA")
			rolled := func() bool {
				out, err := ckRun(conf, "spo", "dep", "show", "--geo", "NAM", "--token-file", tok("admin"))
				return err == nil && strings.Contains(out, "Registered") && strings.Contains(out, "100% (30/30)") && strings.Contains(out, "/"+v)
			}
			crash(&span, func() {
				ckRun(conf, "spo", "dep", "update", "--geo", "NAM", "--key-type", side, "--vault", vaults[i], "--key", "KeyA", "--version", v, "--token-file", tok("admin"))
			}, rolled)
			if unfinished("rewrap-sites") {
				interrupted++
			}
			if !rolled() { // the request itself may have died with the process
				ckRun(conf, "spo", "dep", "update", "--geo", "NAM", "--key-type", side, "--vault", vaults[i], "--key", "KeyA", "--version", v, "--token-file", tok("admin"))
			}
			waitFor("the roll", rolled)
			readAll(fmt.Sprintf("roll round %d", r))
		}
		t.Logf("%d of %d rolls were killed unfinished", interrupted, rounds)
	}()

	// reassign
	func() {
		deps := []string{"DEP-B", "DEP-A"}
		interrupted, span := 0, time.Duration(0)
		for r := range rounds + 1 {
			to := deps[r%2]
			assign := func() error {
				for _, mb := range mailboxes {
					if _, err := ckRun(conf, "mailbox", "set", mb, "--dep", to, "--token-file", tok("admin")); err != nil {
						return err
					}
				}
				return nil
			}
			crash(&span, func() {
				if assign() != nil {
					interrupted++
				}
			}, func() bool { return true })
			// Every mailbox is on one DEP or the other and reads back;
			// assigning again converges.
			readAll(fmt.Sprintf("re-assignment round %d, after the crash", r))
			if err := assign(); err != nil {
				t.Fatal(err)
			}
			for _, mb := range mailboxes {
				if out := as("mailbox", "stats", mb, "-o", "json"); !strings.Contains(out, `"isEncrypted": true`) {
					t.Fatalf("%s: %s", mb, out)
				}
			}
		}
		t.Logf("%d of %d re-assignments were killed unfinished", interrupted, rounds)
	}()

	// purge
	func() {
		interrupted, span := 0, time.Duration(0)
		for r := range rounds + 1 {
			key, dep := fmt.Sprintf("Purge%02d", r), fmt.Sprintf("DEP-P%02d", r)
			for i := range vaults {
				ck("vault", "key", "add", vaults[i], key, "--as", "owner@contoso.com")
			}
			as("dep", "new", dep, "--key", keyURI(0, key, false), "--key", keyURI(1, key, false))
			var doomed []string
			for j := range 8 {
				mb := fmt.Sprintf("leaver%02d-%d@contoso.com", r, j)
				ck("tenant", "licence", "Contoso", mb, "--plan", "E5")
				as("mailbox", "create", mb, "--dep", dep)
				as("mailbox", "item", "put", mb, "m", "--data", "to be purged")
				doomed = append(doomed, mb)
			}
			// The tenant disables both keys (R5), requests, the officer approves.
			for i := range vaults {
				ck("vault", "key", "update", vaults[i], key, "--enabled=false", "--as", "owner@contoso.com")
			}
			as("dep", "set", dep, "--purge-request", "--reason", "leaving", "--contact", "cso@contoso.com")
			purged := func() bool {
				out, err := ckRun(conf, "dep", "purge", "show", dep, "--token-file", tok("admin"))
				return err == nil && strings.Contains(out, "Purged")
			}
			crash(&span, func() {
				ckRun(conf, "dep", "purge", "approve", dep, "--key", officerKey, "--token-file", tok("cso"))
			}, purged)
			if unfinished("purge") {
				interrupted++
			}
			// The approval may have been lost with the process: then again.
			if out, _ := ckRun(conf, "dep", "purge", "show", dep, "--token-file", tok("admin")); strings.Contains(out, "Requested") && strings.Contains(out, "0 of 1") {
				ck("dep", "purge", "approve", dep, "--key", officerKey, "--token-file", tok("cso"))
			}
			waitFor("the purge", purged)
			cert := filepath.Join(dir, "cert.json")
			as("dep", "purge", "certificate", dep, "--out", cert)
			out := ck("dep", "purge", "verify", cert)
			if !strings.Contains(out, "Signature OK") || !strings.Contains(out, doomed[7]) {
				t.Fatalf("certificate: %s", out)
			}
			for _, mb := range doomed {
				if _, err := ckRun(conf, "mailbox", "item", "get", mb, "m", "--token-file", tok("admin")); err == nil || !strings.Contains(err.Error(), "Mailbox.Exists") {
					t.Fatalf("%s after the purge: %v", mb, err)
				}
			}
			if !strings.Contains(out, "key-encryption-key kek-v") {
				t.Fatalf("the certificate names no destroyed key-encryption key version:\n%s", out)
			}
			readAll(fmt.Sprintf("purge round %d", r))
			kekInvariant(t, dir, fmt.Sprintf("purge round %d", r))
		}
		t.Logf("%d of %d purges were killed unfinished", interrupted, rounds)
	}()
}

// kekInvariant checks the shredding by rotation after a purge, whatever
// point the kills hit (SPEC T8): every live availability key is sealed
// under a KEK version the keystore still has (nothing unreadable), and no
// purged one under a version it still has (nothing left openable).
func kekInvariant(t *testing.T, dir, when string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "service-keystore.json"))
	if err != nil {
		t.Fatalf("%s: keystore: %v", when, err)
	}
	var ks struct {
		Versions []struct {
			Version int64
			Key     string
		}
	}
	if err := json.Unmarshal(data, &ks); err != nil {
		t.Fatal(err)
	}
	live := map[int64]bool{}
	for _, v := range ks.Versions {
		if v.Key != "" {
			live[v.Version] = true
		}
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "ck.db")+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT id, kek_version, destroyed_at IS NOT NULL, reason FROM availability_keys`)
	if err != nil {
		t.Fatalf("%s: %v", when, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, reason string
		var v int64
		var destroyed bool
		if err := rows.Scan(&id, &v, &destroyed, &reason); err != nil {
			t.Fatal(err)
		}
		switch {
		case !destroyed && !live[v]:
			t.Fatalf("%s: availability key %s is sealed under KEK version %d, which the keystore no longer has (live: %v)", when, id, v, live)
		case destroyed && strings.HasPrefix(reason, "permanent data purge") && live[v]:
			t.Fatalf("%s: purged availability key %s was sealed under KEK version %d, which the keystore still has", when, id, v)
		}
	}
}
