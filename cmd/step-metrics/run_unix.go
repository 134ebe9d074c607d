//go:build unix

package main

import (
	"os"
	"runtime"
	"syscall"
)

// maxRSSBytes is the command's peak resident set size from wait4's rusage:
// KiB on Linux and the BSDs, bytes on Darwin.
func maxRSSBytes(ps *os.ProcessState) (float64, bool) {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok || ru == nil {
		return 0, false
	}
	rss := float64(int64(ru.Maxrss)) //nolint:unconvert // int32 on some systems
	if runtime.GOOS != "darwin" && runtime.GOOS != "ios" {
		rss *= 1024
	}
	return rss, true
}

// userSignals are the signals forwarded besides TERM, INT, HUP and QUIT,
// which only Unix has.
var userSignals = []os.Signal{syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH}

// openNonBlock opens without blocking on a FIFO or a device.
const openNonBlock = syscall.O_NONBLOCK
