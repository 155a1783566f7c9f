//go:build !linux

package sqlite

import (
	"fmt"
	"os"
)

// lockForRestore, where open-file-description locks are not available,
// only looks for the -shm file that every process with the database open
// in WAL mode keeps beside it (removed when the last one closes). It is a
// heuristic: stop the servers before a restore.
func lockForRestore(path string) (unlock func(), err error) {
	if _, err := os.Stat(path + "-shm"); err == nil {
		return nil, fmt.Errorf("%s-shm exists: a process has the database open, or ended without closing it: stop every gatehouse on this store first: %w", path, ErrInUse)
	}
	return func() {}, nil
}

// keepOwner is a no-op here: run the restore as the service's user.
func keepOwner(staged, replaced string) {}
