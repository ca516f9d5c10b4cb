package config

import (
	"errors"
	"strings"
)

// KeyError is a problem with one configuration key. Its text names the key and the
// problem, never a peer's data.
type KeyError struct {
	Key     string
	Problem string
}

func (e *KeyError) Error() string { return "config: " + e.Key + ": " + e.Problem }

// Errors is every problem found in one configuration; the CLI prints one per line.
type Errors []*KeyError

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// IsConfigError reports whether err is (or wraps) a configuration problem, which the
// CLI turns into exit status 78 (EX_CONFIG) so systemd does not restart into it.
func IsConfigError(err error) bool {
	var ke *KeyError
	var es Errors
	return errors.As(err, &ke) || errors.As(err, &es)
}
