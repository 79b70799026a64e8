package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"
)

// fsyncSamples is how many write+fdatasync pairs measure the disk.
const fsyncSamples = 200

// describeMachine reports the CPU, memory, OS, Go and the filesystem of
// dataDir, and measures fdatasync latency there.
func describeMachine(dataDir string) (Machine, error) {
	m := Machine{
		Cores:      runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		GoVersion:  runtime.Version(),
		OS:         runtime.GOOS + "/" + runtime.GOARCH,
		DataDir:    dataDir,
	}
	platformMachine(&m, dataDir)
	p50, p99, err := fdatasyncLatency(dataDir, fsyncSamples)
	if err != nil {
		return m, err
	}
	m.FdatasyncP50, m.FdatasyncP99, m.FsyncSamples = ms(p50), ms(p99), fsyncSamples
	return m, nil
}

// fdatasyncLatency appends a 64-byte record and fdatasyncs, n times, in a
// scratch file of dir, and returns the p50 and p99 of each pair.
func fdatasyncLatency(dir string, n int) (p50, p99 time.Duration, err error) {
	f, err := os.CreateTemp(dir, ".fsync-probe-*")
	if err != nil {
		return 0, 0, fmt.Errorf("fdatasync probe: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	rec := make([]byte, 64)
	for i := range rec {
		rec[i] = 'x'
	}
	rec[len(rec)-1] = '\n'
	// The first sync also allocates the file's first block: not measured.
	if _, err := f.Write(rec); err != nil {
		return 0, 0, fmt.Errorf("fdatasync probe: %w", err)
	}
	if err := datasync(f); err != nil {
		return 0, 0, fmt.Errorf("fdatasync probe: %w", err)
	}
	d := make([]time.Duration, n)
	for i := range d {
		t := time.Now()
		if _, err := f.Write(rec); err != nil {
			return 0, 0, fmt.Errorf("fdatasync probe: %w", err)
		}
		if err := datasync(f); err != nil {
			return 0, 0, fmt.Errorf("fdatasync probe %s: %w", filepath.Base(f.Name()), err)
		}
		d[i] = time.Since(t)
	}
	slices.Sort(d)
	return percentile(d, 0.5), percentile(d, 0.99), nil
}

// otherCPUShare is the share of all CPU time between a and b that other
// processes used, or -1 when unknown.
func otherCPUShare(a, b cpuTimes, okA, okB bool) float64 {
	return otherShare(a, b, okA && okB, 0)
}

// otherShare is otherCPUShare with ours more CPU seconds (other processes
// that worked for the measurement, PostgreSQL's) not counted as other.
func otherShare(a, b cpuTimes, ok bool, ours float64) float64 {
	if !ok || b.total <= a.total {
		return -1
	}
	other := (b.busy - a.busy) - (b.self - a.self) - ours
	return min(max(other/(b.total-a.total), 0), 1)
}

// postgresCPU is the CPU seconds the PostgreSQL processes of b used since
// a; a process not in a (or another one with its pid) counts whole.
func postgresCPU(a, b map[int]pgProc) float64 {
	var d float64
	for pid, p := range b {
		if q, ok := a[pid]; ok && q.start == p.start {
			d += p.cpu - q.cpu
		} else {
			d += p.cpu
		}
	}
	return d
}
