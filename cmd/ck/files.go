package main

import (
	"errors"
	"os"
	"path/filepath"
)

// writeFileAtomic replaces path with data: readers see the old file or
// the whole new one, never a part (the connection file of a ck dev that
// other ck commands, and scripts waiting for it, read as it is written).
//
// The result is always a new file of mode, made by ck: a file at path with
// looser permissions does not keep them, and a symbolic link at path is
// replaced, not followed (the rename replaces the directory entry). So
// every secret ck writes to a path the user names (tokens, audit exports,
// key backups) goes through here or createAtomic.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := createAtomic(path, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Abort()
		return err
	}
	return f.Commit()
}

// atomicFile is a file being written in path's directory under a
// temporary name; Commit renames it to path, Abort removes it.
type atomicFile struct {
	*os.File
	path string
}

// createAtomic starts writing what will replace path, for output too
// large to hold in memory: write to the result, then Commit (or Abort on
// an error). The file has mode from the start, so no other user can open
// it while it is written.
func createAtomic(path string, mode os.FileMode) (*atomicFile, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*") // 0600
	if err != nil {
		return nil, err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, err
	}
	return &atomicFile{File: tmp, path: path}, nil
}

// Commit makes the written file path: synced, closed, renamed over
// whatever path was.
func (f *atomicFile) Commit() error {
	defer os.Remove(f.Name()) // gone after the rename; cleans up after a failure
	if err := errors.Join(f.Sync(), f.Close()); err != nil {
		return err
	}
	return os.Rename(f.Name(), f.path)
}

// Abort drops the written file; path is left as it was.
func (f *atomicFile) Abort() {
	f.Close()
	os.Remove(f.Name())
}
