//go:build race

package source

// raceEnabled says the tests run under the race detector, where memory
// accesses cost about ten times more.
const raceEnabled = true
