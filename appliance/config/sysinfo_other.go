//go:build !linux

package config

import "errors"

// sysinfoRAM has no sysinfo(2) to ask outside Linux; the budget falls back to its
// fixed guess.
func sysinfoRAM() (int64, error) {
	return 0, errors.New("config: sysinfo: not available on this system")
}
