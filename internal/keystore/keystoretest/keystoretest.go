// Package keystoretest is the conformance suite every keystore passes:
// run it with Run(t, open), where open opens the same backing store each
// time it is called (the file at one path, the same token), so the suite
// can check what survives a close and a reopen.
package keystoretest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/customerkey/customerkey/internal/keystore"
)

// Run exercises a keystore that starts empty.
func Run(t *testing.T, open func(t *testing.T) keystore.Keystore) {
	ctx := context.Background()
	ks := open(t)
	defer func() { ks.Close() }()
	aad := []byte("customerkey availability key v2\x00avk-1\x00tenant\x00dep")
	secret := bytes.Repeat([]byte{0x5a}, 32)

	if v, err := ks.Current(ctx); err != nil || v != 0 {
		t.Fatalf("empty keystore: Current = %d, %v; want 0, nil", v, err)
	}
	if _, err := ks.Seal(ctx, 1, secret, aad); !errors.Is(err, keystore.ErrUnknownVersion) {
		t.Fatalf("Seal under a version never made: %v, want ErrUnknownVersion", err)
	}
	v1 := rotate(t, ks, 1)
	sealed1 := seal(t, ks, v1, secret, aad)
	if len(sealed1) != 12+32+16 {
		t.Fatalf("sealed %d bytes, want nonce ‖ ct ‖ tag = 60", len(sealed1))
	}
	if again := seal(t, ks, v1, secret, aad); bytes.Equal(again, sealed1) {
		t.Fatal("two seals of the same key are equal: the nonce is not random")
	}
	openOK(t, ks, v1, sealed1, aad, secret)

	// Tampering in every way fails, and says little.
	for name, c := range map[string]struct {
		v      keystore.Version
		sealed []byte
		aad    []byte
	}{
		"other aad":       {v1, sealed1, append(bytes.Clone(aad), 'x')},
		"flipped bit":     {v1, flip(sealed1, 20), aad},
		"flipped nonce":   {v1, flip(sealed1, 0), aad},
		"truncated":       {v1, sealed1[:27], aad},
		"empty":           {v1, nil, aad},
		"unknown version": {7, sealed1, aad},
	} {
		if out, err := ks.Open(ctx, c.v, c.sealed, c.aad); err == nil {
			t.Errorf("%s: opened (%x)", name, out)
		}
	}

	v2 := rotate(t, ks, 2)
	sealed2 := seal(t, ks, v2, secret, aad)
	if _, err := ks.Open(ctx, v1, sealed2, aad); err == nil {
		t.Fatal("a version-2 seal opened under version 1")
	}
	openOK(t, ks, v1, sealed1, aad, secret) // old versions open until destroyed

	// Close and reopen: versions and keys persist.
	must(t, ks.Close())
	ks = open(t)
	if v, err := ks.Current(ctx); err != nil || v != v2 {
		t.Fatalf("after reopen: Current = %d, %v; want %d", v, err, v2)
	}
	openOK(t, ks, v1, sealed1, aad, secret)
	openOK(t, ks, v2, sealed2, aad, secret)

	// The current version cannot be destroyed.
	if _, err := ks.Destroy(ctx, v2); !errors.Is(err, keystore.ErrCurrent) {
		t.Fatalf("Destroy(current): %v, want ErrCurrent", err)
	}
	openOK(t, ks, v2, sealed2, aad, secret)

	gone, err := ks.Destroy(ctx, v1)
	if err != nil || fmt.Sprint(gone) != fmt.Sprint([]keystore.Version{v1}) {
		t.Fatalf("Destroy(%d) = %v, %v; want [%d]", v1, gone, err, v1)
	}
	if _, err := ks.Open(ctx, v1, sealed1, aad); !errors.Is(err, keystore.ErrDestroyed) {
		t.Fatalf("Open under a destroyed version: %v, want ErrDestroyed", err)
	}
	if _, err := ks.Seal(ctx, v1, secret, aad); !errors.Is(err, keystore.ErrDestroyed) {
		t.Fatalf("Seal under a destroyed version: %v, want ErrDestroyed", err)
	}
	if gone, err := ks.Destroy(ctx, v1); err != nil || len(gone) != 0 {
		t.Fatalf("Destroy again = %v, %v; want none, nil (idempotent)", gone, err)
	}
	openOK(t, ks, v2, sealed2, aad, secret)

	// A destroyed version stays destroyed and its number is never reused.
	must(t, ks.Close())
	ks = open(t)
	if _, err := ks.Open(ctx, v1, sealed1, aad); !errors.Is(err, keystore.ErrDestroyed) {
		t.Fatalf("after reopen, Open under the destroyed version: %v, want ErrDestroyed", err)
	}
	v3 := rotate(t, ks, 3)
	v4 := rotate(t, ks, 4)
	sealed3 := seal(t, ks, v3, secret, aad)
	gone, err = ks.Destroy(ctx, v3)
	if err != nil || fmt.Sprint(gone) != fmt.Sprint([]keystore.Version{v2, v3}) {
		t.Fatalf("Destroy(%d) = %v, %v; want [%d %d]", v3, gone, err, v2, v3)
	}
	for _, c := range []struct {
		v keystore.Version
		s []byte
	}{{v2, sealed2}, {v3, sealed3}} {
		if _, err := ks.Open(ctx, c.v, c.s, aad); !errors.Is(err, keystore.ErrDestroyed) {
			t.Fatalf("Open under destroyed version %d: %v, want ErrDestroyed", c.v, err)
		}
	}

	// Seal and Open are safe for concurrent use.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				s, err := ks.Seal(ctx, v4, secret, aad)
				if err == nil {
					var out []byte
					if out, err = ks.Open(ctx, v4, s, aad); err == nil && !bytes.Equal(out, secret) {
						err = errors.New("opened other bytes")
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent seal/open: %v", err)
	}
}

func rotate(t *testing.T, ks keystore.Keystore, want keystore.Version) keystore.Version {
	t.Helper()
	v, err := ks.Rotate(context.Background())
	if err != nil || v != want {
		t.Fatalf("Rotate = %d, %v; want %d", v, err, want)
	}
	if cur, err := ks.Current(context.Background()); err != nil || cur != v {
		t.Fatalf("after Rotate, Current = %d, %v; want %d", cur, err, v)
	}
	return v
}

func seal(t *testing.T, ks keystore.Keystore, v keystore.Version, p, aad []byte) []byte {
	t.Helper()
	s, err := ks.Seal(context.Background(), v, p, aad)
	if err != nil {
		t.Fatalf("Seal under %d: %v", v, err)
	}
	return s
}

func openOK(t *testing.T, ks keystore.Keystore, v keystore.Version, sealed, aad, want []byte) {
	t.Helper()
	out, err := ks.Open(context.Background(), v, sealed, aad)
	if err != nil || !bytes.Equal(out, want) {
		t.Fatalf("Open under %d = %x, %v; want %x", v, out, err, want)
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 1
	return c
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
