//go:build unix

package step

import "syscall"

// openNonBlock opens without blocking on a FIFO without a writer.
const openNonBlock = syscall.O_NONBLOCK
