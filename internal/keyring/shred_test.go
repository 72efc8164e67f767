package keyring_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/keystore"
	"github.com/customerkey/customerkey/internal/store"
	"github.com/customerkey/customerkey/internal/store/sqlstore"
)

// flaky is a keystore that fails once its budget of calls is spent: a
// crash at that point of a shred.
type flaky struct {
	keystore.Keystore
	budget atomic.Int64
}

var errCrash = errors.New("crash")

func (f *flaky) spend() error {
	if f.budget.Add(-1) < 0 {
		return errCrash
	}
	return nil
}
func (f *flaky) Seal(ctx context.Context, v keystore.Version, p, aad []byte) ([]byte, error) {
	if err := f.spend(); err != nil {
		return nil, err
	}
	return f.Keystore.Seal(ctx, v, p, aad)
}
func (f *flaky) Rotate(ctx context.Context) (keystore.Version, error) {
	if err := f.spend(); err != nil {
		return 0, err
	}
	return f.Keystore.Rotate(ctx)
}
func (f *flaky) Destroy(ctx context.Context, v keystore.Version) ([]keystore.Version, error) {
	if err := f.spend(); err != nil {
		return nil, err
	}
	return f.Keystore.Destroy(ctx, v)
}

func openKeystore(t testing.TB) (*sqlstore.DB, *keystore.File) {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(dir, "ck.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f, err := keystore.OpenFile(filepath.Join(dir, "keystore.json"))
	if err != nil {
		t.Fatal(err)
	}
	return st, f
}

// A shred killed at every point in turn leaves every survivor readable,
// and run again completes: the purged key's version is destroyed and no
// survivor is sealed under it.
func TestShredCrashAnywhere(t *testing.T) {
	ctx := context.Background()
	for budget := int64(0); budget < 12; budget++ {
		st, file := openKeystore(t)
		fl := &flaky{Keystore: file}
		fl.budget.Store(1 << 30)
		ks := keyring.NewKeystore(st, fl)
		var ids []string
		for i := range 7 {
			id, k, err := ks.CreateForTest(ctx, "t", fmt.Sprintf("dep-%d", i))
			if err != nil {
				t.Fatal(err)
			}
			k.Destroy()
			ids = append(ids, id)
		}
		if err := st.DestroyAvailabilityKey(ctx, ids[0], time.Now(), "test", "purge"); err != nil {
			t.Fatal(err)
		}
		fl.budget.Store(budget)
		_, shredErr := ks.Shred(ctx, ids[0])
		for _, id := range ids[1:] { // whatever happened, the survivors open
			if _, err := ks.GetForTest(ctx, id); err != nil {
				t.Fatalf("budget %d: after a crash (%v) survivor %s: %v", budget, shredErr, id, err)
			}
		}
		fl.budget.Store(1 << 30)
		v, err := ks.Shred(ctx, ids[0])
		if err != nil || v != 1 {
			t.Fatalf("budget %d: shred again = %d, %v; want 1", budget, v, err)
		}
		for _, id := range ids[1:] {
			if _, err := ks.GetForTest(ctx, id); err != nil {
				t.Fatalf("budget %d: survivor %s after the shred: %v", budget, id, err)
			}
			row, _ := st.AvailabilityKey(ctx, id)
			if row.KEKVersion <= 1 {
				t.Fatalf("budget %d: survivor %s still under version %d", budget, id, row.KEKVersion)
			}
		}
		if _, err := file.Open(ctx, 1, make([]byte, 60), nil); !errors.Is(err, keystore.ErrDestroyed) {
			t.Fatalf("budget %d: version 1 after the shred: %v, want destroyed", budget, err)
		}
		if cur, _ := file.Current(ctx); cur != 2 {
			t.Fatalf("budget %d: current version %d, want 2 (one rotation, however many runs)", budget, cur)
		}
	}
}

// Keys created while shreds run are never left under a destroyed version.
func TestShredConcurrentCreates(t *testing.T) {
	ctx := context.Background()
	st, file := openKeystore(t)
	ks := keyring.NewKeystore(st, file)
	var mu sync.Mutex
	var ids []string
	create := func(i int) {
		id, k, err := ks.CreateForTest(ctx, "t", fmt.Sprintf("dep-%d", i))
		if err != nil {
			t.Error(err)
			return
		}
		k.Destroy()
		mu.Lock()
		ids = append(ids, id)
		mu.Unlock()
	}
	for i := range 20 {
		create(i)
	}
	first := append([]string{}, ids...)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 25 {
				create(1000*(g+1) + i)
			}
		})
	}
	for i := range 5 {
		if err := st.DestroyAvailabilityKey(ctx, first[i], time.Now(), "test", "purge"); err != nil {
			t.Fatal(err)
		}
		if _, err := ks.Shred(ctx, first[i]); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	for _, id := range ids[5:] {
		if _, err := ks.GetForTest(ctx, id); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
}

// sealHook is a keystore that runs a function (once) before a seal.
type sealHook struct {
	keystore.Keystore
	before atomic.Pointer[func()]
}

func (h *sealHook) Seal(ctx context.Context, v keystore.Version, p, aad []byte) ([]byte, error) {
	if f := h.before.Swap(nil); f != nil {
		(*f)()
	}
	return h.Keystore.Seal(ctx, v, p, aad)
}

// A shred that starts while a key is being made, between its KEK version
// read and its row stored, waits for the row: it then re-seals it with
// the others. (It used to rotate and destroy that version first: the new
// key's seal failed, or its row landed under a destroyed version, which
// the next shred met and failed on.)
func TestShredWaitsForACreate(t *testing.T) {
	ctx := context.Background()
	st, file := openKeystore(t)
	keys := &sealHook{Keystore: file}
	ks := keyring.NewKeystore(st, keys)
	purged, k, err := ks.CreateForTest(ctx, "t", "dep-purged")
	if err != nil {
		t.Fatal(err)
	}
	k.Destroy()
	if err := st.DestroyAvailabilityKey(ctx, purged, time.Now(), "test", "purge"); err != nil {
		t.Fatal(err)
	}
	shredded := make(chan error, 1)
	during := false
	hook := func() {
		go func() { _, err := ks.Shred(ctx, purged); shredded <- err }()
		select {
		case err := <-shredded: // it ran to its end inside the create
			during = true
			shredded <- err
		case <-time.After(300 * time.Millisecond): // it waits for the create
		}
	}
	keys.before.Store(&hook)
	id, k, err := ks.CreateForTest(ctx, "t", "dep-new")
	if err != nil {
		t.Fatalf("a key made while a shred starts: %v", err)
	}
	k.Destroy()
	if err := <-shredded; err != nil {
		t.Fatalf("the shred: %v", err)
	}
	if during {
		t.Error("the shred ran to its end between the create's version read and its row")
	}
	if _, err := ks.GetForTest(ctx, id); err != nil {
		t.Fatalf("the key made meanwhile: %v", err)
	}
	if row, _ := st.AvailabilityKey(ctx, id); row.KEKVersion != 2 {
		t.Errorf("the key made meanwhile is under version %d, want 2 (re-sealed by the shred)", row.KEKVersion)
	}
}

// A database from before the keystore: its rows, sealed under the service
// master key, are re-sealed under version 1, once.
func TestMigrateMasterKey(t *testing.T) {
	ctx := context.Background()
	st, file := openKeystore(t)
	raw := make([]byte, 32)
	rand.Read(raw)
	block, _ := aes.NewCipher(raw)
	master, _ := cipher.NewGCM(block)
	// The old format (docs/format.md): nonce ‖ GCM, associated data v1.
	for i := range 3 {
		id, dep := fmt.Sprintf("avk-%d", i), fmt.Sprintf("dep-%d", i)
		nonce := make([]byte, 12)
		rand.Read(nonce)
		sealed := master.Seal(nonce, nonce, raw, []byte("customerkey availability key v1\x00"+id+"\x00t\x00"+dep))
		if err := st.CreateAvailabilityKey(ctx, storeKey(id, dep, sealed)); err != nil {
			t.Fatal(err)
		}
	}
	ks := keyring.NewKeystore(st, file)
	if need, _ := ks.NeedsMasterKey(ctx); !need {
		t.Fatal("old rows, and NeedsMasterKey is false")
	}
	if _, err := ks.GetForTest(ctx, "avk-0"); err == nil {
		t.Fatal("an old row opened before the migration")
	}
	if n, err := ks.MigrateMasterKey(ctx, nil); err == nil || n != 0 {
		t.Fatalf("migration without the master key: %d, %v", n, err)
	}
	if n, err := ks.MigrateMasterKey(ctx, master); err != nil || n != 3 {
		t.Fatalf("migration: %d, %v; want 3", n, err)
	}
	for i := range 3 {
		k, err := ks.GetForTest(ctx, fmt.Sprintf("avk-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if got := k.Bytes(); string(got) != string(raw) {
			t.Fatal("a migrated key changed")
		}
	}
	if n, err := ks.MigrateMasterKey(ctx, nil); err != nil || n != 0 {
		t.Fatalf("migration again: %d, %v; want nothing to do", n, err)
	}
}

func storeKey(id, dep string, sealed []byte) store.AvailabilityKey {
	return store.AvailabilityKey{ID: id, Tenant: "t", DEP: dep, Sealed: sealed, Created: time.Now()}
}

// lockedStore counts the holders of its locks.
type lockedStore struct {
	*sqlstore.DB
	held atomic.Int32
}

func (l *lockedStore) Lock(ctx context.Context, name string) (func(), error) {
	unlock, err := l.DB.Lock(ctx, name)
	if err != nil {
		return nil, err
	}
	l.held.Add(1)
	return func() { l.held.Add(-1); unlock() }, nil
}

// lockChecked refuses a rotation or a destroy made without the store's
// lock held.
type lockChecked struct {
	keystore.Keystore
	st *lockedStore
}

func (c *lockChecked) Rotate(ctx context.Context) (keystore.Version, error) {
	if c.st.held.Load() == 0 {
		return 0, errors.New("a KEK rotation without the cluster's lock")
	}
	return c.Keystore.Rotate(ctx)
}

func (c *lockChecked) Destroy(ctx context.Context, v keystore.Version) ([]keystore.Version, error) {
	if c.st.held.Load() == 0 {
		return nil, errors.New("a KEK destroy without the cluster's lock")
	}
	return c.Keystore.Destroy(ctx, v)
}

// TestRotationHoldsTheClusterLock: the first KEK version and every
// shred's rotation and destroy are made under the store's lock, which
// every node sharing the database takes in turn (on PostgreSQL:
// TestPostgresLockAcrossNodes). Nodes share the keystore (a PKCS#11
// token); a lock of one process's let two nodes each make "the next
// version", two key objects under one label.
func TestRotationHoldsTheClusterLock(t *testing.T) {
	ctx := context.Background()
	db, file := openKeystore(t)
	st := &lockedStore{DB: db}
	ks := keyring.NewKeystore(st, &lockChecked{Keystore: file, st: st})
	id, k, err := ks.CreateForTest(ctx, "t", "dep-1") // the first version
	if err != nil {
		t.Fatal(err)
	}
	k.Destroy()
	other, k, err := ks.CreateForTest(ctx, "t", "dep-2")
	if err != nil {
		t.Fatal(err)
	}
	k.Destroy()
	if err := st.DestroyAvailabilityKey(ctx, id, time.Now(), "test", "purge"); err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Shred(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := ks.GetForTest(ctx, other); err != nil {
		t.Fatalf("the survivor after the shred: %v", err)
	}
	if n := st.held.Load(); n != 0 {
		t.Fatalf("%d holders of the lock after the shred", n)
	}
}
