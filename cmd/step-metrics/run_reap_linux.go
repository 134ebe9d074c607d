//go:build linux

package main

import (
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"unsafe"
)

// A process inherits the orphans of its descendants when it is PID 1 (a
// container without an init: `step-metrics run` as the entrypoint) or a
// child subreaper (prctl PR_SET_CHILD_SUBREAPER, kept across execve).
// Nobody else waits for them: unreaped, each stays a zombie, holding a
// PID, until the container ends.
//
// The reaper waits for every such child, as tini and dumb-init do, but
// never for the command: os/exec waits for that one, for its exact exit
// status and rusage, and two waits for one PID race (the loser gets ECHILD,
// and the command's status is lost). So the reaper first looks without
// reaping (waitid P_ALL with WNOWAIT) and reaps only a PID that is not the
// command's (wait4 of that PID). A zombie's PID cannot be reused before it
// is reaped, and only the reaper reaps orphans, so what it looked at is what
// it reaps. While the command's own zombie is the first one waitid shows,
// the reaper waits for os/exec to take it (waited), then goes on.

const (
	prGetChildSubreaper = 37 // PR_GET_CHILD_SUBREAPER, <linux/prctl.h>
	pALL                = 0  // P_ALL, <linux/wait.h>
)

// siginfoChild is the kernel's siginfo_t as waitid fills it for a child:
// 128 bytes, the child's fields in a union aligned as a pointer is.
type siginfoChild struct {
	signo, errno, code int32
	_                  [(unsafe.Sizeof(uintptr(0)) - 4) / 4]int32
	pid                int32
	uid                uint32
	status             int32
	_                  [128 - 24 - 4*((unsafe.Sizeof(uintptr(0))-4)/4)]byte
}

// siginfoChild is 128 bytes on every architecture, or this does not compile.
var (
	_ [128 - unsafe.Sizeof(siginfoChild{})]byte
	_ [unsafe.Sizeof(siginfoChild{}) - 128]byte
)

// reaper reaps the orphans the process inherits. Its methods are safe for
// concurrent use and do nothing on a nil reaper.
type reaper struct {
	log  *slog.Logger
	sigs chan os.Signal

	mu      sync.Mutex // serialises the reaping and guards what follows
	command int        // the command's PID, which only os/exec waits for; 0 once it has
	reaped  int
	started bool

	quit chan struct{}
	done chan struct{}
}

// newReaper returns a reaper when the process inherits orphans (PID 1, or
// a child subreaper), else nil. Call it before the command starts, so that
// no SIGCHLD is missed; it reaps nothing before watch.
func newReaper(log *slog.Logger) *reaper {
	if os.Getpid() != 1 && !isSubreaper() {
		return nil
	}
	return startReaper(log)
}

func startReaper(log *slog.Logger) *reaper {
	r := &reaper{log: log, sigs: make(chan os.Signal, 1), quit: make(chan struct{}), done: make(chan struct{})}
	signal.Notify(r.sigs, syscall.SIGCHLD)
	return r
}

// isSubreaper reports whether the process is a child subreaper.
func isSubreaper() bool {
	var v int32
	_, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prGetChildSubreaper, uintptr(unsafe.Pointer(&v)), 0) //nolint:gosec // G103: prctl writes an int through the pointer
	return errno == 0 && v != 0
}

// watch starts reaping, on every SIGCHLD, every child but command (the
// PID of the command, which os/exec waits for).
func (r *reaper) watch(command int) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.command, r.started = command, true
	r.mu.Unlock()
	go r.loop()
}

func (r *reaper) loop() {
	defer close(r.done)
	for {
		select {
		case <-r.sigs:
			r.drain()
		case <-r.quit:
			return
		}
	}
}

// waited says os/exec has waited for the command: its PID is no longer
// anyone's, and the children its zombie hid are reaped now.
func (r *reaper) waited() {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.command = 0
	r.mu.Unlock()
	r.drain()
}

// stop reaps what has exited, stops reaping and returns how many children
// were reaped in all. Children still running are left: when PID 1 exits,
// the kernel kills what is left in its PID namespace.
func (r *reaper) stop() int {
	if r == nil {
		return 0
	}
	r.mu.Lock()
	started := r.started
	r.mu.Unlock()
	if started {
		close(r.quit)
		<-r.done
	}
	signal.Stop(r.sigs)
	r.drain()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reaped > 0 {
		r.log.Debug("reaped orphaned processes", "count", r.reaped)
	}
	return r.reaped
}

// drain reaps every child that has exited, but the command, and returns
// how many it reaped.
func (r *reaper) drain() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for {
		pid, err := peekExited()
		if err != nil || pid <= 0 || pid == r.command {
			// No child (ECHILD), none exited, or the command's zombie,
			// os/exec's to take: waited drains again after it.
			r.reaped += n
			return n
		}
		var ws syscall.WaitStatus
		got, err := wait4(pid, &ws)
		if err != nil || got != pid {
			r.reaped += n
			return n
		}
		n++
	}
}

// peekExited returns the PID of a child that has exited, without reaping
// it; 0 when none has.
func peekExited() (int, error) {
	for {
		var info siginfoChild
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pALL, 0, uintptr(unsafe.Pointer(&info)), //nolint:gosec // G103: waitid fills a siginfo_t
			syscall.WEXITED|syscall.WNOHANG|syscall.WNOWAIT, 0, 0)
		if errno == syscall.EINTR {
			continue
		}
		if errno != 0 {
			return 0, errno
		}
		return int(info.pid), nil
	}
}

func wait4(pid int, ws *syscall.WaitStatus) (int, error) {
	for {
		got, err := syscall.Wait4(pid, ws, syscall.WNOHANG, nil)
		if !errors.Is(err, syscall.EINTR) {
			return got, err
		}
	}
}
