package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/customerkey/customerkey/internal/blob"
	"github.com/customerkey/customerkey/internal/dep"
	"github.com/customerkey/customerkey/internal/envelope"
	"github.com/customerkey/customerkey/internal/filegen"
	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/keystore"
	"github.com/customerkey/customerkey/internal/service"
	"github.com/customerkey/customerkey/internal/store/sqlstore"
	"github.com/customerkey/customerkey/internal/tenant"
	"github.com/customerkey/customerkey/vaultclient"
)

// filesScenario (SPEC D8, issue 14): files of sizes MiB through the
// service API over HTTPS, streamed both ways, against a bare HTTPS server
// that streams the same bytes (discards them on upload, generates them on
// download), for the database blob store (SQLite) and the directory
// store, with the service in this process; then the resident memory of a
// `ck dev` process (SQLite) during uploads and downloads of memSizes MiB,
// a fresh process for each size.
func filesScenario(sizes, memSizes []int64, stores []string, rounds int, binary string) error {
	ctx := context.Background()
	fmt.Printf("Files over HTTPS (HTTP/1.1, TLS 1.3), streamed, one caller, client and server in one process, GOMAXPROCS=%d, %s\n\n", runtime.GOMAXPROCS(0), time.Now().UTC().Format("2006-01-02"))
	fmt.Printf("| store | size | op | service MB/s | bare server MB/s | service/bare, median of %d (range) | bare server storing, MB/s | service/bare storing (range) |\n", rounds)
	fmt.Println("|---|---|---|---|---|---|---|---|")
	names := map[string]string{"sqlite": "SQLite (DB.Blobs)", "dir": "directory (blob.Dir)"}
	for _, store := range stores {
		name, ok := names[store]
		if !ok {
			return fmt.Errorf("store %q: say sqlite or dir", store)
		}
		if len(sizes) == 0 {
			break
		}
		if err := filesThroughput(ctx, name, sizes, max(1, rounds)); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	if len(memSizes) == 0 {
		return nil
	}
	binary, cleanup, err := ckBinary(binary)
	if err != nil {
		return err
	}
	defer cleanup()
	fmt.Printf("\nResident memory (VmRSS, sampled every 50 ms) of a fresh `ck dev` process (SQLite) per size, the file PUT then GET over HTTPS by this process\n\n")
	fmt.Println("| size | RSS before | PUT peak | over before | GET peak | over before | PUT MB/s | GET MB/s |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, size := range memSizes {
		if err := filesMemory(ctx, binary, size); err != nil {
			return err
		}
	}
	return nil
}

// filesThroughput measures one store: for each size, rounds times the
// bare server then the service, up then down.
func filesThroughput(ctx context.Context, store string, sizes []int64, rounds int) error {
	dir, err := os.MkdirTemp("", "ck-bench-files-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "ck.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	// Sites on service-managed keys: a keystore and the keyring over it,
	// no vault (a customer key changes only the item key's unwrap, once
	// per request).
	master, err := keystore.OpenFile(filepath.Join(dir, "keystore.json"))
	if err != nil {
		return err
	}
	if _, err := master.Rotate(ctx); err != nil {
		return err
	}
	ring := keyring.New(nil, keyring.NewKeystore(st, master), keyring.Config{})
	parts := service.Parts{Store: st, Logger: slog.New(slog.DiscardHandler),
		Workloads: map[dep.Kind]dep.Workload{dep.Mailbox: {App: dep.ExchangeApp, Ring: ring}}}
	var blobs blob.Store = st.Blobs()
	if strings.HasPrefix(store, "directory") {
		if parts.Blobs, err = blob.Dir(filepath.Join(dir, "blobs"), envelope.ChunkSize+envelope.TagSize); err != nil {
			return err
		}
		blobs = parts.Blobs
	}
	api, err := service.NewAPI(parts)
	if err != nil {
		return err
	}
	op, err := tenant.EnsureOperatorToken(ctx, st, filepath.Join(dir, tenant.OperatorTokenFile), time.Now())
	if err != nil {
		return err
	}
	srv := httptest.NewTLSServer(api.Handler())
	defer srv.Close()
	// The bare server discards an upload and generates a download; at
	// /store it keeps the bytes in the service's blob store instead, in
	// chunks of the service's size, with no crypto (what the service's
	// data-plane bench calls its bare server: the same store, no crypto,
	// no authentication), a new blob each round as the service writes a
	// new version.
	bare := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ref := blob.Ref{Tenant: "bench", Container: "bare", ID: "f" + r.URL.Query().Get("size") + "r" + r.URL.Query().Get("round")}
		switch {
		case r.URL.Path == "/store" && r.Method == http.MethodPut:
			n, err := storeBare(r.Context(), blobs, ref, r.Body)
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			w.Write([]byte(`{"size":` + strconv.FormatInt(n, 10) + `}`))
		case r.URL.Path == "/store":
			n, _ := strconv.ParseInt(r.URL.Query().Get("size"), 10, 64)
			w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
			chunks := (n + envelope.ChunkSize - 1) / envelope.ChunkSize
			if err := blobs.Read(r.Context(), ref, 0, chunks, func(_ int64, c []byte) error { _, err := w.Write(c); return err }); err != nil {
				panic(http.ErrAbortHandler)
			}
		case r.Method == http.MethodPut:
			io.Copy(io.Discard, r.Body)
			w.Write([]byte(`{"size":` + strconv.FormatInt(r.ContentLength, 10) + `}`))
		default:
			n, _ := strconv.ParseInt(r.URL.Query().Get("size"), 10, 64)
			w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
			io.Copy(w, filegen.New("bare").Reader(0, n))
		}
	}))
	bare.TLS = srv.TLS
	bare.StartTLS()
	defer bare.Close()
	c := &filesClient{url: srv.URL, hc: srv.Client()}
	spo, err := c.siteAdmin(op)
	if err != nil {
		return err
	}
	c.token = spo
	bc := &filesClient{url: bare.URL, hc: srv.Client()}
	for _, size := range sizes {
		gen := filegen.New(fmt.Sprintf("file of %d", size))
		sum := gen.SHA256(size)
		var upR, downR, upS, downS []ratio
		for i := range rounds {
			// Each round a new version of the file: its writes are all
			// alike; the older versions stay, as a site's do.
			path := fmt.Sprintf("/v1/tenants/Contoso/sites/media/files/f%d.bin", size)
			bareUp, err := bc.put("/put", gen, size, sum)
			if err != nil {
				return err
			}
			up, err := c.put(path, gen, size, sum)
			if err != nil {
				return err
			}
			bareDown, _, err := bc.get(fmt.Sprintf("/get?size=%d", size), size)
			if err != nil {
				return err
			}
			down, got, err := c.get(path, size)
			if err != nil {
				return err
			}
			if !bytes.Equal(got, sum) {
				return fmt.Errorf("%s read back with SHA-256 %x, not %x (round %d)", path, got, sum, i+1)
			}
			storeUp, err := bc.put(fmt.Sprintf("/store?size=%d&round=%d", size, i), gen, size, sum)
			if err != nil {
				return err
			}
			storeDown, got, err := bc.get(fmt.Sprintf("/store?size=%d&round=%d", size, i), size)
			if err != nil {
				return err
			}
			if !bytes.Equal(got, sum) {
				return fmt.Errorf("the bare server's store read back with SHA-256 %x, not %x", got, sum)
			}
			upR, downR = append(upR, ratio{size, up, bareUp}), append(downR, ratio{size, down, bareDown})
			upS, downS = append(upS, ratio{size, up, storeUp}), append(downS, ratio{size, down, storeDown})
		}
		fmt.Printf("| %s | %d MiB | PUT | %s | %s |\n", store, size>>20, summarize(upR), storeColumns(upS))
		fmt.Printf("| %s | %d MiB | GET | %s | %s |\n", store, size>>20, summarize(downR), storeColumns(downS))
	}
	return nil
}

