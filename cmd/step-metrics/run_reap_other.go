//go:build !linux

package main

import "log/slog"

// reaper: only Linux containers run step-metrics as PID 1; elsewhere
// nothing is reaped but the command, by os/exec.
type reaper struct{}

func newReaper(*slog.Logger) *reaper { return nil }

func (*reaper) watch(int) {}
func (*reaper) waited()   {}
func (*reaper) stop() int { return 0 }
