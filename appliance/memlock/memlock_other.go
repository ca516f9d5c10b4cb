//go:build !linux

package memlock

import "errors"

// ErrUnsupported is every answer outside Linux, where only developers run the
// tracker (with process.lock_memory off).
var ErrUnsupported = errors.New("memlock: not supported on this system")

// Lock is not supported here.
func Lock() error { return ErrUnsupported }

// Unlock is not supported here.
func Unlock() error { return ErrUnsupported }

// Limit is not known here.
func Limit() (n uint64, unlimited bool, err error) { return 0, false, ErrUnsupported }

// Room is not known here.
func Room() (n uint64, unlimited bool, err error) { return 0, false, ErrUnsupported }

// Locked is not known here.
func Locked() (uint64, error) { return 0, ErrUnsupported }
