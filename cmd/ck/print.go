package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// printable is every string ck prints that a server supplied (the audit
// log's actors, targets and reasons, names, job errors, problem details):
// control characters (newline, carriage return, tab, escape, DEL, C1) and
// the bidirectional-text controls are escaped as in a Go string literal
// (\n, \x1b, \u202e), and bytes that are not UTF-8 as \xNN, so what a
// server stored cannot start a new line of a table, forge an audit record
// or drive the terminal. Ordinary Unicode (é, 日本, emoji) is kept. -o json
// output is escaped by JSON itself.
func printable(s string) string {
	if strings.IndexFunc(s, needsEscape) < 0 && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case needsEscape(r):
			q := strconv.QuoteRune(r) // '\n', '\x1b', '\u202e'
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
		i += size
	}
	return b.String()
}

func needsEscape(r rune) bool {
	switch {
	case unicode.IsControl(r):
		return true
	case r == '\u061c', r == '\u200e', r == '\u200f', r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069':
		return true // bidirectional-text controls (Trojan Source)
	}
	return false
}

// printf is fmt.Fprintf with every string argument made printable: for
// the lines ck prints outside tables that carry a server's strings.
func printf(w io.Writer, format string, args ...any) {
	for i, v := range args {
		switch s := v.(type) {
		case string:
			args[i] = printable(s)
		case fmt.Stringer:
			args[i] = printable(s.String())
		case error:
			args[i] = printable(s.Error())
		}
	}
	fmt.Fprintf(w, format, args...)
}

// linesError is an error ck words itself over several lines (every
// problem of a config file; a hint after a failure): friendly keeps its
// line breaks and makes each line printable. Every other error prints as
// one printable line, so a server's words cannot start a line of their
// own.
type linesError struct {
	lines []string
	err   error // the error behind it, for errors.Is and errors.As
}

func (e *linesError) Error() string { return strings.Join(e.lines, "\n") }

func (e *linesError) Unwrap() error { return e.err }
