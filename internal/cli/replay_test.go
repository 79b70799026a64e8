package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logline/logline/internal/auth/tenantcfg"
	"github.com/logline/logline/internal/dataplane"
	"github.com/logline/logline/internal/derive"
	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/ledger/pgstore"
	"github.com/logline/logline/internal/ledger/pgstore/pgtest"
	"github.com/logline/logline/internal/ledger/segment"
	"github.com/logline/logline/internal/span"
	"github.com/logline/logline/internal/tlog"
)

// tunedPolicy is the policy tuned to the corpus (docs/quality.md): it
// flags diamond candidates, which the default policy does not.
const tunedPolicy = "../../examples/quality/tuned/receipt.yaml"

// corpusLines reads the corpus, the first limit lines (all when limit ≤ 0).
func corpusLines(tb testing.TB, limit int) [][]byte {
	tb.Helper()
	f, err := os.Open(corpusFile)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() && (limit <= 0 || len(out) < limit) {
		out = append(out, append([]byte(nil), sc.Bytes()...))
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// appendLines decodes lines as the gateway would and appends them.
func appendLines(tb testing.TB, store ledger.Store, lines [][]byte) {
	tb.Helper()
	const batch = 4096
	for i := 0; i < len(lines); i += batch {
		var spans []*span.Span
		for _, l := range lines[i:min(i+batch, len(lines))] {
			sp, err := span.Decode(l, span.DecodeOptions{})
			if err != nil {
				tb.Fatalf("%s: %v", l, err)
			}
			spans = append(spans, sp)
		}
		outs, err := store.Append(context.Background(), spans)
		if err != nil {
			tb.Fatal(err)
		}
		for _, o := range outs {
			if o.Err != nil {
				tb.Fatal(o.Err)
			}
		}
	}
}

// writeTenantFile writes DATA/cfg/tenants/<tenant>/<name>.
func writeTenantFile(tb testing.TB, data, tenant, name string, content []byte) {
	tb.Helper()
	dir := filepath.Join(data, "cfg", "tenants", tenant)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// dataPlane is the server's data-plane worker running over a store, with
// the tenants' programs and flags loaded from the data directory as
// serve loads them.
type dataPlane struct {
	w      *dataplane.Worker
	store  ledger.Store
	cancel context.CancelFunc
	done   chan error
}

// startDataPlane starts the worker. With clocks, idle tenants get clock
// spans as soon as they are past a deadline.
func startDataPlane(tb testing.TB, data string, store ledger.Store, clocks bool) *dataPlane {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	quiet := slog.New(slog.DiscardHandler)
	tenants, err := tenantcfg.New(ctx, tenantcfg.Config{DataDir: data, ValidTenant: span.ValidTenant, Logger: quiet})
	if err != nil {
		tb.Fatal(err)
	}
	set, err := openPrograms(ctx, data, tenants, quiet)
	if err != nil {
		tb.Fatal(err)
	}
	cfg := dataplane.Config{
		Store: store, Program: set.Program, Features: tenantFeatures(tenants),
		StatePath: filepath.Join(data, dataplane.StateFile), Logger: quiet,
	}
	if clocks {
		cfg.ClockIdle, cfg.Tick = time.Nanosecond, 10*time.Millisecond
	}
	w, err := dataplane.Open(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	d := &dataPlane{w: w, store: store, cancel: cancel, done: make(chan error, 1)}
	go func() { d.done <- w.Run(ctx) }()
	return d
}

// catchUp waits until the worker has applied every entry (its own
// derived spans included; with clocks, and a clock span).
func (d *dataPlane) catchUp(tb testing.TB, clocks bool) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		st := d.w.Status()
		if st.Cursor == d.store.Size() && (!clocks || st.Clocks > 0) {
			return
		}
		if st.Err != "" || time.Now().After(deadline) {
			tb.Fatalf("data plane at %d of %d entries: %s", st.Cursor, d.store.Size(), st.Err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// stop stops the worker, which saves its state.
func (d *dataPlane) stop(tb testing.TB) {
	tb.Helper()
	d.cancel()
	if err := <-d.done; err != nil {
		tb.Fatal(err)
	}
}

// derivedData builds a data directory the way a server leaves it, with
// the tenants' configuration already in data: the lines ingested in
// batches, the data plane following (each batch derived before the
// next is ingested, as on a server that keeps up), then stopped. With
// clocks, the idle tenant gets a clock span at the end. It returns the
// number of entries.
func derivedData(tb testing.TB, data string, lines [][]byte, clocks bool) uint64 {
	tb.Helper()
	return deriveData(tb, data, lines, clocks, false)
}

// legacyData is derivedData by a data plane that records no policies
// (derivation_policy), as builds before them: replay derives such a
// ledger with the tenants' configuration now, so changing it shows as
// divergence.
func legacyData(tb testing.TB, data string, lines [][]byte) uint64 {
	tb.Helper()
	return deriveData(tb, data, lines, false, true)
}

func deriveData(tb testing.TB, data string, lines [][]byte, clocks, legacy bool) uint64 {
	tb.Helper()
	seg, err := segment.Open(context.Background(), segment.Config{Dir: data, IndexCacheBytes: 8 << 20})
	if err != nil {
		tb.Fatal(err)
	}
	var store ledger.Store = seg
	if legacy {
		store = noPolicyRecords{seg}
	}
	d := startDataPlane(tb, data, store, false)
	const batch = 4096
	for i := 0; i < len(lines); i += batch {
		appendLines(tb, store, lines[i:min(i+batch, len(lines))])
		d.catchUp(tb, false)
	}
	d.stop(tb)
	if clocks {
		d = startDataPlane(tb, data, store, true)
		d.catchUp(tb, true)
		d.catchUp(tb, false) // the clock span applied
		d.stop(tb)
	}
	n := store.Size()
	if err := store.Close(); err != nil {
		tb.Fatal(err)
	}
	return n
}

// noPolicyRecords is a store that drops the data plane's policy records
// (answering that they were stored already).
type noPolicyRecords struct{ ledger.Store }

func (s noPolicyRecords) Append(ctx context.Context, spans []*span.Span) ([]ledger.Outcome, error) {
	var keep []*span.Span
	for _, sp := range spans {
		if sp.EntityType != dataplane.TypePolicy {
			keep = append(keep, sp)
		}
	}
	outs, err := s.Store.Append(ctx, keep)
	if err != nil {
		return nil, err
	}
	all := make([]ledger.Outcome, 0, len(spans))
	for _, sp := range spans {
		if sp.EntityType == dataplane.TypePolicy {
			all = append(all, ledger.Outcome{Result: ledger.Result{ID: sp.ID, Tenant: sp.Tenant, Duplicate: true}})
			continue
		}
		all, outs = append(all, outs[0]), outs[1:]
	}
	return all, nil
}

// storedDerived counts the derived spans in data by entity type.
func storedDerived(t *testing.T, data string) map[string]int64 {
	t.Helper()
	store, err := segment.Open(context.Background(), segment.Config{Dir: data, IndexCacheBytes: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	out := map[string]int64{}
	err = store.Read(context.Background(), 0, store.Size(), func(e *span.Entry) error {
		if e.Who == derive.Who {
			out[e.EntityType]++
			out[""]++
		}
		if e.EntityType == derive.TypeClock {
			out[derive.TypeClock]++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// runReplay runs replay with --json and decodes the report.
func runReplay(t *testing.T, args ...string) (replayResult, int, string) {
	t.Helper()
	out, errOut, code := runMain(t, context.Background(), nil, "", append([]string{"replay", "--json"}, args...)...)
	var res replayResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("replay %s: exit %d, not a JSON report: %v\n%s%s", strings.Join(args, " "), code, err, out, errOut)
	}
	return res, code, errOut
}

// examplesOf lists the ids of one kind in a tenant's examples.
func examplesOf(r replayResult, tenant, kind string) []replayExample {
	var out []replayExample
	for _, t := range r.Tenants {
		if t.Tenant != tenant {
			continue
		}
		for _, ex := range t.Examples {
			if ex.Kind == kind {
				out = append(out, ex)
			}
		}
	}
	return out
}

func tenantOf(t *testing.T, r replayResult, name string) replayTenant {
	t.Helper()
	for _, tr := range r.Tenants {
		if tr.Tenant == name {
			return tr
		}
	}
	t.Fatalf("tenant %s not in the report %+v", name, r.Tenants)
	return replayTenant{}
}

// TestReplayVerify: a data directory the data plane derived (the corpus,
// the tuned policy, trajectories and diamond on; a tenant with them off)
// replays with divergence 0 and the saved state equal to the
// re-derived one. Its data plane recorded no policies (an older build):
// replay derives with the tenants' configuration now, so changing what
// the tenant runs under it — its flags, its policy — is divergence,
// named by kind and id. (With the policies recorded, it is not:
// TestReplayRecordedPolicies.)
func TestReplayVerify(t *testing.T) {
	data := t.TempDir()
	tuned, err := os.ReadFile(tunedPolicy)
	if err != nil {
		t.Fatal(err)
	}
	on := []byte("features:\n  trajectory: true\n  diamond: true\n")
	writeTenantFile(t, data, "t_receipt", "tenant.yaml", on)
	writeTenantFile(t, data, "t_receipt", "receipt.yaml", tuned)
	lines := corpusLines(t, 0)
	// A tenant without trajectories: its spans derive nothing.
	for i := range 20 {
		lines = append(lines, fmt.Appendf(nil, `{"id":"o%d","tenant":"t_off","who":"w","did":"d","this":"x","when":"2011-01-01T00:00:%02dZ"}`, i, i))
	}
	entries := legacyData(t, data, lines)
	counts := storedDerived(t, data)
	if counts[derive.TypeCandidate] == 0 || counts[derive.TypeQuality] == 0 {
		t.Fatalf("the data plane derived %v: want scores and candidates", counts)
	}

	res, code, errOut := runReplay(t, "--data", data, "--verify")
	if code != 0 || !res.OK {
		t.Fatalf("replay --verify: exit %d, %+v\n%s", code, res, errOut)
	}
	if res.Entries != entries || res.Cursor == nil || *res.Cursor != entries || res.State != "identical" {
		t.Errorf("got %d entries, worker cursor %v, state %q; want %d, %d, identical", res.Entries, res.Cursor, res.State, entries, entries)
	}
	if res.Parsed != 0 {
		t.Errorf("%d stored derived spans parsed in full, want every one matched as stored", res.Parsed)
	}
	if res.Divergence != 0 || res.Replayed != counts[""] || res.Stored != counts[""] || res.Identical != counts[""] || res.NotYet != 0 {
		t.Errorf("got replayed %d stored %d identical %d divergence %d not yet %d; want %d, %d, %d, 0, 0",
			res.Replayed, res.Stored, res.Identical, res.Divergence, res.NotYet, counts[""], counts[""], counts[""])
	}
	if tr := tenantOf(t, res, "t_receipt"); !tr.Trajectory || !tr.Diamond || tr.Programs != "cfg/tenants/t_receipt/receipt.yaml" {
		t.Errorf("tenant t_receipt: %+v, want trajectory and diamond on, programs cfg/tenants/t_receipt/receipt.yaml", tr)
	}
	out, _, code := runMain(t, context.Background(), nil, "", "replay", "--data", data, "--verify")
	if code != 0 || !strings.Contains(out, "OK          divergence 0") || !strings.Contains(out, fmt.Sprintf("%d re-derived, %d stored: %d identical", counts[""], counts[""], counts[""])) {
		t.Errorf("replay --verify printed (exit %d):\n%s", code, out)
	}

	// --from: only what is caused from there on is compared.
	from := entries / 3
	res, code, _ = runReplay(t, "--data", data, "--verify", "--from", fmt.Sprint(from))
	if code != 0 || res.Divergence != 0 || res.Replayed == 0 || res.Replayed >= counts[""] || res.Stored != res.Replayed {
		t.Errorf("--from %d: exit %d, replayed %d stored %d divergence %d; want 0 < replayed = stored < %d, divergence 0",
			from, code, res.Replayed, res.Stored, res.Divergence, counts[""])
	}

	// Changes under the ledger, each undone after its case.
	tests := []struct {
		name  string
		setup func()
		check func(t *testing.T, r replayResult)
	}{
		{
			name: "diamond turned off",
			setup: func() {
				writeTenantFile(t, data, "t_receipt", "tenant.yaml", []byte("features:\n  trajectory: true\n"))
			},
			check: func(t *testing.T, r replayResult) {
				if r.Extra != counts[derive.TypeCandidate] || r.Missing != 0 || r.Different != 0 {
					t.Errorf("got missing %d extra %d different %d, want the %d candidates extra", r.Missing, r.Extra, r.Different, counts[derive.TypeCandidate])
				}
				for _, ex := range examplesOf(r, "t_receipt", replayExtra) {
					if ex.Type != derive.TypeCandidate || ex.LogIndex == nil || !strings.HasPrefix(ex.ID, "d_") {
						t.Errorf("extra example %+v, want a stored diamond_candidate", ex)
					}
				}
				if n := len(examplesOf(r, "t_receipt", replayExtra)); n != min(5, int(r.Extra)) {
					t.Errorf("%d extra examples, want %d", n, min(5, int(r.Extra)))
				}
			},
		},
		{
			name: "trajectories turned off",
			setup: func() {
				writeTenantFile(t, data, "t_receipt", "tenant.yaml", []byte("features:\n  trajectory: false\n"))
			},
			check: func(t *testing.T, r replayResult) {
				if r.Replayed != 0 || r.Extra != counts[""] {
					t.Errorf("got replayed %d extra %d, want 0 and %d", r.Replayed, r.Extra, counts[""])
				}
			},
		},
		{
			name:  "policy removed",
			setup: func() { os.Remove(filepath.Join(data, "cfg", "tenants", "t_receipt", "receipt.yaml")) },
			check: func(t *testing.T, r replayResult) {
				// Other timeouts: other trajectories, other ids.
				if r.Missing == 0 || r.Extra == 0 {
					t.Errorf("got missing %d extra %d, want both > 0", r.Missing, r.Extra)
				}
			},
		},
		{
			name: "weights changed",
			setup: func() {
				writeTenantFile(t, data, "t_receipt", "receipt.yaml", append(tuned, "  weights: {mass: 0.6, persistence: 0.1, verification: 0.3}\n"...))
			},
			check: func(t *testing.T, r replayResult) {
				// The same trajectories, other scores: the quality spans
				// differ, candidates come and go.
				if r.Different == 0 {
					t.Errorf("got missing %d extra %d different %d, want different > 0", r.Missing, r.Extra, r.Different)
				}
				diff := examplesOf(r, "t_receipt", replayDifferent)
				if len(diff) == 0 || diff[0].Stored == nil || diff[0].Replayed == nil || diff[0].CauseIndex == nil || diff[0].Type != derive.TypeQuality {
					t.Fatalf("different examples %+v, want a quality span stored and re-derived", diff)
				}
				if string(diff[0].Stored) == string(diff[0].Replayed) {
					t.Errorf("example %s: the same bytes stored and re-derived", diff[0].ID)
				}
			},
		},
		{
			name: "saved watermark moved",
			setup: func() {
				editState(t, data, func(tenant, stats map[string]any) { tenant["watermark"] = "2030-01-01T00:00:00Z" })
			},
			check: func(t *testing.T, r replayResult) {
				if r.State != "different" || r.Divergence != 0 || !strings.Contains(r.StateDiff, "watermarks") {
					t.Errorf("got state %q (%s) divergence %d, want different (watermarks) and 0", r.State, r.StateDiff, r.Divergence)
				}
			},
		},
		{
			name: "saved open trajectory dropped",
			setup: func() {
				editState(t, data, func(tenant, stats map[string]any) { tenant["open"] = tenant["open"].([]any)[1:] })
			},
			check: func(t *testing.T, r replayResult) {
				if r.State != "different" || !strings.Contains(r.StateDiff, "open trajectories") {
					t.Errorf("got state %q (%s), want different (open trajectories)", r.State, r.StateDiff)
				}
			},
		},
	}
	state, err := os.ReadFile(filepath.Join(data, dataplane.StateFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("saved counters changed", func(t *testing.T) {
		defer func() {
			if err := os.WriteFile(filepath.Join(data, dataplane.StateFile), state, 0o644); err != nil {
				t.Fatal(err)
			}
		}()
		editState(t, data, func(tenant, stats map[string]any) { stats["spans"] = 1 })
		r, code, errOut := runReplay(t, "--data", data, "--verify")
		if code != 0 || !r.OK || r.State != "counters differ" || !strings.Contains(r.StateDiff, "totals") {
			t.Errorf("exit %d ok %v state %q (%s), want 0, ok, counters differ (totals)\n%s", code, r.OK, r.State, r.StateDiff, errOut)
		}
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.setup()
			defer func() {
				writeTenantFile(t, data, "t_receipt", "tenant.yaml", on)
				writeTenantFile(t, data, "t_receipt", "receipt.yaml", tuned)
				if err := os.WriteFile(filepath.Join(data, dataplane.StateFile), state, 0o644); err != nil {
					t.Fatal(err)
				}
			}()
			r, code, errOut := runReplay(t, "--data", data, "--verify")
			if code != ExitFailed || r.OK {
				t.Fatalf("exit %d ok %v, want %d and not ok\n%s", code, r.OK, ExitFailed, errOut)
			}
			tt.check(t, r)
			out, _, code := runMain(t, context.Background(), nil, "", "replay", "--data", data, "--verify")
			if code != ExitFailed || !strings.Contains(out, "FAIL ") {
				t.Errorf("human report: exit %d\n%s", code, out)
			}
		})
	}

	// --from past every candidate's cause: turning diamond off changes
	// no derived span there, only the saved counters of candidates.
	writeTenantFile(t, data, "t_receipt", "tenant.yaml", []byte("features:\n  trajectory: true\n"))
	res, code, _ = runReplay(t, "--data", data, "--verify", "--from", fmt.Sprint(entries))
	if code != 0 || res.Divergence != 0 || res.Replayed != 0 || res.State != "counters differ" {
		t.Errorf("--from %d with diamond off: exit %d, replayed %d, divergence %d, state %q; want 0, 0, 0, counters differ", entries, code, res.Replayed, res.Divergence, res.State)
	}
}

// editState rewrites the data plane's saved state: edit gets its first
// tenant's state and the run's totals.
func editState(t *testing.T, data string, edit func(tenant, stats map[string]any)) {
	t.Helper()
	path := filepath.Join(data, dataplane.StateFile)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	eng := st["engine"].(map[string]any)
	edit(eng["tenants"].([]any)[0].(map[string]any), eng["stats"].(map[string]any))
	if b, err = json.Marshal(st); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestReplayPolicy: --policy reports what a policy would change, exit 0;
// the policy in force changes nothing.
func TestReplayPolicy(t *testing.T) {
	data := t.TempDir()
	writeTenantFile(t, data, "t_receipt", "tenant.yaml", []byte("features:\n  trajectory: true\n  diamond: true\n"))
	derivedData(t, data, corpusLines(t, 3000), false)
	defaults := filepath.Join(t.TempDir(), "defaults.lll")
	if err := os.WriteFile(defaults, []byte("policy trajectory_linker {\n  close_timeout: 6h\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	res, code, errOut := runReplay(t, "--data", data, "--policy", tunedPolicy)
	if code != 0 || res.Mode != "policy" || res.Divergence == 0 || res.Missing == 0 || res.Extra == 0 {
		t.Fatalf("--policy tuned: exit %d, mode %q, divergence %d (missing %d, extra %d); want 0, policy, changes both ways\n%s",
			code, res.Mode, res.Divergence, res.Missing, res.Extra, errOut)
	}
	if tr := tenantOf(t, res, "t_receipt"); tr.Programs != tunedPolicy {
		t.Errorf("programs %q, want %s", tr.Programs, tunedPolicy)
	}
	out, _, code := runMain(t, context.Background(), nil, "", "replay", "--data", data, "--policy", tunedPolicy, "--verify")
	if code != 0 || !strings.Contains(out, "would change ") || !strings.Contains(out, " added, ") {
		t.Errorf("--policy --verify: exit %d\n%s", code, out)
	}

	res, code, errOut = runReplay(t, "--data", data, "--policy", defaults)
	if code != 0 || res.Divergence != 0 || res.Identical == 0 {
		t.Errorf("--policy with the defaults in force: exit %d, divergence %d, identical %d; want 0, 0, > 0\n%s", code, res.Divergence, res.Identical, errOut)
	}
}

// TestReplayNotYetDerived: spans the data plane has not reached are not
// divergence; without a saved state nothing re-derived counts as missing.
func TestReplayNotYetDerived(t *testing.T) {
	data := t.TempDir()
	writeTenantFile(t, data, "t_receipt", "tenant.yaml", []byte("features:\n  trajectory: true\n"))
	lines := corpusLines(t, 3000)
	entries := derivedData(t, data, lines[:2000], false)
	store, err := segment.Open(context.Background(), segment.Config{Dir: data, IndexCacheBytes: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	appendLines(t, store, lines[2000:])
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	res, code, errOut := runReplay(t, "--data", data, "--verify")
	if code != 0 || res.Divergence != 0 || res.NotYet == 0 || *res.Cursor != entries || res.State != "identical" {
		t.Fatalf("exit %d: divergence %d, not yet %d, cursor %v, state %q; want 0, > 0, %d, identical\n%s",
			code, res.Divergence, res.NotYet, res.Cursor, res.State, entries, errOut)
	}
	if err := os.Remove(filepath.Join(data, dataplane.StateFile)); err != nil {
		t.Fatal(err)
	}
	all, code, _ := runReplay(t, "--data", data, "--verify")
	if code != 0 || all.Cursor != nil || all.Identical != res.Identical || all.NotYet != res.NotYet || !strings.HasPrefix(all.State, "not checked") {
		t.Errorf("without a state: exit %d, cursor %v, identical %d, not yet %d, state %q; want 0, none, %d, %d, not checked",
			code, all.Cursor, all.Identical, all.NotYet, all.State, res.Identical, res.NotYet)
	}
}

// TestReplayClockSpans: closes caused by the clock spans the server
// appends for idle tenants are re-derived exactly.
func TestReplayClockSpans(t *testing.T) {
	data := t.TempDir()
	writeTenantFile(t, data, "t_receipt", "tenant.yaml", []byte("features:\n  trajectory: true\n"))
	derivedData(t, data, corpusLines(t, 1000), true)
	counts := storedDerived(t, data)
	if counts[derive.TypeClock] == 0 {
		t.Fatalf("no clock span in the ledger: %v", counts)
	}
	res, code, errOut := runReplay(t, "--data", data, "--verify")
	if code != 0 || res.Divergence != 0 || res.Identical != counts[""] {
		t.Fatalf("exit %d, divergence %d, identical %d; want 0, 0, %d\n%s", code, res.Divergence, res.Identical, counts[""], errOut)
	}
}

// TestReplayStore: replay --store re-derives a PostgreSQL ledger, the
// data-plane node's configuration and state in --data, with the
// policies the data plane recorded in it.
func TestReplayStore(t *testing.T) {
	db := pgtest.NewDatabase(t)
	ctx := context.Background()
	if _, err := pgstore.Migrate(ctx, db, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := pgstore.ClaimOrigin(ctx, db, "replay.test/log"); err != nil {
		t.Fatal(err)
	}
	store, err := pgstore.Open(ctx, pgstore.Config{URL: db, Node: "test"})
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	writeTenantFile(t, data, "t_receipt", "tenant.yaml", []byte("features:\n  trajectory: true\n"))
	appendLines(t, store, corpusLines(t, 1500))
	d := startDataPlane(t, data, store, false)
	d.catchUp(t, false)
	d.stop(t)
	size := store.Size()
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	res, code, errOut := runReplay(t, "--store", db, "--data", data, "--verify")
	if code != 0 || res.Divergence != 0 || res.Identical == 0 || res.Entries != size || res.State != "identical" || res.Parsed != 0 {
		t.Fatalf("exit %d: %+v\n%s", code, res, errOut)
	}
	// The policy the data plane recorded in the ledger is what replay
	// derives with, whatever tenant.yaml says now.
	writeTenantFile(t, data, "t_receipt", "tenant.yaml", []byte("features:\n  trajectory: false\n"))
	again, code, errOut := runReplay(t, "--store", db, "--data", data, "--verify")
	if code != 0 || again.Divergence != 0 || again.Identical != res.Identical || again.PolicyRecords != 1 {
		t.Errorf("trajectories off since: exit %d, divergence %d, identical %d, %d policy records; want 0, 0, %d, 1\n%s",
			code, again.Divergence, again.Identical, again.PolicyRecords, res.Identical, errOut)
	}
}

// TestReplayErrors: bad flags, paths, states and policies are refused
// with a precise message and exit code.
func TestReplayErrors(t *testing.T) {
	data := t.TempDir()
	writeTenantFile(t, data, "t_receipt", "tenant.yaml", []byte("features:\n  trajectory: true\n"))
	derivedData(t, data, corpusLines(t, 50), false)
	tmp := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	badPolicy := write("bad.lll", "policy trajectory_linker {\n  window: \n")
	garbage := write("state.json", "{not json")
	oldState := write("old.json", `{"version":7,"cursor":0,"engine":{}}`)
	ahead := write("ahead.json", `{"version":1,"cursor":999999,"engine":{}}`)
	notDir := write("file", "x")

	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"nothing to do", []string{"--data", data}, ExitUsage, "--verify"},
		{"no such data", []string{"--data", filepath.Join(tmp, "nope"), "--verify"}, ExitUsage, "no such directory"},
		{"data is a file", []string{"--data", notDir, "--verify"}, ExitUsage, "not a directory"},
		{"no ledger", []string{"--data", tmp, "--verify"}, ExitUsage, "no ledger here"},
		{"policy missing", []string{"--data", data, "--policy", filepath.Join(tmp, "none.lll")}, ExitUsage, "none.lll"},
		{"policy does not compile", []string{"--data", data, "--policy", badPolicy}, ExitUsage, "bad.lll"},
		{"state missing", []string{"--data", data, "--verify", "--state", filepath.Join(tmp, "none.json")}, ExitUsage, "no such file"},
		{"state not JSON", []string{"--data", data, "--verify", "--state", garbage}, ExitUsage, "is not a data plane state"},
		{"state of another version", []string{"--data", data, "--verify", "--state", oldState}, ExitUsage, "state version 7"},
		{"state ahead of the ledger", []string{"--data", data, "--verify", "--state", ahead}, ExitUsage, "another ledger"},
		{"negative examples", []string{"--data", data, "--verify", "--examples", "-1"}, ExitUsage, "--examples"},
		{"bad tenant", []string{"--data", data, "--verify", "--tenant", "Bad Name"}, ExitUsage, "--tenant"},
		{"bad from", []string{"--data", data, "--verify", "--from", "-3"}, ExitUsage, "--from"},
		{"from past the end", []string{"--data", data, "--verify", "--from", "1000000"}, ExitUsage, "the ledger holds"},
		{"store not postgres", []string{"--data", data, "--verify", "--store", "mysql://x"}, ExitUsage, "postgres://"},
		{"argument", []string{"--data", data, "--verify", "extra"}, ExitUsage, "no arguments"},
		{"backfill without verify", []string{"--data", data, "--backfill"}, ExitUsage, "needs --verify"},
		{"backfill a policy", []string{"--data", data, "--verify", "--backfill", "--policy", tunedPolicy}, ExitUsage, "not --policy"},
		{"backfill from", []string{"--data", data, "--verify", "--backfill", "--from", "3"}, ExitUsage, "not with --from"},
		{"backfill postgres", []string{"--data", data, "--verify", "--backfill", "--store", "postgres://x@y/z"}, ExitUsage, "embedded store only"},
		{"backfill without a log key", []string{"--data", data, "--verify", "--backfill"}, ExitUsage, "has no log key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runMain(t, context.Background(), nil, "", append([]string{"replay"}, tt.args...)...)
			if code != tt.code || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q (stdout %q); want %d mentioning %q", code, errOut, out, tt.code, tt.want)
			}
		})
	}

	t.Run("in use by a server", func(t *testing.T) {
		store, err := segment.Open(context.Background(), segment.Config{Dir: data, IndexCacheBytes: 8 << 20})
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		_, errOut, code := runMain(t, context.Background(), nil, "", "replay", "--data", data, "--verify")
		if code != ExitUsage || !strings.Contains(errOut, "in use by a running server") {
			t.Errorf("exit %d %q, want %d: in use", code, errOut, ExitUsage)
		}
	})
}

// repeatedCorpus is n spans: the corpus repeated, each copy with its own
// ids and moved 2 years later than the one before (the corpus spans 16
// months), so every copy's trajectories are new ones.
func repeatedCorpus(tb testing.TB, n int) [][]byte {
	tb.Helper()
	base := corpusLines(tb, 0)
	out := make([][]byte, 0, n)
	for c := 0; len(out) < n; c++ {
		for _, l := range base {
			if len(out) == n {
				break
			}
			s := string(l)
			i := strings.Index(s, `","`) // the end of the id, the first member
			w := strings.Index(s, `"when":"`) + len(`"when":"`)
			if !strings.HasPrefix(s, `{"id":"`) || i < 0 || w < len(`"when":"`) {
				tb.Fatalf("unexpected corpus line %s", s)
			}
			var year int
			if _, err := fmt.Sscanf(s[w:w+4], "%d", &year); err != nil {
				tb.Fatal(err)
			}
			line := fmt.Sprintf("%s-%d%s%04d%s", s[:i], c, s[i:w], year+2*c, s[w+4:])
			out = append(out, []byte(line))
		}
	}
	return out
}

// BenchmarkReplay replays --verify a ledger of the corpus repeated to
// LOGLINE_REPLAY_SPANS spans (default 100,000), derived by the data
// plane with trajectories and diamond on (the ledger is built once, not
// timed). spans/s counts the ingested spans, entries/s every entry (the
// derived spans too).
func BenchmarkReplay(b *testing.B) {
	n := 100_000
	if v := os.Getenv("LOGLINE_REPLAY_SPANS"); v != "" {
		if _, err := fmt.Sscanf(v, "%d", &n); err != nil {
			b.Fatalf("LOGLINE_REPLAY_SPANS=%q: %v", v, err)
		}
	}
	// LOGLINE_REPLAY_DATA=DIR keeps the ledger in DIR, built on the
	// first run, for runs of the command itself.
	data := os.Getenv("LOGLINE_REPLAY_DATA")
	if data == "" {
		data = b.TempDir()
	}
	var entries uint64
	if _, err := os.Stat(filepath.Join(data, dataplane.StateFile)); err != nil {
		writeTenantFile(b, data, "t_receipt", "tenant.yaml", []byte("features:\n  trajectory: true\n  diamond: true\n"))
		start := time.Now()
		entries = derivedData(b, data, repeatedCorpus(b, n), false)
		b.Logf("built %s in %s", data, time.Since(start).Round(time.Second))
	} else {
		store, err := segment.Open(context.Background(), segment.Config{Dir: data, IndexCacheBytes: 8 << 20})
		if err != nil {
			b.Fatal(err)
		}
		entries = store.Size()
		_ = store.Close()
	}
	b.Logf("%d spans, %d entries", n, entries)
	for b.Loop() {
		var out, errOut strings.Builder
		code := Main(context.Background(), []string{"replay", "--data", data, "--verify", "--json"},
			IO{In: strings.NewReader(""), Out: &out, Err: &errOut, Getenv: func(string) string { return "" }}, "bench")
		if code != 0 {
			b.Fatalf("replay: exit %d\n%s%s", code, out.String(), errOut.String())
		}
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(float64(n)/sec, "spans/s")
	b.ReportMetric(float64(entries)/sec, "entries/s")
}

// TestReplayShed: derived spans the data plane shed under
// derived_events_perf, as its derivation_shed record says, are not
// divergence; the rest is identical.
func TestReplayShed(t *testing.T) {
	data := t.TempDir()
	writeTenantFile(t, data, "t_receipt", "tenant.yaml", []byte("features:\n  trajectory: true\n"))
	writeTenantFile(t, data, "t_receipt", "perf.lll", []byte("policy derived_events_perf {\n  max_per_minute: 100\n}\n"))
	if _, err := tlog.LoadOrCreateKeys(filepath.Join(data, keysDirName), "replay.test/log", nil, nil); err != nil {
		t.Fatal(err)
	}
	store, err := segment.Open(context.Background(), segment.Config{Dir: data, IndexCacheBytes: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	appendLines(t, store, corpusLines(t, 1000))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	quiet := slog.New(slog.DiscardHandler)
	tenants, err := tenantcfg.New(ctx, tenantcfg.Config{DataDir: data, ValidTenant: span.ValidTenant, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	set, err := openPrograms(ctx, data, tenants, quiet)
	if err != nil {
		t.Fatal(err)
	}
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC).UnixNano())
	w, err := dataplane.Open(dataplane.Config{
		Store: store, Program: set.Program, Features: tenantFeatures(tenants),
		StatePath: filepath.Join(data, dataplane.StateFile), Logger: quiet,
		Now: func() time.Time { return time.Unix(0, now.Load()) }, ClockIdle: 24 * time.Hour, Tick: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	d := &dataPlane{w: w, store: store, cancel: cancel, done: make(chan error, 1)}
	go func() { d.done <- w.Run(ctx) }()
	d.catchUp(t, false)
	now.Add(int64(time.Minute)) // the minute ends: the record is appended
	for recorded := false; !recorded; time.Sleep(time.Millisecond) {
		err := store.Read(ctx, 0, store.Size(), func(e *span.Entry) error {
			recorded = recorded || e.EntityType == derive.TypeShed
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	d.catchUp(t, false)
	d.stop(t)
	st := w.Status()
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	if st.Derived != 100 || st.Shed == 0 {
		t.Fatalf("the data plane appended %d and shed %d, want 100 and more", st.Derived, st.Shed)
	}

	res, code, errOut := runReplay(t, "--data", data, "--verify")
	if code != 0 || res.Divergence != 0 || res.Shed != st.Shed || res.Identical != st.Derived || res.Replayed != st.Derived+st.Shed {
		t.Fatalf("exit %d: divergence %d, shed %d, identical %d, replayed %d; want 0, %d, %d, %d\n%s",
			code, res.Divergence, res.Shed, res.Identical, res.Replayed, st.Shed, st.Derived, st.Derived+st.Shed, errOut)
	}
	out, _, _ := runMain(t, context.Background(), nil, "", "replay", "--data", data, "--verify")
	if !strings.Contains(out, fmt.Sprintf("; %d shed (derived_events_perf)", st.Shed)) {
		t.Errorf("human report:\n%s", out)
	}

	// --backfill appends them; then nothing is shed, all is identical,
	// and the data plane, started again, has nothing to add.
	res, code, errOut = runReplay(t, "--data", data, "--verify", "--backfill")
	if code != 0 || res.Backfilled == nil || *res.Backfilled != st.Shed {
		t.Fatalf("--backfill: exit %d, backfilled %v, want %d\n%s", code, res.Backfilled, st.Shed, errOut)
	}
	res, code, errOut = runReplay(t, "--data", data, "--verify")
	if code != 0 || res.Shed != 0 || res.Identical != st.Derived+st.Shed || res.Divergence != 0 || res.State != "identical" {
		t.Fatalf("after --backfill: exit %d, shed %d, identical %d, divergence %d, state %q; want 0, 0, %d, 0, identical\n%s",
			code, res.Shed, res.Identical, res.Divergence, res.State, st.Derived+st.Shed, errOut)
	}
	if _, errOut, code := runMain(t, context.Background(), nil, "", "verify", "--data", data); code != 0 {
		t.Fatalf("verify after --backfill: exit %d\n%s", code, errOut)
	}
	store, err = segment.Open(context.Background(), segment.Config{Dir: data, IndexCacheBytes: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	d = startDataPlane(t, data, store, false)
	d.catchUp(t, false)
	d.stop(t)
	if again := d.w.Status(); again.Derived != 0 || again.Conflicts != 0 || again.Err != "" {
		t.Errorf("the data plane after --backfill: %+v, want nothing derived", again)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	res, code, _ = runReplay(t, "--data", data, "--verify")
	if code != 0 || res.Divergence != 0 || res.State != "identical" {
		t.Errorf("after a restart: exit %d, divergence %d, state %q", code, res.Divergence, res.State)
	}
}

// policyRecords reads the derivation_policy records stored in data.
func policyRecords(t *testing.T, data string) []dataplane.PolicyRecord {
	t.Helper()
	store, err := segment.Open(context.Background(), segment.Config{Dir: data, IndexCacheBytes: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var out []dataplane.PolicyRecord
	err = store.Read(context.Background(), 0, store.Size(), func(e *span.Entry) error {
		rec, ok, err := dataplane.ReadPolicyRecord(e)
		if ok && err == nil {
			out = append(out, rec)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestReplayRecordedPolicies: a ledger whose tenant had its flags
// toggled and its program changed while the data plane derived it
// replays with divergence 0, whatever the configuration is now: replay
// derives each range of entries with the policy the data plane recorded
// for it. A record that names its program by its hash only (over 40,000
// bytes encoded) is verified with the tenant's program when that has
// the hash, and is reported not verifiable, exit 2, when it has not.
// --policy still shows what a policy would change.
func TestReplayRecordedPolicies(t *testing.T) {
	data := t.TempDir()
	tuned, err := os.ReadFile(tunedPolicy)
	if err != nil {
		t.Fatal(err)
	}
	// A program too large to embed: the tuned policy with 2,000
	// exceptions that match nothing.
	big := append([]byte(nil), tuned...)
	big = append(big, "\ntrajectory_linker:\n  window: 30d\n  close_timeout: 14d\n  exceptions:\n"...)
	big = bytes.Replace(big, []byte("trajectory_linker:\n  window: 30d\n  close_timeout: 14d\n"), nil, 1)
	for i := range 2000 {
		big = fmt.Appendf(big, "    - \"this:no-such-thing-%05d-*\"\n", i)
	}
	on := []byte("features:\n  trajectory: true\n  diamond: true\n")
	off := []byte("features:\n  trajectory: false\n  diamond: true\n")
	receipt := filepath.Join(data, "cfg", "tenants", "t_receipt", "receipt.yaml")
	phases := []struct {
		name   string
		config func()
		lines  int // corpus lines ingested so far at its end
	}{
		{"trajectories and diamond on, the tuned policy", func() {
			writeTenantFile(t, data, "t_receipt", "tenant.yaml", on)
			writeTenantFile(t, data, "t_receipt", "receipt.yaml", tuned)
		}, 2000},
		{"trajectories off", func() { writeTenantFile(t, data, "t_receipt", "tenant.yaml", off) }, 3500},
		{"on again, the default program", func() {
			writeTenantFile(t, data, "t_receipt", "tenant.yaml", on)
			if err := os.Remove(receipt); err != nil {
				t.Fatal(err)
			}
		}, 5000},
		{"other weights", func() {
			writeTenantFile(t, data, "t_receipt", "receipt.yaml", append(tuned, "  weights: {mass: 0.6, persistence: 0.1, verification: 0.3}\n"...))
		}, 6500},
		{"a program too large to embed", func() { writeTenantFile(t, data, "t_receipt", "receipt.yaml", big) }, 0},
	}
	lines := corpusLines(t, 0)
	store, err := segment.Open(context.Background(), segment.Config{Dir: data, IndexCacheBytes: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	var froms []uint64
	done := 0
	for _, ph := range phases {
		// Each configuration applies from a restart of the data plane
		// (its hot reloads: internal/dataplane's TestPolicyRecords).
		ph.config()
		d := startDataPlane(t, data, store, false)
		froms = append(froms, store.Size())
		end := ph.lines
		if end == 0 {
			end = len(lines)
		}
		for ; done < end; done = min(done+2048, end) {
			appendLines(t, store, lines[done:min(done+2048, end)])
			d.catchUp(t, false)
		}
		d.stop(t)
	}
	entries := store.Size()
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	recs := policyRecords(t, data)
	if len(recs) != len(phases) {
		t.Fatalf("%d policy records %+v, want one per phase: %d", len(recs), recs, len(phases))
	}
	for i, rec := range recs {
		if rec.From != froms[i] || rec.Tenant != "t_receipt" {
			t.Errorf("record %d (%s): tenant %s from %d, want t_receipt from %d", i, phases[i].name, rec.Tenant, rec.From, froms[i])
		}
		if embedded := rec.Encoded != nil; embedded != (i < len(recs)-1) {
			t.Errorf("record %d (%s): program embedded %v (sha256 %.12s)", i, phases[i].name, embedded, rec.Program)
		}
	}
	counts := storedDerived(t, data)

	// Through another path to the data directory: a program's hash does
	// not depend on it (the last record's program is named by it only).
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(data, link); err != nil {
		t.Fatal(err)
	}
	res, code, errOut := runReplay(t, "--data", link, "--verify")
	if code != 0 || !res.OK || res.Divergence != 0 || res.Identical != counts[""] || res.State != "identical" || res.PolicyRecords != len(phases) || res.Entries != entries {
		t.Fatalf("replay --verify: exit %d, ok %v, divergence %d, identical %d of %d, state %q, %d policy records; want 0, ok, 0, all, identical, %d\n%+v\n%s",
			code, res.OK, res.Divergence, res.Identical, counts[""], res.State, res.PolicyRecords, len(phases), res, errOut)
	}

	// The audit's case: trajectories turned off since.
	writeTenantFile(t, data, "t_receipt", "tenant.yaml", off)
	res, code, errOut = runReplay(t, "--data", data, "--verify")
	if code != 0 || res.Divergence != 0 || res.Identical != counts[""] {
		t.Errorf("trajectories off since: exit %d, divergence %d (%d missing, %d extra), identical %d; want 0, 0, %d\n%s",
			code, res.Divergence, res.Missing, res.Extra, res.Identical, counts[""], errOut)
	}
	writeTenantFile(t, data, "t_receipt", "tenant.yaml", on)

	// The large program replaced: the last range cannot be verified.
	writeTenantFile(t, data, "t_receipt", "receipt.yaml", tuned)
	res, code, errOut = runReplay(t, "--data", data, "--verify")
	last := recs[len(recs)-1]
	want := replayUnverifiable{Tenant: "t_receipt", From: last.From, To: entries - 1, Program: last.Program}
	if code != ExitUsage || res.OK || res.Divergence != 0 || len(res.Unverifiable) != 1 || res.NotVerifiable == 0 ||
		res.Identical+res.NotVerifiable != counts[""] || res.State == "different" {
		t.Fatalf("the program of a hash-only record gone: exit %d, ok %v, divergence %d, identical %d + not verifiable %d of %d, state %q, unverifiable %+v; want %d, not ok, 0, all, %+v\n%s",
			code, res.OK, res.Divergence, res.Identical, res.NotVerifiable, counts[""], res.State, res.Unverifiable, ExitUsage, want, errOut)
	}
	if got := res.Unverifiable[0]; got.Tenant != want.Tenant || got.From != want.From || got.To != want.To || got.Program != want.Program || got.Reason == "" {
		t.Errorf("unverifiable %+v, want %+v", got, want)
	}
	out, _, code := runMain(t, context.Background(), nil, "", "replay", "--data", data, "--verify")
	if code != ExitUsage || !strings.Contains(out, "INCOMPLETE") || !strings.Contains(out, last.Program) ||
		!strings.Contains(out, fmt.Sprintf("log indexes %d–%d", want.From, want.To)) {
		t.Errorf("human report: exit %d\n%s", code, out)
	}

	// --policy ignores the records: what the tuned policy would change.
	res, code, errOut = runReplay(t, "--data", data, "--policy", tunedPolicy)
	if code != 0 || res.Mode != "policy" || res.Divergence == 0 || res.PolicyRecords != 0 || len(res.Unverifiable) != 0 {
		t.Errorf("--policy: exit %d, mode %q, divergence %d, %d records, unverifiable %v; want 0, policy, > 0, 0, none\n%s",
			code, res.Mode, res.Divergence, res.PolicyRecords, res.Unverifiable, errOut)
	}
}

// TestReplayRecordsSuperseded: a data plane that crashed after deriving
// under one configuration (trajectories off) but before saving its
// state, restarted under another (on), derives the entries after its
// saved state again and records so, from its saved cursor on, after the
// stale record; replay derives them as the later record says, the stale
// one superseded: divergence 0.
func TestReplayRecordsSuperseded(t *testing.T) {
	data := t.TempDir()
	writeTenantFile(t, data, "t_receipt", "tenant.yaml", []byte("features:\n  trajectory: true\n"))
	lines := corpusLines(t, 3000)
	store, err := segment.Open(context.Background(), segment.Config{Dir: data, IndexCacheBytes: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	run := func(lines [][]byte) {
		d := startDataPlane(t, data, store, false)
		appendLines(t, store, lines)
		d.catchUp(t, false)
		d.stop(t)
	}
	run(lines[:500])
	statePath := filepath.Join(data, dataplane.StateFile)
	early, err := os.ReadFile(statePath)
	if err != nil {
		t.Fatal(err)
	}
	run(lines[500:1000])
	writeTenantFile(t, data, "t_receipt", "tenant.yaml", []byte("features:\n  trajectory: false\n"))
	run(lines[1000:2000])
	if err := os.WriteFile(statePath, early, 0o644); err != nil { // the crash: that state never saved
		t.Fatal(err)
	}
	writeTenantFile(t, data, "t_receipt", "tenant.yaml", []byte("features:\n  trajectory: true\n"))
	run(lines[2000:])
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	recs := policyRecords(t, data)
	if len(recs) != 3 || recs[1].Trajectory || !recs[2].Trajectory || recs[2].From >= recs[1].From {
		t.Fatalf("records %+v: want on, off, then on from before the off one", recs)
	}
	counts := storedDerived(t, data)
	res, code, errOut := runReplay(t, "--data", data, "--verify")
	if code != 0 || res.Divergence != 0 || res.Identical != counts[""] || res.State != "identical" || res.PolicyRecords != 2 {
		t.Fatalf("exit %d: divergence %d (%d missing, %d extra), identical %d of %d, state %q, %d records in force; want 0, 0, all, identical, 2\n%s",
			code, res.Divergence, res.Missing, res.Extra, res.Identical, counts[""], res.State, res.PolicyRecords, errOut)
	}
}
