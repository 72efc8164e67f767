package workload

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// wordsReference is the definition words must follow.
func wordsReference(content []byte) []string {
	var out []string
	for _, w := range strings.FieldsFunc(strings.ToLower(string(content)), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if len(w) >= 2 && len(w) <= 64 && !slices.Contains(out, w) && len(out) < maxWords {
			out = append(out, w)
		}
	}
	return out
}

func TestWords(t *testing.T) {
	for _, in := range []string{"", "a", "Quarterly numbers, quarterly REPORT 2026!", "Ünïcödé Straße ÉTÉ été x1 y", "tab\there\nnew-line", strings.Repeat("z", 70) + " ok", "\xff\xfebad utf8\xc3"} {
		if got, want := words([]byte(in)), wordsReference([]byte(in)); !slices.Equal(got, want) {
			t.Errorf("words(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestWordsBounded: an item of more distinct words than maxWords is
// indexed by its first maxWords.
func TestWordsBounded(t *testing.T) {
	var b strings.Builder
	for i := range maxWords + 5000 {
		fmt.Fprintf(&b, "w%d ", i)
	}
	got := words([]byte(b.String()))
	if len(got) != maxWords || got[0] != "w0" || got[maxWords-1] != fmt.Sprintf("w%d", maxWords-1) {
		t.Fatalf("%d words, first %q, last %q; want the first %d", len(got), got[0], got[len(got)-1], maxWords)
	}
}

func FuzzWords(f *testing.F) {
	f.Add([]byte("Quarterly numbers, Straße"))
	f.Fuzz(func(t *testing.T, in []byte) {
		if got, want := words(in), wordsReference(in); !slices.Equal(got, want) {
			t.Fatalf("words(%q) = %q, want %q", in, got, want)
		}
	})
}
