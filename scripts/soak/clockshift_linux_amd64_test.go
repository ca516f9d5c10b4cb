//go:build soak && linux && amd64

package soak

// A wall-clock jump cannot be made for one process: time namespaces offset
// CLOCK_MONOTONIC and CLOCK_BOOTTIME, never CLOCK_REALTIME, and setting the
// machine's clock would jump every other process on it too. libfaketime cannot
// reach a static Go binary, which reads the clock through the vDSO, not libc.
//
// So the tracker runs under ptrace here. Before its first instruction the vDSO's
// entry in its auxiliary vector is hidden (AT_SYSINFO_EHDR becomes AT_IGNORE), and
// the Go runtime, finding no vDSO, reads every clock with the clock_gettime
// system call. Each such call stops at entry and exit, and at exit the offset of
// its clock, if any, is added to the timespec the kernel wrote. The binary is the
// one that ships, unmodified; only what the kernel tells it the time is changes.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	atNull        = 0
	atIgnore      = 1
	atSysinfoEHDR = 33
)

// Clocks by id (linux/time.h), in the two groups a jump moves.
var (
	wallClocks = []int{unix.CLOCK_REALTIME, unix.CLOCK_REALTIME_COARSE, unix.CLOCK_TAI}
	monoClocks = []int{unix.CLOCK_MONOTONIC, unix.CLOCK_MONOTONIC_RAW, unix.CLOCK_MONOTONIC_COARSE, unix.CLOCK_BOOTTIME}
)

// shifted is a process whose clocks this test moves.
type shifted struct {
	pid     int
	offsets [16]atomic.Int64 // nanoseconds added, by clock id
	reads   [16]atomic.Int64 // clock_gettime calls seen, by clock id
	done    chan struct{}    // closed once the process is gone
	status  unix.WaitStatus
	err     error // why tracing stopped, if not because the process exited

	shiftErrs atomic.Int64          // clock reads that could not be shifted
	shiftErr  atomic.Pointer[error] // the first reason
}

// startShifted starts argv with its clocks under this test's control. files are
// the child's stdin, stdout and stderr.
func startShifted(argv, env []string, dir string, files []uintptr) (*shifted, error) {
	s := &shifted{done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		defer close(s.done)
		// Every ptrace request must come from the thread that became the tracer,
		// and this thread is never given back to the scheduler.
		runtime.LockOSThread()
		pid, err := syscall.ForkExec(argv[0], argv, &syscall.ProcAttr{Dir: dir, Env: env, Files: files,
			Sys: &syscall.SysProcAttr{Ptrace: true, Setpgid: true}})
		if err != nil {
			started <- fmt.Errorf("soak: clockshift: start %s: %w", argv[0], err)
			return
		}
		s.pid = pid
		if err := s.attach(); err != nil {
			unix.Kill(pid, unix.SIGKILL)
			started <- err
			s.reap()
			return
		}
		started <- nil
		s.err = s.trace()
	}()
	if err := <-started; err != nil {
		<-s.done
		return nil, err
	}
	return s, nil
}

// attach runs at the stop after exec: it hides the vDSO and asks to see threads and
// system calls. If the tracer dies, the kernel kills the tracee (EXITKILL).
func (s *shifted) attach() error {
	var ws unix.WaitStatus
	if _, err := unix.Wait4(s.pid, &ws, unix.WALL, nil); err != nil {
		return fmt.Errorf("soak: clockshift: wait for exec: %w", err)
	}
	if !ws.Stopped() || ws.StopSignal() != unix.SIGTRAP {
		return fmt.Errorf("soak: clockshift: after exec the child is not stopped by SIGTRAP (status %#x)", uint32(ws))
	}
	if err := hideVDSO(s.pid); err != nil {
		return err
	}
	if err := unix.PtraceSetOptions(s.pid, unix.PTRACE_O_TRACECLONE|unix.PTRACE_O_TRACESYSGOOD|unix.PTRACE_O_EXITKILL); err != nil {
		return fmt.Errorf("soak: clockshift: ptrace options: %w", err)
	}
	if err := unix.PtraceSyscall(s.pid, 0); err != nil {
		return fmt.Errorf("soak: clockshift: resume: %w", err)
	}
	return nil
}

