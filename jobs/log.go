package jobs

import (
	"context"
	"log/slog"
)

// quieter passes on only records at or above min. River reports every
// migration and producer tick at info level, which would drown the
// portal's own log.
type quieter struct {
	slog.Handler
	min slog.Level
}

func (q quieter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= q.min && q.Handler.Enabled(ctx, l)
}

func (q quieter) WithAttrs(attrs []slog.Attr) slog.Handler {
	return quieter{q.Handler.WithAttrs(attrs), q.min}
}

func (q quieter) WithGroup(name string) slog.Handler {
	return quieter{q.Handler.WithGroup(name), q.min}
}

func riverLog(log *slog.Logger) *slog.Logger {
	return slog.New(quieter{log.Handler(), slog.LevelWarn}).With("component", "river")
}
