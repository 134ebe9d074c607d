//go:build !unix

package step

// openNonBlock is 0 where there is no O_NONBLOCK (and no FIFO to block on).
const openNonBlock = 0