// hideVDSO walks the new image's initial stack — argc, argv, NULL, envp, NULL,
// then the auxiliary vector — and turns its AT_SYSINFO_EHDR entry into AT_IGNORE.
func hideVDSO(pid int) error {
	var regs unix.PtraceRegs
	if err := unix.PtraceGetRegs(pid, &regs); err != nil {
		return fmt.Errorf("soak: clockshift: registers: %w", err)
	}
	word := func(addr uintptr) (uint64, error) {
		var b [8]byte
		if _, err := unix.PtracePeekData(pid, addr, b[:]); err != nil {
			return 0, fmt.Errorf("soak: clockshift: read the initial stack: %w", err)
		}
		return binary.LittleEndian.Uint64(b[:]), nil
	}
	sp := uintptr(regs.Rsp)
	argc, err := word(sp)
	if err != nil {
		return err
	}
	p := sp + 8*uintptr(argc+2) // past argc, argv and its NULL
	for range 1 << 16 {         // the environment
		v, err := word(p)
		if err != nil {
			return err
		}
		p += 8
		if v == 0 {
			break
		}
	}
	for range 256 { // auxv pairs, up to AT_NULL
		typ, err := word(p)
		if err != nil {
			return err
		}
		switch typ {
		case atNull:
			return errors.New("soak: clockshift: the auxiliary vector has no AT_SYSINFO_EHDR: no vDSO to hide")
		case atSysinfoEHDR:
			var b [8]byte
			binary.LittleEndian.PutUint64(b[:], atIgnore)
			if _, err := unix.PtracePokeData(pid, p, b[:]); err != nil {
				return fmt.Errorf("soak: clockshift: hide the vDSO: %w", err)
			}
			return nil
		}
		p += 16
	}
	return errors.New("soak: clockshift: no end to the auxiliary vector")
}

// call is a clock_gettime seen at entry, awaiting its exit.
type call struct {
	clock int
	tp    uintptr
}

// trace runs until the traced process has exited.
func (s *shifted) trace() error {
	known := map[int]bool{s.pid: true}
	pending := map[int]call{}
	for {
		var ws unix.WaitStatus
		// Only this process group: the test's other children are not ours to reap.
		tid, err := unix.Wait4(-s.pid, &ws, unix.WALL, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("soak: clockshift: wait: %w", err)
		}
		if ws.Exited() || ws.Signaled() {
			delete(known, tid)
			delete(pending, tid)
			if tid == s.pid {
				s.status = ws
				return nil
			}
			continue
		}
		if !ws.Stopped() {
			continue
		}
		sig := 0
		switch stop := ws.StopSignal(); {
		case stop == unix.SIGTRAP|0x80:
			s.syscallStop(tid, pending)
		case stop == unix.SIGTRAP && ws.TrapCause() > 0:
			// A clone event: the new thread reports its own first stop.
		case stop == unix.SIGSTOP && !known[tid]:
			known[tid] = true // a new thread's first stop, which ptrace makes
		default:
			sig = int(stop) // the process's own signal, delivered as sent
		}
		// The thread may be gone already (a SIGKILL): nothing to resume then.
		unix.PtraceSyscall(tid, sig)
	}
}

