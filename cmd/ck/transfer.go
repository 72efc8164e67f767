package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/customerkey/customerkey/client"
)

// File transfers (SPEC D8): ck streams a file from disk to the service
// and back, never holding it in memory. Large ones go as resumable
// uploads, so a dropped connection costs one part, and an upload cut off
// (ck killed, the laptop closed) goes on with --resume.

// transfer shows a transfer's progress on stderr: a line redrawn in place
// on a terminal, a line per tenth otherwise (with --progress), nothing
// when stderr is not a terminal and --progress was not asked.
type transfer struct {
	w        io.Writer
	what     string
	total    int64 // -1: not known
	terminal bool
	start    time.Time
	shown    int64
	last     time.Time
}

func (a *app) newTransfer(what string, total int64, force bool) *transfer {
	t := &transfer{what: what, total: total, start: time.Now()}
	if f, ok := a.stderr.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			t.terminal = true
		}
	}
	if t.terminal || force {
		t.w = a.stderr
	}
	return t
}

// at reports that done bytes are through.
func (t *transfer) at(done int64) {
	if t.w == nil {
		return
	}
	now := time.Now()
	final := t.total >= 0 && done >= t.total
	switch {
	case t.terminal && !final && now.Sub(t.last) < 200*time.Millisecond:
		return
	case !t.terminal && !final && (t.total <= 0 || (done-t.shown)*10 < t.total):
		return
	}
	t.shown, t.last = done, now
	rate := float64(done) / max(now.Sub(t.start).Seconds(), 0.001)
	line := fmt.Sprintf("%s %s", t.what, humanize.IBytes(uint64(done)))
	if t.total >= 0 {
		pct := 100.0
		if t.total > 0 {
			pct = float64(done) * 100 / float64(t.total)
		}
		line = fmt.Sprintf("%s %s / %s (%.0f%%)", t.what, humanize.IBytes(uint64(done)), humanize.IBytes(uint64(t.total)), pct)
	}
	line += fmt.Sprintf("  %s/s", humanize.IBytes(uint64(rate)))
	if t.terminal {
		fmt.Fprintf(t.w, "\r\033[K%s", line)
		if final {
			fmt.Fprintln(t.w)
		}
		return
	}
	fmt.Fprintln(t.w, line)
}

// counter counts the bytes through a reader or writer for a transfer.
type counter struct {
	r io.Reader
	w io.Writer
	n int64
	t *transfer
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.t.at(c.n)
	return n, err
}

func (c *counter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.t.at(c.n)
	return n, err
}

// putFile uploads path (or stdin for "-") as a new version of a file.
func (a *app) putFile(ctx context.Context, c *client.Client, tenant, site, file, path, resume string, partSize int64, progress bool) (client.ItemInfo, error) {
	if path == "-" {
		if resume != "" {
			return client.ItemInfo{}, errors.New("--resume needs --file PATH: standard input cannot be read again")
		}
		t := a.newTransfer("sent", -1, progress)
		in := &counter{r: os.Stdin, t: t}
		info, err := c.PutFileFrom(ctx, tenant, site, file, in, -1, nil)
		t.total = in.n // known now: the last line says it
		t.at(in.n)
		return info, err
	}
	f, err := os.Open(path)
	if err != nil {
		return client.ItemInfo{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return client.ItemInfo{}, err
	}
	size := st.Size()
	// The digest first, so the service stores the file only if it got
	// these bytes.
	h := sha256.New()
	if _, err := io.Copy(h, &counter{r: f, t: a.newTransfer("hashed", size, progress && size > partSize)}); err != nil {
		return client.ItemInfo{}, err
	}
	sum := h.Sum(nil)
	if size <= partSize && resume == "" {
		t := a.newTransfer("sent", size, progress)
		return c.PutFileFrom(ctx, tenant, site, file, &counter{r: io.NewSectionReader(f, 0, size), t: t}, size, sum)
	}
	t := a.newTransfer("sent", size, progress)
	var id string
	info, err := c.UploadFile(ctx, tenant, site, file, f, size, sum, client.UploadOptions{PartSize: partSize, Resume: resume,
		Started: func(u string) { id = u }, Progress: t.at})
	if err != nil && id != "" {
		// Only an upload the service still holds can be resumed: a digest
		// that did not match, or a newer version, ended it.
		if u, uerr := c.Upload(ctx, tenant, site, file, id); uerr == nil {
			return info, &linesError{err: err, lines: []string{friendly(err), fmt.Sprintf("the upload is kept for a day (%d of %d bytes received): go on with ck site file put %s %s --tenant %s --file %s --resume %s", u.Received, u.Size, site, file, tenant, path, id)}}
		}
	}
	return info, err
}

// parseRange reads --range: FIRST-LAST, FIRST- or -SUFFIX (bytes).
func parseRange(s string) (*client.Range, error) {
	if s == "" {
		return nil, nil
	}
	bad := fmt.Errorf("--range %q: give FIRST-LAST, FIRST- or -COUNT in bytes, e.g. 0-1023", s)
	first, last, ok := strings.Cut(s, "-")
	if !ok {
		return nil, bad
	}
	if first == "" { // the last COUNT bytes: asked of the service as it is
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n <= 0 {
			return nil, bad
		}
		return &client.Range{Offset: -n, Length: -1}, nil
	}
	a, err := strconv.ParseInt(first, 10, 64)
	if err != nil || a < 0 {
		return nil, bad
	}
	if last == "" {
		return &client.Range{Offset: a, Length: -1}, nil
	}
	b, err := strconv.ParseInt(last, 10, 64)
	if err != nil || b < a {
		return nil, bad
	}
	return &client.Range{Offset: a, Length: b - a + 1}, nil
}

// getFile reads a file (or a range of it) to out, or stdout for "".
// A whole file is checked against its digest; written to a path, it
// appears there only once checked.
func (a *app) getFile(ctx context.Context, c *client.Client, tenant, site, file string, version int, rng *client.Range, out string, progress bool) error {
	f, err := c.OpenFile(ctx, tenant, site, file, version, rng)
	return a.download(f, err, rng, out, progress)
}

// download streams content to out (a temporary file renamed once the
// digest is checked) or to stdout, with progress.
func (a *app) download(f *client.Content, err error, rng *client.Range, out string, progress bool) error {
	if err != nil {
		return err
	}
	defer f.Close()
	var w io.Writer = a.stdout
	var tmp *os.File
	if out != "" {
		if tmp, err = os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".part-*"); err != nil {
			return err
		}
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		w = tmp
	}
	t := a.newTransfer("received", f.Length, progress)
	if _, err := io.Copy(&counter{w: w, t: t}, f); err != nil {
		return err
	}
	if rng == nil {
		if err := f.Verify(); err != nil {
			return err
		}
	}
	if tmp == nil {
		return nil
	}
	if err := tmp.Chmod(0o600); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), out)
}

// transferFlags are the flags of put and get.
func transferFlags(cmd *cobra.Command, progress *bool) {
	cmd.Flags().BoolVar(progress, "progress", false, "show progress on stderr even when it is not a terminal (it is shown on a terminal)")
}
