//go:build !linux

package bench

import "os"

func datasync(f *os.File) error { return f.Sync() }

func platformMachine(m *Machine, dir string) {}

func loadAverage() string { return "" }

type cpuTimes struct{ busy, total, self float64 }

func readCPUTimes() (cpuTimes, bool) { return cpuTimes{}, false }

type pgProc struct{ start, cpu float64 }

func postgresProcs(db string) (map[int]pgProc, bool) { return nil, false }
