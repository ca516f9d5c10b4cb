package appliance

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
)

// LogHandler is the tracker's slog.Handler. A reload changes the output format
// (log.format) by swapping the handler it forwards to; loggers derived with
// With or WithGroup follow the swap, since each keeps what it adds and
// rebuilds its handler on the new one the next time it logs.
type LogHandler struct {
	root *logRoot
	// ops is what With and WithGroup added, in order, to be put on each
	// inner handler this one forwards to.
	ops []logOp
	// cur is the inner handler with ops on it, for the root's generation gen.
	cur atomic.Pointer[genHandler]
}

type logRoot struct {
	w     io.Writer
	level slog.Leveler
	inner atomic.Pointer[genHandler]
}

type genHandler struct {
	gen uint64
	h   slog.Handler
}

type logOp struct {
	attrs []slog.Attr
	group string
}

// NewLogHandler returns a handler writing to w in format ("text" or "json")
// the records level lets through.
func NewLogHandler(w io.Writer, format string, level slog.Leveler) *LogHandler {
	r := &logRoot{w: w, level: level}
	r.inner.Store(&genHandler{h: r.build(format)})
	return &LogHandler{root: r}
}

func (r *logRoot) build(format string) slog.Handler {
	opts := &slog.HandlerOptions{Level: r.level}
	if format == "json" {
		return slog.NewJSONHandler(r.w, opts)
	}
	return slog.NewTextHandler(r.w, opts)
}

// SetFormat makes every logger on h, and on the handlers derived from it, write
// in format from the next record on.
func (h *LogHandler) SetFormat(format string) {
	old := h.root.inner.Load()
	h.root.inner.Store(&genHandler{gen: old.gen + 1, h: h.root.build(format)})
}

// handler is the inner handler with h's attributes and groups, rebuilt only when
// the format changed since it was last built.
func (h *LogHandler) handler() slog.Handler {
	in := h.root.inner.Load()
	if c := h.cur.Load(); c != nil && c.gen == in.gen {
		return c.h
	}
	out := in.h
	for _, op := range h.ops {
		if op.group != "" {
			out = out.WithGroup(op.group)
		} else {
			out = out.WithAttrs(op.attrs)
		}
	}
	h.cur.Store(&genHandler{gen: in.gen, h: out})
	return out
}

func (h *LogHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.root.level.Level() <= l
}

func (h *LogHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.handler().Handle(ctx, r)
}

func (h *LogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return h.with(logOp{attrs: attrs})
}

func (h *LogHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return h.with(logOp{group: name})
}

func (h *LogHandler) with(op logOp) *LogHandler {
	ops := make([]logOp, len(h.ops), len(h.ops)+1)
	copy(ops, h.ops)
	return &LogHandler{root: h.root, ops: append(ops, op)}
}
