// Package clustertest runs a multi-node customerkey on loopback for tests
// and the bench (SPEC S1-S5, issue 12): the built-in vault (two regions,
// in this process, as vaulttest starts it) and N `ck server` processes
// over one PostgreSQL database made for the run (CREATE DATABASE
// ck_test_<random>, dropped at the end), each with its own data dir and
// configuration file, all pointing at the same database and the same
// vault. A node can be killed with SIGKILL and started again.
//
//	c := clustertest.Start(t, clustertest.Options{Nodes: 3})
//	admin := c.SeedTenant(t)            // Contoso onboarded, its global admin's token
//	c.Node(0).Client(admin).PutItem(...)
//	c.Node(0).Kill(); c.Node(0).Restart()
//
// Every node reads the same configuration (one file per node that differs
// only in dataDir), with its secrets as ${ENV} references set in the node's
// environment: the signing key (signer.key) and the operator's token
// (operator.token) are one per cluster, as SPEC S1 asks.
package clustertest

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx": the admin connection and the test's view of the database

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/vault"
	"github.com/customerkey/customerkey/internal/vault/vaulttest"
)

// PostgresEnv is the environment variable naming the PostgreSQL server
// (its `test` database); tests skip without it.
const PostgresEnv = "CK_TEST_POSTGRES_URL"

// Options shape a cluster.
type Options struct {
	Nodes int // default 3
	// Binary is the ck binary. Empty: this test binary, run with
	// CK_TEST_RUN_CK=1 (cmd/ck's TestMain then runs ck).
	Binary string
	// PostgresURL is a database the harness connects to in order to create
	// and drop the cluster's database; default $CK_TEST_POSTGRES_URL.
	PostgresURL string
	// JobLease is jobs.lease on every node (default 300ms: a dead node's
	// jobs move on within a second).
	JobLease time.Duration
	// Dir holds the vault, the nodes' data dirs and their logs; default a
	// new temporary directory, removed at the end.
	Dir string
	// Config, if set, may change each node's configuration (a JSON object
	// as decoded) before it is written.
	Config func(node int, cfg map[string]any)
}

// Cluster is a running vault and its nodes.
type Cluster struct {
	Dir   string
	Vault *vaulttest.Env
	// Seed is the Contoso tenant in the vault (SeedTenant sets it up).
	Seed vaulttest.Seed
	// DB is the cluster's database, for a test to look at (jobs, owners).
	DB *sql.DB
	// DatabaseURL is the cluster's database (the nodes' store.postgres).
	DatabaseURL string
	// Operator is the operator's token, the same on every node.
	Operator string
	// SigningKey is the Ed25519 seed (hex) every node signs with.
	SigningKey string
	// Keystore is the nodes' keystore: "pkcs11" (one SoftHSM token) or
	// "file" (one file, read by each node at start).
	Keystore string

	opts    Options
	nodes   []*Node
	env     []string
	cleanup []func()
}

// Node is one `ck server` process.
type Node struct {
	Index  int
	Dir    string // data dir
	Config string // configuration file
	URL    string // https://localhost:PORT, the same across restarts
	CAFile string

	c    *Cluster
	port int
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	env  []string // extra environment of this node
}

