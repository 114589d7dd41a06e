package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockDataDir takes DATA_DIR/hookd.lock for this process, so that a
// second hookd on the same data dir stops at start instead of working the
// same jobs. The lock is flock's: the kernel drops it when the process
// ends, however it ends, so a kill -9 leaves nothing to clean up. The file
// holds the pid of its holder, for the second one's message. `hookd jobs`
// does not take it: it is safe beside a running hookd.
func lockDataDir(dir string) (unlock func(), err error) {
	path := filepath.Join(dir, "hookd.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("lock DATA_DIR: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("DATA_DIR %s is in use by another hookd%s: two processes on one data dir would claim the same jobs; stop it first, or give this one its own DATA_DIR",
				dir, pidNote(string(holder)))
		}
		return nil, fmt.Errorf("lock DATA_DIR: %w", err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() { f.Close() }, nil
}

// pidNote is " (pid N)" when the lock file names its holder.
func pidNote(holder string) string {
	if pid, err := strconv.Atoi(strings.TrimSpace(holder)); err == nil {
		return fmt.Sprintf(" (pid %d)", pid)
	}
	return ""
}
