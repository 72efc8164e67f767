package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/store/sqlstore"
	"github.com/customerkey/customerkey/internal/tenant"
	"github.com/customerkey/customerkey/internal/vault/vaulttest"
)

func TestMain(m *testing.M) {
	if os.Getenv("CK_TEST_RUN_CK") == "1" { // a ck process of a Go test (crash_test.go)
		os.Exit(run(os.Args[1:]))
	}
	testscript.Main(m, map[string]func(){
		"ck": func() { os.Exit(run(os.Args[1:])) },
	})
}

// consoleE2E says why the console's browser tests cannot run here, or nil.
func consoleE2E() error {
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		return errors.New("no /usr/bin/chromium (apt-get install chromium)")
	}
	if _, err := exec.LookPath("node"); err != nil {
		return errors.New("no node")
	}
	if _, err := os.Stat("../../internal/console/e2e/node_modules/playwright-core"); err != nil {
		return errors.New("no playwright-core (cd internal/console/e2e && npm ci)")
	}
	return nil
}

// TestScripts runs the CLI sessions in testdata/script. Each script gets a
// running two-region vault in $WORK/ck-data, with CK_CONFIG pointing at it,
// and these extra commands:
//
//	clock-advance DURATION   move the vault's clock forward (e.g. 2160h)
//	waitfile FILE            wait up to 20s for FILE to exist
//	envfile VAR FILE         set VAR to FILE's content, trimmed
//	envbase VAR FILE         set VAR to the last path segment of FILE's content
//	envjson VAR FILE FIELD   set VAR to a top-level string field of the JSON in FILE
//	mode PERM FILE...        check each FILE's permission bits are PERM (octal, e.g. 0600)
//	forge-token DB TENANT-ID ROLE SUBJECT FILE
//	                         store a token straight into the SQLite store DB, past the
//	                         service's checks (SUBJECT is a Go string literal, so it may
//	                         hold "\n" or "\x1b"), and write it to FILE
//
// Scripts whose name starts with "dev" get no vault: they start `ck dev`.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		// console-e2e: the browser tests of the web console can run;
		// console-bench: and CK_CONSOLE_BENCH=1 asks for its numbers.
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "console-e2e":
				return consoleE2E() == nil, nil
			case "console-bench": // the console's numbers: slow, on demand
				return os.Getenv("CK_CONSOLE_BENCH") == "1" && consoleE2E() == nil, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Setup: func(env *testscript.Env) error {
			if dir, err := filepath.Abs("../../internal/console/e2e"); err == nil {
				env.Setenv("CONSOLE_E2E", dir)
			}
			if strings.HasPrefix(filepath.Base(env.WorkDir), "script-dev") {
				return nil
			}
			dir := filepath.Join(env.WorkDir, "ck-data")
			e, stop, err := vaulttest.StartE(vaulttest.Options{Dir: dir, FeatureDelay: 300 * time.Millisecond}, nil)
			if err != nil {
				return err
			}
			env.Defer(stop)
			data, _ := json.Marshal(e.Config)
			cfg := filepath.Join(dir, "dev.json")
			if err := os.WriteFile(cfg, data, 0o600); err != nil {
				return err
			}
			env.Setenv("CK_CONFIG", cfg)
			env.Setenv("EASTUS", e.Config.Regions[0].URL)
			env.Setenv("WESTUS", e.Config.Regions[1].URL)
			env.Values["vault"] = e
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"clock-advance": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 {
					ts.Fatalf("usage: clock-advance DURATION")
				}
				d, err := time.ParseDuration(args[0])
				ts.Check(err)
				ts.Value("vault").(*vaulttest.Env).Clock.Advance(d)
			},
			// genfile FILE SIZE writes SIZE bytes of a fixed pattern (byte i
			// is i*7 mod 251): content no test keeps in the repository.
			"genfile": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: genfile FILE SIZE")
				}
				n, err := strconv.Atoi(args[1])
				ts.Check(err)
				b := make([]byte, n)
				for i := range b {
					b[i] = byte(i * 7 % 251)
				}
				ts.Check(os.WriteFile(ts.MkAbs(args[0]), b, 0o600))
			},
			// slice FILE OFFSET LENGTH OUT writes LENGTH bytes of FILE from
			// OFFSET to OUT (what a range read must give).
			"slice": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 4 {
					ts.Fatalf("usage: slice FILE OFFSET LENGTH OUT")
				}
				b, err := os.ReadFile(ts.MkAbs(args[0]))
				ts.Check(err)
				off, err := strconv.Atoi(args[1])
				ts.Check(err)
				n, err := strconv.Atoi(args[2])
				ts.Check(err)
				ts.Check(os.WriteFile(ts.MkAbs(args[3]), b[off:off+n], 0o600))
			},
			"envfile": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: envfile VAR FILE")
				}
				ts.Setenv(args[0], strings.TrimSpace(ts.ReadFile(args[1])))
			},
			"envbase": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: envbase VAR FILE")
				}
				v := strings.TrimSpace(ts.ReadFile(args[1]))
				ts.Setenv(args[0], v[strings.LastIndex(v, "/")+1:])
			},
			"envjson": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 3 {
					ts.Fatalf("usage: envjson VAR FILE FIELD")
				}
				var v map[string]any
				ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[1])), &v))
				s, ok := v[args[2]].(string)
				if !ok {
					ts.Fatalf("%s has no string field %q", args[1], args[2])
				}
				ts.Setenv(args[0], s)
			},
			// replace FILE OLD NEW changes the first OLD in FILE (to tamper
			// with an export); it fails if OLD is not there.
			"replace": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 3 {
					ts.Fatalf("usage: replace FILE OLD NEW")
				}
				body := ts.ReadFile(args[0])
				if !strings.Contains(body, args[1]) {
					ts.Fatalf("%s does not contain %q", args[0], args[1])
				}
				ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(strings.Replace(body, args[1], args[2], 1)), 0o600))
			},
			// dropline FILE N removes line N (from 1) of FILE.
			"dropline": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: dropline FILE N")
				}
				n, err := strconv.Atoi(args[1])
				ts.Check(err)
				lines := strings.SplitAfter(ts.ReadFile(args[0]), "\n")
				if n < 1 || n > len(lines) {
					ts.Fatalf("%s has no line %d", args[0], n)
				}
				ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(strings.Join(append(lines[:n-1], lines[n:]...), "")), 0o600))
			},
			"mode": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) < 2 || neg {
					ts.Fatalf("usage: mode PERM FILE...")
				}
				want, err := strconv.ParseUint(args[0], 8, 32)
				ts.Check(err)
				for _, f := range args[1:] {
					fi, err := os.Stat(ts.MkAbs(f))
					ts.Check(err)
					if got := fi.Mode().Perm(); uint64(got) != want {
						ts.Fatalf("%s has mode %04o, want %04o", f, got, want)
					}
				}
			},
			"forge-token": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 5 || neg {
					ts.Fatalf("usage: forge-token DB TENANT-ID ROLE SUBJECT FILE")
				}
				subject, err := strconv.Unquote(args[3])
				ts.Check(err)
				ctx := context.Background()
				st, err := sqlstore.OpenSQLite(ctx, ts.MkAbs(args[0]))
				ts.Check(err)
				defer st.Close()
				now := time.Now()
				tok, err := tenant.NewToken(ctx, st, store.APIToken{Tenant: args[1], Role: args[2], Subject: subject, Created: now, Expires: now.Add(time.Hour)})
				ts.Check(err)
				ts.Check(os.WriteFile(ts.MkAbs(args[4]), []byte(tok+"\n"), 0o600))
			},
			"waitfile": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 {
					ts.Fatalf("usage: waitfile FILE")
				}
				for range 200 {
					if _, err := os.Stat(ts.MkAbs(args[0])); err == nil {
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
				ts.Fatalf("%s did not appear within 20s", args[0])
			},
		},
	})
}