// ratio is one measurement of the service against the bare server.
type ratio struct {
	size          int64
	service, bare time.Duration
}

func (r ratio) value() float64 { return r.bare.Seconds() / r.service.Seconds() }

// summarize gives the service's and the bare server's rates (ranges over
// the rounds) and the ratios' median, lowest and highest.
func summarize(rs []ratio) string {
	slices.SortFunc(rs, func(a, b ratio) int { return cmp.Compare(a.value(), b.value()) })
	rate := func(size int64, d time.Duration) float64 { return float64(size) / d.Seconds() / 1e6 }
	lo, hi := [2]float64{math.Inf(1), math.Inf(1)}, [2]float64{}
	for _, r := range rs {
		for i, d := range []time.Duration{r.service, r.bare} {
			lo[i], hi[i] = min(lo[i], rate(r.size, d)), max(hi[i], rate(r.size, d))
		}
	}
	return fmt.Sprintf("%.0f-%.0f | %.0f-%.0f | %.2f (%.2f-%.2f)", lo[0], hi[0], lo[1], hi[1], rs[len(rs)/2].value(), rs[0].value(), rs[len(rs)-1].value())
}

// storeColumns gives the storing bare server's rates (range) and the
// service's ratio to it: median (range).
func storeColumns(rs []ratio) string {
	f := strings.Split(summarize(rs), " | ")
	return f[1] + " | " + f[2]
}

// storeBare writes body into r as plain chunks of the service's chunk
// size, then commits: the bare server's upload into the store.
func storeBare(ctx context.Context, st blob.Store, r blob.Ref, body io.Reader) (int64, error) {
	buf := make([]byte, envelope.ChunkSize)
	var n int64
	for seq := int64(0); ; seq++ {
		k, err := io.ReadFull(body, buf)
		if k > 0 {
			if err := st.Put(ctx, r, seq, buf[:k]); err != nil {
				return n, err
			}
			n += int64(k)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return n, st.Commit(ctx, r)
		} else if err != nil {
			return n, err
		}
	}
}

