package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadmeTour runs the README's tour, the shell block of "A short
// tour", exactly as written, with bash -e in a fresh directory where `ck
// dev` runs (as the README says: started first, in the same directory).
// `go build -o ck ./cmd/ck` there makes ./ck this test binary, so the
// tour runs the code under test; any other go command fails. The test
// fails when the README and the code drift apart.
func TestReadmeTour(t *testing.T) {
	if testing.Short() {
		t.Skip("the README tour runs ck dev and the whole tour; skipped with -short")
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash to run the README's shell block")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	tour, err := shellBlock(string(readme), "## A short tour")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, ".bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	// go build -o FILE ./cmd/ck writes FILE running this binary as ck; go
	// run ./cmd/ck ARGS runs it.
	goShim := `#!/bin/sh
ck='#!/bin/sh
CK_TEST_RUN_CK=1 exec "` + self + `" "$@"
'
if [ "$1" = build ] && [ "$2" = -o ] && [ "$4" = ./cmd/ck ] && [ $# -eq 4 ]; then
  printf '%s' "$ck" > "$3" && chmod +x "$3" && exit 0
fi
if [ "$1" = run ] && [ "$2" = ./cmd/ck ]; then
  shift 2
  CK_TEST_RUN_CK=1 exec "` + self + `" "$@"
fi
echo "README tour test: go $* is not simulated; the tour may only build or run ./cmd/ck" >&2
exit 1
`
	if err := os.WriteFile(filepath.Join(bin, "go"), []byte(goShim), 0o755); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CK_") && !strings.HasPrefix(kv, "PATH=") {
			env = append(env, kv)
		}
	}
	env = append(env, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))

	// The first terminal: ck dev in the directory (free ports, quick feature
	// registration: neither is part of the tour).
	var devLog bytes.Buffer
	dev := exec.Command(self, "dev", "--port", "0", "--feature-delay", "200ms")
	dev.Dir, dev.Env = dir, append(env, "CK_TEST_RUN_CK=1")
	dev.Stdout, dev.Stderr = &devLog, &devLog
	if err := dev.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		dev.Process.Signal(syscall.SIGINT)
		done := make(chan struct{})
		go func() { dev.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			dev.Process.Kill()
			<-done
		}
	}()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(dir, "ck-data", DevFile)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ck dev did not start; its output:\n%s", devLog.String())
		}
	}

	// The second terminal: the tour.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	run := exec.CommandContext(ctx, bash, "-e", "-x", "-c", tour)
	run.Dir, run.Env = dir, env
	out, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("the README tour fails (%v); its session, each command after +:\n%s\nck dev:\n%s", err, out, devLog.String())
	}
	t.Logf("the README tour:\n%s", out)
}

// shellBlock is the first ```sh block after the heading.
func shellBlock(md, heading string) (string, error) {
	_, after, ok := strings.Cut(md, "\n"+heading+"\n")
	if !ok {
		return "", fmt.Errorf("README.md has no heading %q", heading)
	}
	_, after, ok = strings.Cut(after, "\n```sh\n")
	if !ok {
		return "", errors.New("README.md: no ```sh block after " + heading)
	}
	block, _, ok := strings.Cut(after, "\n```")
	if !ok {
		return "", errors.New("README.md: the tour's ```sh block does not end")
	}
	return block + "\n", nil
}
