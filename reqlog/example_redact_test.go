package reqlog_test

import (
	"log/slog"
	"os"

	"github.com/gatehouse/gatehouse/reqlog"
)

func ExampleRedact() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey { // for a stable output
				return slog.Attr{}
			}
			return reqlog.Redact(groups, a)
		},
	}))
	// A mistake that Redact catches: secrets passed to a log call.
	logger.Info("login", "username", "alice", "password", "hunter2",
		"X-Api-Key", "k-123", slog.Group("request", "Authorization", "Bearer eyJ..."))
	// Output:
	// {"level":"INFO","msg":"login","username":"alice","password":"[REDACTED]","X-Api-Key":"[REDACTED]","request":{"Authorization":"[REDACTED]"}}
}
