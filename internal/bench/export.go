package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/logline/logline/internal/export"
	"github.com/logline/logline/internal/ledger/segment"
	"github.com/logline/logline/internal/tlog"
)

// Export measures a signed tenant export of the recovery section's data
// (one tenant holds every entry when the spans come from the corpus): the
// bundle written into an exports directory as POST /exports writes it
// (export.Dir: temporary file, fsync, rename), then read back and verified
// with the log key as `logline verify --export` does. No HTTP.
type Export struct {
	Tenant              string  `json:"tenant"`
	Entries             uint64  `json:"entries"`
	Bytes               int64   `json:"bytes"`
	WriteSeconds        float64 `json:"write_seconds"`
	WriteEntriesPerSec  float64 `json:"write_entries_per_sec"`
	WriteMBPerSec       float64 `json:"write_mb_per_sec"`
	VerifySeconds       float64 `json:"verify_seconds"`
	VerifyEntriesPerSec float64 `json:"verify_entries_per_sec"`
	VerifyMBPerSec      float64 `json:"verify_mb_per_sec"`
	// CPU microseconds this process spent per entry (all goroutines), and
	// the share of all cores other processes used meanwhile (-1 unknown):
	// the figures to compare across runs on a shared machine.
	WriteCPUMicros   float64 `json:"write_cpu_us_per_entry"`
	VerifyCPUMicros  float64 `json:"verify_cpu_us_per_entry"`
	WriteOtherShare  float64 `json:"write_other_cpu_share"`
	VerifyOtherShare float64 `json:"verify_other_cpu_share"`
	Skipped          string  `json:"skipped,omitempty"`
	Error            string  `json:"error,omitempty"`
}

// benchOrigin names the log key the export section signs with.
const benchOrigin = "bench.logline.local/export"

// measureExport opens the store in cfg.Dir with a fresh log key under
// work (opening signs a checkpoint of the whole log), exports tenant into
// work/exports and verifies the bundle.
func measureExport(ctx context.Context, cfg segment.Config, work, tenant string) (Export, error) {
	x := Export{Tenant: tenant}
	keys, err := tlog.LoadOrCreateKeys(filepath.Join(work, "export-keys"), benchOrigin, nil, nil)
	if err != nil {
		return x, err
	}
	cfg.SignCheckpoint = func(size uint64, root [32]byte) ([]byte, error) {
		return tlog.SignCheckpoint(keys.Signer(), keys.Origin(), size, root)
	}
	st, err := segment.Open(ctx, cfg)
	if err != nil {
		return x, fmt.Errorf("open: %w", err)
	}
	defer st.Close()
	dir, err := export.OpenDir(export.DirConfig{Path: filepath.Join(work, "exports")})
	if err != nil {
		return x, err
	}
	start := time.Now()
	cpu0, ok0 := readCPUTimes()
	c, err := dir.Create(ctx, st, export.Options{Tenant: tenant, Checkpoint: st.Checkpoint(), Origin: keys.Origin(), Signer: keys.Signer()})
	if err != nil {
		return x, fmt.Errorf("write: %w", err)
	}
	x.WriteSeconds = sinceSecs(start)
	cpu1, ok1 := readCPUTimes()
	x.WriteCPUMicros, x.WriteOtherShare = cpuPerEntry(cpu0, cpu1, ok0 && ok1, c.Manifest.Entries), otherCPUShare(cpu0, cpu1, ok0, ok1)
	x.Entries, x.Bytes = c.Manifest.Entries, c.Bytes
	x.WriteEntriesPerSec = rate(float64(x.Entries), x.WriteSeconds)
	x.WriteMBPerSec = rate(float64(x.Bytes)/1e6, x.WriteSeconds)

	f, err := dir.Open(c.ID)
	if err != nil {
		return x, err
	}
	defer f.Close()
	defer os.Remove(f.Name())
	start = time.Now()
	cpu0, ok0 = readCPUTimes()
	rep, err := export.Verify(ctx, f, keys.Verifiers(), export.VerifyOptions{Origin: keys.Origin()})
	if err != nil {
		return x, fmt.Errorf("verify: %w", err)
	}
	x.VerifySeconds = sinceSecs(start)
	cpu1, ok1 = readCPUTimes()
	x.VerifyCPUMicros, x.VerifyOtherShare = cpuPerEntry(cpu0, cpu1, ok0 && ok1, rep.Entries), otherCPUShare(cpu0, cpu1, ok0, ok1)
	if rep.Entries != x.Entries || rep.Bytes != x.Bytes {
		return x, fmt.Errorf("verify: %d entries in %d bytes, the export wrote %d in %d", rep.Entries, rep.Bytes, x.Entries, x.Bytes)
	}
	x.VerifyEntriesPerSec = rate(float64(x.Entries), x.VerifySeconds)
	x.VerifyMBPerSec = rate(float64(x.Bytes)/1e6, x.VerifySeconds)
	return x, nil
}

// cpuPerEntry is this process's CPU time between a and b per entry, in
// microseconds; 0 when unknown.
func cpuPerEntry(a, b cpuTimes, ok bool, entries uint64) float64 {
	if !ok || entries == 0 {
		return 0
	}
	return (b.self - a.self) * 1e6 / float64(entries)
}
