package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"unsafe"
)

// SQLite's unix locks are fcntl byte-range locks on the database file
// (os_unix.c): a reader holds a read lock over the SHARED range, a writer
// takes the PENDING and RESERVED bytes, and an EXCLUSIVE lock is a write
// lock over the SHARED range. In WAL mode every open connection keeps its
// read lock on the SHARED range for as long as it is open, idle or not.
// These offsets are part of SQLite's file-locking protocol, fixed so that
// every SQLite build can share a file.
const (
	sqlitePendingByte = 0x40000000
	sqliteLockedBytes = 2 + 510 // PENDING, RESERVED, then the SHARED range
)

// fOFDSetlk is F_OFD_SETLK (Linux 3.15+): an open-file-description lock.
// Unlike classic POSIX locks it conflicts with the locks of this very
// process too (an in-process server, as in the tests) and is not dropped
// when some other descriptor of the file is closed.
const fOFDSetlk = 37

// lockForRestore takes SQLite's EXCLUSIVE lock on the database at path
// without waiting: it fails with ErrInUse when any process, this one
// included, has the database open. While it is held, a process that opens
// the database waits on its busy timeout instead of reading. Missing file:
// nothing to lock.
func lockForRestore(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0) // #nosec G304 -- the operator's database path
	if errors.Is(err, fs.ErrNotExist) {
		return func() {}, nil
	}
	if err != nil {
		return nil, err
	}
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: sqlitePendingByte, Len: sqliteLockedBytes}
	// fcntl(2) takes the lock description by address; the syscall package
	// has no wrapper for open file description locks.
	if _, _, e := syscall.Syscall(syscall.SYS_FCNTL, f.Fd(), fOFDSetlk, uintptr(unsafe.Pointer(&lk))); e != 0 { // #nosec G103 -- lk outlives the call, as fcntl(2) requires
		_ = f.Close()
		if e == syscall.EAGAIN || e == syscall.EACCES {
			return nil, fmt.Errorf("%s is open in another process (a running server or command): stop every gatehouse on this store first: %w", path, ErrInUse)
		}
		return nil, fmt.Errorf("lock %s: %w", path, e)
	}
	return func() { _ = f.Close() }, nil // closing drops the OFD lock
}

// keepOwner gives the staged file the owner and group of the database it
// replaces, so that a restore run as root leaves a file the service user
// can still open. Best effort: only root may change owners.
func keepOwner(staged, replaced string) {
	st, err := os.Stat(replaced)
	if err != nil {
		return
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 {
		_ = os.Chown(staged, int(sys.Uid), int(sys.Gid))
	}
}
