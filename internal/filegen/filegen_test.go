package filegen

import (
	"bytes"
	"io"
	"testing"
)

// TestReaderAtAnyOffset: a read from an offset gives the bytes a read
// from the start gives there, across AES block borders; labels differ.
func TestReaderAtAnyOffset(t *testing.T) {
	k := New("a")
	all, _ := io.ReadAll(k.Reader(0, 1000))
	for _, off := range []int64{0, 1, 15, 16, 17, 500, 999} {
		got, _ := io.ReadAll(k.Reader(off, 1000-off))
		if !bytes.Equal(got, all[off:]) {
			t.Errorf("offset %d: differs from the content there", off)
		}
	}
	other, _ := io.ReadAll(New("b").Reader(0, 1000))
	if bytes.Equal(other, all) || len(all) != 1000 {
		t.Error("two labels gave the same content, or the length is wrong")
	}
}
