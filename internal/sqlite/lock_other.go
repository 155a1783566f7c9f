//go:build !unix

package sqlite

// lockFile is a no-op where advisory file locks are not available: run
// `gatehouse migrate` once before starting servers there.
func lockFile(string) (func(), error) { return func() {}, nil }
