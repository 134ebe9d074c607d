//go:build !unix

package main

import "os"

// maxRSSBytes: no rusage here; the metric is left out.
func maxRSSBytes(*os.ProcessState) (float64, bool) { return 0, false }
