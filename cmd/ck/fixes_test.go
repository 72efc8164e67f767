package main

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// prose are the string literals' mentions of ck that are prose, not a
// command (write a command in running text as `ck dev`, in backquotes,
// and it ends there).
var prose = map[string]bool{
	"ck dev writes the operator's to dev.json": true, // internal/api: "... (ck tenant token; ck dev writes the operator's to dev.json)"
	"ck reads it by default":                   true, // cmd/ck/dev.go: "connection file ... (admin token inside; ck reads it by default)"
	"ck dev always has them":                   true, // internal/vault: "start it with --drill (ck dev always has them)"
}

// TestFixCommandsExist: every ck command that a message, a fix or a help
// text names (in the string literals of internal/ and cmd/ck) exists: its
// words are commands (or a seed cmdlet), `ck WORDS --help` runs, each
// --flag it names is one of the command's flags, and it is given no more
// arguments than the command takes.
func TestFixCommandsExist(t *testing.T) {
	mentions := map[string][]string{} // command text -> where
	for _, dir := range []string{"../../internal", "."} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			if dir == "." && strings.Contains(path, string(filepath.Separator)) {
				return nil // only cmd/ck itself
			}
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			for _, s := range texts(f) {
				for _, m := range ckMentions(s.text) {
					where := fset.Position(s.pos).String()
					mentions[m] = append(mentions[m], where)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// The help of every command, as it is built (examples made from
	// variables included).
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		texts := []string{c.Short, c.Long, c.Example}
		c.Flags().VisitAll(func(f *pflag.Flag) { texts = append(texts, f.Usage) })
		for _, s := range texts {
			for _, m := range ckMentions(s) {
				mentions[m] = append(mentions[m], "the help of "+c.CommandPath())
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk((&app{stdout: io.Discard, stderr: io.Discard}).rootCmd())
	if len(mentions) < 100 {
		t.Fatalf("found only %d ck commands in the sources' strings: the scan is broken", len(mentions))
	}
	var keys []string
	for m := range mentions {
		keys = append(keys, m)
	}
	sort.Strings(keys)
	used := map[string]bool{}
	for _, m := range keys {
		if prose[m] {
			used[m] = true
			continue
		}
		if w := words(m); len(w) > 1 && strings.Contains(w[1], "ARG") {
			continue // ck VARIABLE ...: checked in the built help above
		}
		if err := checkCommand(m); err != "" {
			t.Errorf("%s: %q: %s", mentions[m][0], m, err)
		}
	}
	for m := range prose {
		if !used[m] {
			t.Errorf("prose %q is no longer in the sources: drop it from the list", m)
		}
	}
}

type text struct {
	pos  token.Pos
	text string
}

// texts are a file's strings: each literal, and each concatenation of
// literals and other expressions (those become ARG), with format verbs
// as ARG too.
func texts(f *ast.File) []text {
	var out []text
	verb := regexp.MustCompile(`%[-+# 0-9.]*[a-zA-Z]`)
	var flat func(e ast.Expr) (string, bool)
	flat = func(e ast.Expr) (string, bool) {
		switch e := e.(type) {
		case *ast.BasicLit:
			if e.Kind == token.STRING {
				s, err := strconv.Unquote(e.Value)
				return s, err == nil
			}
		case *ast.BinaryExpr:
			if e.Op == token.ADD {
				l, lok := flat(e.X)
				r, rok := flat(e.Y)
				if !lok {
					l = "ARG"
				}
				if !rok {
					r = "ARG"
				}
				return l + r, lok || rok
			}
		case *ast.ParenExpr:
			return flat(e.X)
		}
		return "", false
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.BinaryExpr:
			if n.Op == token.ADD {
				if s, ok := flat(n); ok {
					out = append(out, text{n.Pos(), verb.ReplaceAllString(s, "ARG")})
					return false
				}
			}
		case *ast.BasicLit:
			if s, ok := flat(n); ok {
				out = append(out, text{n.Pos(), verb.ReplaceAllString(s, "ARG")})
			}
		}
		return true
	})
	return out
}

// ckMentions finds "ck ..." in s and returns each command's text, up to
// where it ends: the closing quote if it began after one, else a
// newline, ) ; | && # or a comma or full stop before a space.
func ckMentions(s string) []string {
	s = strings.ReplaceAll(s, "\\\n", " ") // shell line continuations
	var out []string
	for i := 0; ; {
		j := strings.Index(s[i:], "ck ")
		if j < 0 {
			return out
		}
		j += i
		i = j + 3
		var before byte = ' '
		if j > 0 {
			before = s[j-1]
		}
		if !strings.ContainsRune(" \n\t(\"'`:", rune(before)) {
			continue // "check ", "back "...
		}
		rest := s[j:]
		end := len(rest)
		if strings.ContainsRune("\"'`", rune(before)) {
			if k := strings.IndexByte(rest, before); k >= 0 {
				end = k
			}
		}
		for _, stop := range []string{"\n", ")", ";", "|", "&&", "#", ", ", ". ", ": ", " (", "`"} {
			if k := strings.Index(rest[:end], stop); k >= 0 {
				end = k
			}
		}
		cmd := strings.TrimRight(strings.TrimSpace(rest[:end]), ".,:")
		if cmd != "ck" {
			out = append(out, cmd)
		}
	}
}

// words splits a command line into words, keeping quoted ones whole.
func words(line string) []string {
	var out []string
	var cur strings.Builder
	var quote rune
	in := false
	for _, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

// checkCommand checks one mention and says what is wrong, or "".
func checkCommand(mention string) string {
	args := words(strings.TrimPrefix(mention, "ck "))
	args = resolveCmdlet(args)
	var buf bytes.Buffer
	root := (&app{stdout: &buf, stderr: &buf}).rootCmd()
	cmd, rest, err := root.Find(args)
	if err != nil {
		return err.Error()
	}
	if cmd == root {
		return "no such command"
	}
	if cmd.HasSubCommands() && !cmd.Runnable() && len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		return "ck " + strings.TrimPrefix(cmd.CommandPath(), "ck ") + " has no command " + strconv.Quote(rest[0])
	}
	// Flags: each must be the command's (its own or inherited); values
	// are not positional arguments.
	cmd.InheritedFlags() // merges the persistent flags into Flags()
	var positional []string
	wildcard := false
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		switch {
		case a == "..." || a == "ARG...":
			wildcard = true
		case strings.HasPrefix(a, "--ARG"):
			i++ // --%s VALUE: a flag chosen at run time
		case strings.HasPrefix(a, "--"):
			name, _, hasValue := strings.Cut(strings.TrimPrefix(a, "--"), "=")
			f := cmd.Flags().Lookup(name)
			if f == nil {
				return "ck " + strings.TrimPrefix(cmd.CommandPath(), "ck ") + " has no flag --" + name
			}
			if !hasValue && f.Value.Type() != "bool" {
				i++
			}
		case strings.HasPrefix(a, "-") && len(a) == 2:
			f := cmd.Flags().ShorthandLookup(a[1:])
			if f == nil {
				return "ck " + strings.TrimPrefix(cmd.CommandPath(), "ck ") + " has no flag " + a
			}
			if f.Value.Type() != "bool" {
				i++
			}
		default:
			positional = append(positional, a)
		}
	}
	// A bare mention names the command; given arguments, there must not
	// be more than it takes.
	if !wildcard && len(rest) > 0 && cmd.Args != nil {
		if err := cmd.Args(cmd, positional); err != nil && !strings.Contains(err.Error(), "requires") && !strings.Contains(err.Error(), "at least") {
			return "arguments " + strconv.Quote(strings.Join(positional, " ")) + ": " + err.Error()
		}
	}
	return runHelp(cmd)
}

// runHelp runs `ck WORDS --help` through a fresh root command.
func runHelp(cmd *cobra.Command) string {
	var buf bytes.Buffer
	root := (&app{stdout: &buf, stderr: &buf}).rootCmd()
	root.SetOut(&buf)
	root.SetErr(&buf)
	root.SetArgs(append(strings.Fields(strings.TrimPrefix(cmd.CommandPath(), "ck")), "--help"))
	if err := root.Execute(); err != nil {
		return "--help: " + err.Error()
	}
	if !strings.Contains(buf.String(), "Usage:") {
		return "--help printed no usage"
	}
	return ""
}

// TestMentionScan pins how mentions are cut out of text.
func TestMentionScan(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"check the name (ck dep list)", []string{"ck dep list"}},
		{"grant it: ck vault access-policy set V --spn A --key-permissions get,wrapKey,unwrapKey, or the role", []string{"ck vault access-policy set V --spn A --key-permissions get,wrapKey,unwrapKey"}},
		{"`ck dev` writes it", []string{"ck dev"}},
		{"ck audit head --out h.json && ck audit export --out a.jsonl", []string{"ck audit head --out h.json", "ck audit export --out a.jsonl"}},
		{"  ck dep new X \\\n      --key K1 --key K2", []string{"ck dep new X        --key K1 --key K2"}},
		{"back to ck", nil},
	} {
		if got := ckMentions(tc.in); strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("ckMentions(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := words(`set v --dep '' --role "Key Vault Reader"`); strings.Join(got, "|") != "set|v|--dep||--role|Key Vault Reader" {
		t.Errorf("words: %q", got)
	}
	if checkCommand("ck mailbox list") == "" || checkCommand("ck vault access-policy remove V --app X") == "" ||
		checkCommand("ck tenant plans set T --plan E5") == "" || checkCommand("ck dep set NAME --purge-request") != "" {
		t.Error("checkCommand does not tell real commands from wrong ones")
	}
}
