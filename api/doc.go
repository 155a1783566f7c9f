// Package api holds the recorded exported API of gatehouse's public
// packages and the test that keeps it honest. It has no code to import.
//
// Each public package (auth, clientip, cors, jsonbody, problem, ratelimit,
// reqid, reqlog, sanitize, secheaders) has a snapshot here, <package>.txt:
// one line per exported identifier with its type or signature, sorted.
// api_test.go type-checks the packages as they are now and fails when the
// result differs from a snapshot, or when a snapshot changed without a line
// for its package in ../CHANGELOG.md.
//
// After an intended change to an exported identifier:
//
//	GOTOOLCHAIN=go1.27.3 UPDATE_API=1 go test ./api/
//
// rewrites the snapshots and prints, for every package whose snapshot
// changed, the line to add under "## Unreleased" in CHANGELOG.md:
//
//	## Unreleased
//	- auth: api sha256:0123456789abcdef — Verifier gains SetX.
//
// The hash is the first 16 hex digits of the SHA-256 of the package's
// snapshot; the test compares it with the topmost line for that package in
// CHANGELOG.md, so a changed API cannot land without a changelog entry that
// names it.
package api
