//go:build linux

package main

import (
	"os"
	"syscall"
	"time"
)

// fileRead says whether file's access time is past its modification time.
func fileRead(file string) bool {
	fi, err := os.Stat(file)
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	return time.Unix(st.Atim.Unix()).After(fi.ModTime())
}

// ownedByMe says whether fi is a file of this process's user.
func ownedByMe(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Getuid()
}
