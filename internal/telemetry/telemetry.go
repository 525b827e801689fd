// Package telemetry builds Pitwall's loggers: log/slog everywhere, with
// Temporal's SDK logger bridged to it.
package telemetry

import (
	"io"
	"log/slog"
	"os"
	"strings"

	tlog "go.temporal.io/sdk/log"
)

// Logger returns a text logger on w at the level PITWALL_LOG_LEVEL names
// (debug, info, warn, error; default info).
func Logger(w io.Writer, component string) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.ToUpper(os.Getenv("PITWALL_LOG_LEVEL")))); err != nil {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})).With("component", component)
}

// Temporal bridges the SDK's logger to slog.
func Temporal(l *slog.Logger) tlog.Logger { return tlog.NewStructuredLogger(l) }
