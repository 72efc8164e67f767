package keystore

import (
	"context"
	"path/filepath"
	"testing"
)

// A crash between writing the new file and renaming it leaves the old
// keystore whole (and the next write cleans nothing up it needs).
func TestFileCrashBeforeRename(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keystore.json")
	f, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	f.testHook = func(stage string) {
		if stage == "written" {
			panic("crash")
		}
	}
	func() {
		defer func() { recover() }()
		f.Rotate(ctx)
	}()
	g, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := g.Current(ctx); v != 1 {
		t.Fatalf("after a crash before the rename, Current = %d, want 1", v)
	}
}
