//go:build race

package gateway

// raceEnabled scales down the heaviest tests under the race detector.
const raceEnabled = true