// syscallStop reads which system call tid is entering or leaving; at the exit of
// clock_gettime it shifts the time the kernel wrote.
func (s *shifted) syscallStop(tid int, pending map[int]call) {
	// struct ptrace_syscall_info: op, then at 24 the entry's nr and args, or the
	// exit's return value.
	var info [88]byte
	_, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_GET_SYSCALL_INFO, uintptr(tid),
		uintptr(len(info)), uintptr(unsafe.Pointer(&info[0])), 0, 0)
	if e != 0 {
		return
	}
	u64 := func(off int) uint64 { return binary.LittleEndian.Uint64(info[off:]) }
	switch info[0] {
	case unix.PTRACE_SYSCALL_INFO_ENTRY:
		if u64(24) == unix.SYS_CLOCK_GETTIME {
			pending[tid] = call{clock: int(u64(32)), tp: uintptr(u64(40))}
		}
	case unix.PTRACE_SYSCALL_INFO_EXIT:
		c, ok := pending[tid]
		if !ok {
			return
		}
		delete(pending, tid)
		if c.clock < 0 || c.clock >= len(s.offsets) || int64(u64(24)) != 0 {
			return
		}
		s.reads[c.clock].Add(1)
		if off := s.offsets[c.clock].Load(); off != 0 {
			if err := shiftTimespec(tid, c.tp, off); err != nil {
				s.shiftErrs.Add(1)
				s.shiftErr.CompareAndSwap(nil, &err)
			}
		}
	}
}

// shiftTimespec adds off to the struct timespec at tp in tid's memory. It fails
// when the process has made itself non-dumpable (PR_SET_DUMPABLE 0) and the
// tracer lacks CAP_SYS_PTRACE: the kernel then refuses to let even the tracer
// read or write its memory.
func shiftTimespec(tid int, tp uintptr, off int64) error {
	var b [16]byte
	if _, err := unix.PtracePeekData(tid, tp, b[:]); err != nil {
		return fmt.Errorf("soak: clockshift: read the time: %w", err)
	}
	ns := int64(binary.LittleEndian.Uint64(b[:8]))*1e9 + int64(binary.LittleEndian.Uint64(b[8:])) + off
	binary.LittleEndian.PutUint64(b[:8], uint64(ns/1e9))
	binary.LittleEndian.PutUint64(b[8:], uint64(ns%1e9))
	if _, err := unix.PtracePokeData(tid, tp, b[:]); err != nil {
		return fmt.Errorf("soak: clockshift: write the time: %w", err)
	}
	return nil
}

// failed returns how many clock reads could not be shifted, and why the first
// could not.
func (s *shifted) failed() (int64, error) {
	if p := s.shiftErr.Load(); p != nil {
		return s.shiftErrs.Load(), *p
	}
	return 0, nil
}

// jump sets how far the process's wall and monotonic clocks are from the real
// ones, from its next reading on. A monotonic offset must only ever grow.
func (s *shifted) jump(wall, mono time.Duration) {
	for _, c := range wallClocks {
		s.offsets[c].Store(int64(wall))
	}
	for _, c := range monoClocks {
		s.offsets[c].Store(int64(mono))
	}
}

// clockReads is how many times the process read its wall and monotonic clocks
// through the system call: zero means the vDSO was not hidden after all.
func (s *shifted) clockReads() (wall, mono int64) {
	for _, c := range wallClocks {
		wall += s.reads[c].Load()
	}
	for _, c := range monoClocks {
		mono += s.reads[c].Load()
	}
	return wall, mono
}

// signal sends sig to the process.
func (s *shifted) signal(sig os.Signal) error {
	return unix.Kill(s.pid, sig.(syscall.Signal))
}

// wait waits up to limit for the process to end, then kills it. It is an error
// if the process did not exit with status 0, or if tracing failed.
func (s *shifted) wait(limit time.Duration) error {
	select {
	case <-s.done:
	case <-time.After(limit):
		unix.Kill(s.pid, unix.SIGKILL)
		<-s.done
		return fmt.Errorf("soak: clockshift: still running after %v; killed", limit)
	}
	switch {
	case s.err != nil:
		return s.err
	case s.status.Signaled():
		return fmt.Errorf("soak: clockshift: the process was killed by %v", s.status.Signal())
	case s.status.ExitStatus() != 0:
		return fmt.Errorf("soak: clockshift: the process exited with status %d", s.status.ExitStatus())
	}
	return nil
}

// reap collects the child after a failed attach.
func (s *shifted) reap() {
	var ws unix.WaitStatus
	unix.Wait4(s.pid, &ws, unix.WALL, nil)
}

const clockShiftSupported = true