// Start runs a cluster until the test ends; it skips the test without
// CK_TEST_POSTGRES_URL.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if opts.PostgresURL == "" {
		opts.PostgresURL = os.Getenv(PostgresEnv)
	}
	if opts.PostgresURL == "" {
		t.Skip(PostgresEnv + " is not set: the multi-node tests need PostgreSQL (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
	}
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	c, err := StartE(opts)
	if c != nil {
		t.Cleanup(func() {
			if t.Failed() {
				for _, n := range c.nodes {
					t.Logf("node %d log (tail):\n%s", n.Index, n.Log())
				}
			}
			c.Close()
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// StartE runs a cluster; Close stops it. On error the returned cluster (if
// any) still needs Close.
func StartE(opts Options) (*Cluster, error) {
	if opts.Nodes <= 0 {
		opts.Nodes = 3
	}
	if opts.JobLease == 0 {
		opts.JobLease = 300 * time.Millisecond
	}
	if opts.PostgresURL == "" {
		opts.PostgresURL = os.Getenv(PostgresEnv)
	}
	if opts.PostgresURL == "" {
		return nil, errors.New("clustertest: no PostgreSQL (" + PostgresEnv + ")")
	}
	if opts.Binary == "" {
		opts.Binary = os.Args[0]
	}
	made := opts.Dir == ""
	if made {
		dir, err := os.MkdirTemp("", "ck-cluster-")
		if err != nil {
			return nil, err
		}
		opts.Dir = dir
	}
	c := &Cluster{Dir: opts.Dir, opts: opts}
	if made {
		c.cleanup = append(c.cleanup, func() { os.RemoveAll(c.Dir) })
	}
	if err := c.createDatabase(); err != nil {
		return c, err
	}
	vdir := filepath.Join(opts.Dir, "vault")
	env, stop, err := vaulttest.StartE(vaulttest.Options{Dir: vdir}, nil)
	if err != nil {
		return c, fmt.Errorf("clustertest: vault: %w", err)
	}
	c.Vault = env
	c.cleanup = append(c.cleanup, stop)
	// The nodes get the service's connection (the workload token), as
	// ck vault server writes it: no node holds the vault's admin token.
	connFile := filepath.Join(vdir, "workload.json")
	data, _ := json.MarshalIndent(env.Workload, "", "  ")
	if err := os.WriteFile(connFile, data, 0o600); err != nil {
		return c, err
	}
	c.SigningKey = randHex(32)
	c.Operator = "cksvc_" + randHex(32)
	// The cluster's secrets reach every node as environment variables the
	// configuration names (${CK_...}), as docs/configuration.md shows.
	c.env = append(os.Environ(), "CK_TEST_RUN_CK=1",
		"CK_POSTGRES_URL="+c.DatabaseURL, "CK_SIGNING_KEY="+c.SigningKey, "CK_OPERATOR_TOKEN="+c.Operator)
	keystore, err := c.keystore()
	if err != nil {
		return c, err
	}
	// The cluster's CA, provisioned into every node's data dir: a node of
	// many makes no CA of its own (SPEC S1); each issues its certificate
	// from this one.
	caDir := filepath.Join(opts.Dir, "ca")
	if err := os.MkdirAll(caDir, 0o700); err != nil {
		return c, err
	}
	if _, _, err := vault.EnsurePKI(caDir, "localhost", nil); err != nil {
		return c, err
	}
	for i := range opts.Nodes {
		n := &Node{Index: i, Dir: filepath.Join(opts.Dir, fmt.Sprintf("node%d", i+1)), c: c}
		if err := os.MkdirAll(n.Dir, 0o700); err != nil {
			return c, err
		}
		for _, f := range []string{vault.CAFile, "ca-key.pem"} {
			data, err := os.ReadFile(filepath.Join(caDir, f))
			if err != nil {
				return c, err
			}
			if err := os.WriteFile(filepath.Join(n.Dir, f), data, 0o600); err != nil {
				return c, err
			}
		}
		n.Config = n.Dir + ".json"
		cfg := map[string]any{
			"version":  "v1",
			"dataDir":  n.Dir,
			"store":    map[string]any{"postgres": "${CK_POSTGRES_URL}"},
			"service":  map[string]any{"listen": "127.0.0.1:0"},
			"vaults":   map[string]any{"kind": "builtin", "connectionFile": connFile},
			"keystore": keystore,
			"signer":   map[string]any{"key": "${CK_SIGNING_KEY}"},
			"operator": map[string]any{"token": "${CK_OPERATOR_TOKEN}"},
			"jobs":     map[string]any{"lease": opts.JobLease.String()},
			// S3: a revocation without a signal is seen within a second.
			"revocation": map[string]any{"probeInterval": "1s"},
		}
		if opts.Config != nil {
			opts.Config(i, cfg)
		}
		data, _ := json.MarshalIndent(cfg, "", "  ")
		if err := os.WriteFile(n.Config, data, 0o600); err != nil {
			return c, err
		}
		c.nodes = append(c.nodes, n)
	}
	// One node at a time: the first applies the migrations, records the
	// cluster's secrets and makes the keystore's first version; the others
	// open the same SoftHSM token, whose files a node still writing them
	// can hide from another opening it at that instant ("could not find
	// PKCS#11 token", seen in CI with the nodes started at once).
	for _, n := range c.nodes {
		if err := n.Start(); err != nil {
			return c, err
		}
	}
	return c, nil
}

// SoftHSM is the PKCS#11 module of the nodes' shared keystore.
const SoftHSM = "/usr/lib/softhsm/libsofthsm2.so"

// keystore is the keystore section of every node: one SoftHSM token that
// every node opens (the configuration docs/configuration.md gives for
// several nodes: SPEC S1, T8), made in the cluster's directory. Without
// SoftHSM, one keystore file that every node reads at start: then a
// purge's rotation on one node is not seen by the others until they
// restart (the shared keystore of branch s15 replaces this).
func (c *Cluster) keystore() (map[string]any, error) {
	if _, err := os.Stat(SoftHSM); err != nil {
		c.Keystore = "file"
		return map[string]any{"file": filepath.Join(c.Dir, "keystore.json")}, nil
	}
	dir := filepath.Join(c.Dir, "softhsm")
	if err := os.MkdirAll(filepath.Join(dir, "tokens"), 0o700); err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+filepath.Join(dir, "tokens")+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600); err != nil {
		return nil, err
	}
	pin := randHex(8)
	cmd := exec.Command("softhsm2-util", "--init-token", "--free", "--label", "customerkey", "--pin", pin, "--so-pin", randHex(8))
	cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+conf)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("clustertest: softhsm2-util --init-token: %v\n%s", err, out)
	}
	c.env = append(c.env, "SOFTHSM2_CONF="+conf, "CK_KEYSTORE_PIN="+pin)
	c.Keystore = "pkcs11"
	return map[string]any{"pkcs11": map[string]any{"module": SoftHSM, "tokenLabel": "customerkey", "pin": "${CK_KEYSTORE_PIN}"}}, nil
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// createDatabase makes the cluster's database beside the one in
// PostgresURL, dropped by Close.
func (c *Cluster) createDatabase() error {
	u, err := url.Parse(c.opts.PostgresURL)
	if err != nil {
		return fmt.Errorf("clustertest: %s: %w", PostgresEnv, err)
	}
	admin, err := sql.Open("pgx", c.opts.PostgresURL)
	if err != nil {
		return err
	}
	name := "ck_test_" + randHex(6)
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		admin.Close()
		return fmt.Errorf("clustertest: create database: %w", err)
	}
	c.cleanup = append(c.cleanup, func() {
		if _, err := admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			fmt.Fprintf(os.Stderr, "clustertest: drop database %s: %v\n", name, err)
		}
		admin.Close()
	})
	u.Path = "/" + name
	c.DatabaseURL = u.String()
	if c.DB, err = sql.Open("pgx", c.DatabaseURL); err != nil {
		return err
	}
	c.cleanup = append(c.cleanup, func() { c.DB.Close() })
	return nil
}