// filesMemory runs a fresh ck dev, sends it a file of size bytes and reads
// it back, sampling its resident memory.
func filesMemory(ctx context.Context, binary string, size int64) error {
	dir, err := os.MkdirTemp("", "ck-bench-dev-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	log, err := os.Create(filepath.Join(dir, "dev.log"))
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.CommandContext(ctx, binary, "dev", "--data", dir, "--port", "0", "--feature-delay", "10ms")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	conf := filepath.Join(dir, "dev.json")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(conf); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ck dev did not start (log in %s)", log.Name())
		}
	}
	cc, err := vaultclient.LoadConfig(conf)
	if err != nil {
		return err
	}
	pem, err := os.ReadFile(cc.CAFile)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.CloseIdleConnections()
	c := &filesClient{url: cc.ServiceURL, hc: &http.Client{Transport: tr}}
	if c.token, err = c.siteAdmin(cc.ServiceToken); err != nil {
		return err
	}
	gen := filegen.New("memory")
	sum := gen.SHA256(size)
	time.Sleep(time.Second) // let the start settle
	s := &sampler{pid: cmd.Process.Pid}
	before := s.now()
	stop := s.run()
	up, err := c.put("/v1/tenants/Contoso/sites/media/files/f.bin", gen, size, sum)
	upPeak := stop()
	if err != nil {
		return err
	}
	stop = s.run()
	down, got, err := c.get("/v1/tenants/Contoso/sites/media/files/f.bin", size)
	downPeak := stop()
	if err != nil {
		return err
	}
	if !bytes.Equal(got, sum) {
		return fmt.Errorf("the file read back with SHA-256 %x, not %x", got, sum)
	}
	mib := func(b int64) float64 { return float64(b) / (1 << 20) }
	rate := func(d time.Duration) float64 { return float64(size) / d.Seconds() / 1e6 }
	fmt.Printf("| %d MiB | %.1f MiB | %.1f MiB | +%.1f MiB | %.1f MiB | +%.1f MiB | %.0f | %.0f |\n",
		size>>20, mib(before), mib(upPeak), mib(upPeak-before), mib(downPeak), mib(downPeak-before), rate(up), rate(down))
	return nil
}

// sampler reads a process's VmRSS.
type sampler struct{ pid int }

func (s *sampler) now() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// run samples every 50 ms until the function it returns is called, which
// returns the peak.
func (s *sampler) run() func() int64 {
	done := make(chan struct{})
	var peak int64
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			peak = max(peak, s.now())
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	return func() int64 {
		close(done)
		wg.Wait()
		return max(peak, s.now())
	}
}

// filesClient streams files to and from a server over HTTPS.
type filesClient struct {
	url, token string
	hc         *http.Client
}

func (c *filesClient) call(token, method, path, body string) ([]byte, error) {
	return apiCall(c.hc, c.url, token, method, path, []byte(body), "application/json")
}

// siteAdmin creates tenant Contoso with site "media" (service-managed
// keys: no vault) as the operator and returns a SharePoint admin's token.
func (c *filesClient) siteAdmin(op string) (string, error) {
	var tok struct{ Token string }
	steps := []struct {
		token       *string
		method, url string
		body        string
		out         any
	}{
		{&op, "POST", "/v1/tenants", `{"name":"Contoso"}`, nil},
		{&op, "PUT", "/v1/tenants/Contoso/plans", `{"plans":["E5"]}`, nil},
		{&op, "POST", "/v1/tenants/Contoso/tokens", `{"subject":"admin@contoso.com","role":"global-admin","validFor":"24h"}`, &tok},
		{&tok.Token, "POST", "/v1/tenants/Contoso/tokens", `{"subject":"spo@contoso.com","role":"sharepoint-admin","validFor":"24h"}`, &tok},
		{&tok.Token, "POST", "/v1/tenants/Contoso/sites", `{"name":"media","geo":"NAM"}`, nil},
	}
	for _, s := range steps {
		data, err := c.call(*s.token, s.method, s.url, s.body)
		if err != nil {
			return "", fmt.Errorf("set up: %w", err)
		}
		if s.out != nil {
			if err := json.Unmarshal(data, s.out); err != nil {
				return "", err
			}
		}
	}
	return tok.Token, nil
}

// put streams size bytes of gen to path with their digest.
func (c *filesClient) put(path string, gen filegen.Keystream, size int64, sum []byte) (time.Duration, error) {
	start := time.Now()
	req, _ := http.NewRequest("PUT", c.url+path, gen.Reader(0, size))
	req.ContentLength = size
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Repr-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(sum)+":")
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !bytes.Contains(data, []byte(`"size":`+strconv.FormatInt(size, 10))) {
		return 0, fmt.Errorf("PUT %s: %d %s", path, resp.StatusCode, data)
	}
	return time.Since(start), nil
}

// get streams path into a SHA-256 and returns the time and the digest.
func (c *filesClient) get(path string, size int64) (time.Duration, []byte, error) {
	start := time.Now()
	req, _ := http.NewRequest("GET", c.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(h, resp.Body, make([]byte, 256<<10))
	if err != nil || resp.StatusCode != 200 || n != size {
		return 0, nil, fmt.Errorf("GET %s: %d, %d bytes of %d, %v", path, resp.StatusCode, n, size, err)
	}
	return time.Since(start), h.Sum(nil), nil
}
