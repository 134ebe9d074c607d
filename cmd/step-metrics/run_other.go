//go:build !unix

package main

import "os"

// maxRSSBytes: no rusage here; the metric is left out.
func maxRSSBytes(*os.ProcessState) (float64, bool) { return 0, false }

// userSignals: no USR1, USR2 or WINCH here.
var userSignals []os.Signal

// openNonBlock: no FIFOs to block on here.
const openNonBlock = 0
