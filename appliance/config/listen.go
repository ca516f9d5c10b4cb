package config

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
)

// CheckListen tries to bind every http.listen address over TCP and every udp.listen
// address over UDP and releases them again, reporting each that fails as a KeyError
// for its key. It is separate from
// Load because validation must not touch the network; check-config uses it to find a
// busy port before the service does.
func CheckListen(cfg Config) error {
	var errs Errors
	var bound []io.Closer
	// Hold every listener until all are tried: ":6969" and "127.0.0.1:6969" each bind
	// alone but not together, and the tracker binds them together.
	defer func() {
		for _, ln := range bound {
			ln.Close()
		}
	}()
	for _, addr := range cfg.HTTP.Listen {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			errs = append(errs, &KeyError{Key: "http.listen", Problem: fmt.Sprintf("%q: %s", addr, BindProblem(err))})
			continue
		}
		bound = append(bound, ln)
	}
	for _, addr := range cfg.UDP.Listen {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			errs = append(errs, &KeyError{Key: "udp.listen", Problem: fmt.Sprintf("%q: %s", addr, BindProblem(err))})
			continue
		}
		bound = append(bound, pc)
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// BindProblem is the part of a bind error a user acts on, "address already in use",
// without the "listen tcp" and syscall names around it.
func BindProblem(err error) string {
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err.Error()
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err.Error()
	}
	return err.Error()
}
