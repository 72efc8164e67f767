package keystore_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/customerkey/customerkey/internal/keystore"
	"github.com/customerkey/customerkey/internal/keystore/keystoretest"
)

func TestFileConformance(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keystore.json")
	keystoretest.Run(t, func(t *testing.T) keystore.Keystore {
		ks, err := keystore.OpenFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return ks
	})
}

// The file is mode 0600, holds no destroyed key, and no temporary file is
// left beside it.
func TestFileOnDisk(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "keystore.json")
	ks, err := keystore.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	if _, err := ks.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	if _, err := ks.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Destroy(ctx, 1); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("keystore file mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	after, _ := os.ReadFile(path)
	var key1 string
	for _, line := range strings.Split(string(before), "\n") {
		if k, ok := strings.CutPrefix(strings.TrimSpace(line), `"key": "`); ok {
			key1 = strings.TrimSuffix(k, `"`)
		}
	}
	if len(key1) != 64 {
		t.Fatalf("no version-1 key found in %s", before)
	}
	if bytes.Contains(after, []byte(key1)) {
		t.Fatal("the destroyed version's key is still in the file")
	}
	if !bytes.Contains(after, []byte(`"destroyed"`)) {
		t.Fatalf("the file does not record the destroyed version:\n%s", after)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("the directory holds %d files, want the keystore alone: %v", len(ents), ents)
	}
}

func TestFileRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"not json":     "{",
		"other format": `{"format":"x","current":0,"versions":[]}`,
		"short key":    `{"format":"customerkey keystore v1","current":1,"versions":[{"version":1,"created":"2024-01-01T00:00:00Z","key":"abcd"}]}`,
		"current gone": `{"format":"customerkey keystore v1","current":1,"versions":[{"version":1,"created":"2024-01-01T00:00:00Z","destroyed":"2024-01-01T00:00:00Z"}]}`,
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
		os.WriteFile(p, []byte(body), 0o600)
		if _, err := keystore.OpenFile(p); err == nil {
			t.Errorf("%s: opened", name)
		}
	}
}

// softHSM is Debian's SoftHSM2 module; the PKCS#11 tests need it.
const softHSM = "/usr/lib/softhsm/libsofthsm2.so"

var tokens atomic.Int32

// newToken makes a fresh SoftHSM token and returns its configuration.
func newToken(t *testing.T) keystore.PKCS11Config {
	t.Helper()
	if _, err := os.Stat(softHSM); err != nil {
		t.Skipf("SKIP: %s is absent (apt-get install softhsm2; .ci/run installs it): the PKCS#11 keystore is not tested", softHSM)
	}
	if os.Getenv("SOFTHSM2_CONF") == "" {
		t.Fatal("SOFTHSM2_CONF is not set (TestMain sets it)")
	}
	label := fmt.Sprintf("ck-test-%d-%d", os.Getpid(), tokens.Add(1))
	out, err := exec.Command("softhsm2-util", "--init-token", "--free", "--label", label, "--pin", "1234", "--so-pin", "5678").CombinedOutput()
	if err != nil {
		t.Fatalf("softhsm2-util --init-token: %v\n%s", err, out)
	}
	return keystore.PKCS11Config{Module: softHSM, TokenLabel: label, PIN: "1234"}
}

func TestMain(m *testing.M) {
	// SoftHSM reads its configuration once, when the module is first
	// loaded: one token directory for the whole run.
	dir, err := os.MkdirTemp("", "ck-softhsm-")
	if err != nil {
		panic(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	os.MkdirAll(filepath.Join(dir, "tokens"), 0o700)
	os.WriteFile(conf, []byte("directories.tokendir = "+filepath.Join(dir, "tokens")+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600)
	os.Setenv("SOFTHSM2_CONF", conf)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestPKCS11Conformance(t *testing.T) {
	cfg := newToken(t)
	keystoretest.Run(t, func(t *testing.T) keystore.Keystore {
		ks, err := keystore.OpenPKCS11(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return ks
	})
}

// Each KEK is a token object that is sensitive and not extractable: its
// value cannot be read out of the token.
func TestPKCS11KeysStayInTheToken(t *testing.T) {
	cfg := newToken(t)
	ks, err := keystore.OpenPKCS11(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	ks.Close()

	p := pkcs11.New(cfg.Module)
	if err := p.Initialize(); err != nil && !strings.Contains(err.Error(), "CKR_CRYPTOKI_ALREADY_INITIALIZED") {
		t.Fatal(err)
	}
	slots, err := p.GetSlotList(true)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range slots {
		info, err := p.GetTokenInfo(s)
		if err != nil || strings.TrimRight(info.Label, " \x00") != cfg.TokenLabel {
			continue
		}
		h, err := p.OpenSession(s, pkcs11.CKF_SERIAL_SESSION)
		if err != nil {
			t.Fatal(err)
		}
		defer p.CloseSession(h)
		if err := p.Login(h, pkcs11.CKU_USER, cfg.PIN); err != nil {
			t.Fatal(err)
		}
		defer p.Logout(h)
		must(t, p.FindObjectsInit(h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_LABEL, "customerkey-kek-1")}))
		objs, _, err := p.FindObjects(h, 2)
		p.FindObjectsFinal(h)
		if err != nil || len(objs) != 1 {
			t.Fatalf("found %d objects labelled customerkey-kek-1 (%v), want 1", len(objs), err)
		}
		attrs, err := p.GetAttributeValue(h, objs[0], []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, nil), pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, nil), pkcs11.NewAttribute(pkcs11.CKA_TOKEN, nil)})
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range []byte{0, 1, 1} {
			if len(attrs[i].Value) != 1 || attrs[i].Value[0] != want {
				t.Errorf("attribute %#x = %v, want %d", attrs[i].Type, attrs[i].Value, want)
			}
		}
		if _, err := p.GetAttributeValue(h, objs[0], []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)}); err == nil {
			t.Fatal("the KEK's value was read out of the token")
		}
		return
	}
	t.Fatalf("token %q not found", cfg.TokenLabel)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
