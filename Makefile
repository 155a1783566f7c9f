# Shortcuts for the release and deployment checks; the scripts are the source
# of truth and run without make too.
export GOTOOLCHAIN := go1.27.3

.PHONY: test release check-systemd golden

test:
	go test ./...

# Static, reproducible linux/amd64 and linux/arm64 binaries, SBOMs and
# SHA256SUMS in dist/ (scripts/release).
release:
	scripts/release dist

# systemd-analyze security of deploy/gatehouse.service, at most 2.0.
check-systemd:
	scripts/check-systemd

# Rewrite cmd/gatehouse/testdata/config_check.golden after a deliberate change
# to `gatehouse config check` or to the serve flags.
golden:
	go test ./cmd/gatehouse -run ConfigCheckGolden -update