// Close kills every node, stops the vault and drops the database.
func (c *Cluster) Close() {
	for _, n := range c.nodes {
		n.Kill()
	}
	for i := len(c.cleanup) - 1; i >= 0; i-- {
		c.cleanup[i]()
	}
	c.cleanup = nil
}

// Nodes are the cluster's nodes, in order.
func (c *Cluster) Nodes() []*Node { return c.nodes }

// Node is the i-th node (from 0).
func (c *Cluster) Node(i int) *Node { return c.nodes[i] }

// OwnerNode is the node whose job runner wrote owner ("host/pid/random",
// internal/jobs), or nil.
func (c *Cluster) OwnerNode(owner string) *Node {
	parts := strings.Split(owner, "/")
	if len(parts) < 2 {
		return nil
	}
	for _, n := range c.nodes {
		if strconv.Itoa(n.PID()) == parts[1] {
			return n
		}
	}
	return nil
}

var started = regexp.MustCompile(`Customer Key service on https://([^ ]+) \(CA ([^;]+);`)

// Start starts the node's process (again, after Kill) and waits until it
// serves. A restart takes the node's first port again.
func (n *Node) Start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		return fmt.Errorf("clustertest: node %d is running", n.Index+1)
	}
	if err := os.MkdirAll(n.Dir, 0o700); err != nil {
		return err
	}
	args := []string{"server", "--config", n.Config}
	if n.port != 0 {
		args = append(args, "--listen", "127.0.0.1:"+strconv.Itoa(n.port))
	}
	logf, err := os.OpenFile(n.logFile(), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "---- clustertest: start %s\n", strings.Join(args, " "))
	cmd := exec.Command(n.c.opts.Binary, args...)
	cmd.Env = append(append([]string{}, n.c.env...), n.env...)
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	n.cmd, n.done = cmd, make(chan struct{})
	line := make(chan []string, 1)
	stdoutLog, err := os.OpenFile(n.logFile(), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	go func() {
		defer stdoutLog.Close()
		sc := bufio.NewScanner(out)
		sent := false
		for sc.Scan() {
			fmt.Fprintln(stdoutLog, sc.Text())
			if m := started.FindStringSubmatch(sc.Text()); m != nil && !sent {
				line <- m
				sent = true
			}
		}
		if !sent {
			close(line)
		}
	}()
	go func() { _ = cmd.Wait(); close(n.done) }() // a killed node's exit status says nothing
	select {
	case m, ok := <-line:
		if !ok {
			<-n.done
			n.cmd = nil
			return fmt.Errorf("clustertest: node %d exited before serving; its log:\n%s", n.Index+1, n.Log())
		}
		n.CAFile = m[2]
		_, port, _ := strings.Cut(m[1], ":")
		n.port, _ = strconv.Atoi(port)
		n.URL = "https://localhost:" + port
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill() // it exits either way; done says when
		<-n.done
		n.cmd = nil
		return fmt.Errorf("clustertest: node %d did not start in 60s; its log:\n%s", n.Index+1, n.Log())
	}
	// Listening is not serving yet: wait for /healthz.
	hc := n.Client("")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := hc.Health(context.Background()); err == nil {
			return nil
		} else if time.Now().After(deadline) {
			return fmt.Errorf("clustertest: node %d: /healthz: %w", n.Index+1, err)
		}
	}
}

// StartErr starts the node expecting it to fail: it returns what the node
// wrote before it exited, or an error if it served.
func (n *Node) StartErr() (string, error) {
	err := n.Start()
	if err == nil {
		n.Kill()
		return "", fmt.Errorf("clustertest: node %d started", n.Index+1)
	}
	return n.Log(), nil
}

// SetEnv sets extra environment variables of the node (NAME=value), from
// its next start on, e.g. another CK_SIGNING_KEY.
func (n *Node) SetEnv(kv ...string) { n.env = kv }

// Kill ends the process with SIGKILL (no shutdown of any kind) and waits
// for it; nothing if it is not running.
func (n *Node) Kill() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Kill() // already gone is fine: done says when
	<-n.done
	n.cmd = nil
}

// Restart is Kill and Start.
func (n *Node) Restart() error { n.Kill(); return n.Start() }

// PID is the running process's ID, or 0.
func (n *Node) PID() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

// Running reports whether the node's process runs.
func (n *Node) Running() bool { return n.PID() != 0 }

// Client is a client of this node acting with token.
func (n *Node) Client(token string) *client.Client {
	c, err := client.New(client.Config{URL: n.URL, Token: token, CAFile: n.CAFile})
	if err != nil {
		panic(err) // only a missing CA file, which Start has seen
	}
	return c
}

func (n *Node) logFile() string { return n.Dir + ".log" }

// Log is the tail of the node's output (stdout and stderr, every start).
func (n *Node) Log() string {
	b, _ := os.ReadFile(n.logFile())
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}
