package bench

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/logline/logline/internal/auth/tenantcfg"
	"github.com/logline/logline/internal/derive"
	"github.com/logline/logline/internal/lll/check"
)

// checkDataPlane checks the dataplane section of a small run: its
// rounds (checkRounds), the off ÷ none share, the on worker derived and
// caught up, the off worker derived nothing. No timed assertion.
func checkDataPlane(t *testing.T, dp DataPlane, cfg Config) {
	t.Helper()
	var rounds []roundSeen
	var derived int64
	var lag uint64
	var catchUp float64
	for i, r := range dp.Rounds {
		rounds = append(rounds, roundSeen{r.Order, []float64{r.NonePerSec, r.OffPerSec, r.OnPerSec}, r.OnPerSec, r.OffPerSec, r.Share})
		// Every corpus span is linked: at least one derived span each.
		if r.Derived < int64(dpRunSpans(cfg.Spans)) || !near(r.DerivedPerSpan, float64(r.Derived)/float64(dpRunSpans(cfg.Spans))) ||
			r.CatchUpDerived < 0 || r.CatchUpDerived > r.Derived || r.CatchUpSeconds < 0 || (r.Lag > 0 && r.CatchUpEntries < r.Lag) {
			t.Errorf("round %d: derived %d (%v per span), lag %d, caught up %d entries and %d derived in %v s", i+1, r.Derived, r.DerivedPerSpan, r.Lag, r.CatchUpEntries, r.CatchUpDerived, r.CatchUpSeconds)
		}
		derived += r.Derived
		lag = max(lag, r.Lag)
		catchUp += r.CatchUpSeconds
	}
	orders := dpOrders()
	checkRounds(t, roundsSeen{
		section: "dataplane", skipped: dp.Skipped, err: dp.Error, orders: orders[:], rounds: rounds,
		ingests: []Throughput{dp.None, dp.Off, dp.On}, perRun: dpRunSpans(cfg.Spans),
		num: dp.On, den: dp.Off, share: dp.Share, cost: dp.Cost, wallMicros: dp.WallMicros,
		settleSeconds: dp.SettleSeconds, otherCPUShare: dp.OtherCPUShare, pairShares: dp.PairShares, medianPairShare: dp.MedianPairShare,
	})
	if !near(dp.OffShare, dp.Off.SpansPerSec/dp.None.SpansPerSec) {
		t.Errorf("off share %v, not from the rates %+v", dp.OffShare, dp)
	}
	if dp.Derived != derived || !near(dp.DerivedPerSpan, float64(derived)/float64(dp.On.Spans)) || dp.MaxLag != lag || !near(dp.CatchUpSeconds, catchUp) {
		t.Errorf("totals: derived %d (rounds %d), %v per span, max lag %d (rounds %d), catch-up %v s (rounds %v)", dp.Derived, derived, dp.DerivedPerSpan, dp.MaxLag, lag, dp.CatchUpSeconds, catchUp)
	}
	if !near(dp.OnSustainedPerSec, float64(dp.On.Spans)/(dp.On.Seconds+dp.CatchUpSeconds)) ||
		!near(dp.OffSustainedPerSec, float64(dp.Off.Spans)/(dp.Off.Seconds+dp.OffCatchUpSeconds)) ||
		!near(dp.SustainedCost, 1-dp.OnSustainedPerSec/dp.OffSustainedPerSec) || dp.OnSustainedPerSec > dp.On.SpansPerSec {
		t.Errorf("sustained: on %v, off %v spans/s, cost %v; %+v", dp.OnSustainedPerSec, dp.OffSustainedPerSec, dp.SustainedCost, dp)
	}
	if dp.CatchUpSeconds > 0 && (dp.CatchUpEntriesPerSec <= 0 || dp.CatchUpDerivedPerSec < 0) {
		t.Errorf("catch-up rates %v entries/s, %v derived/s", dp.CatchUpEntriesPerSec, dp.CatchUpDerivedPerSec)
	}
	if dp.CPUMicrosOn > 0 && (dp.CPUMicrosOnAll < dp.CPUMicrosOn || dp.CPUMicrosOffAll < dp.CPUMicrosOff || !near(dp.CPUMicros, dp.CPUMicrosOnAll-dp.CPUMicrosOffAll)) {
		t.Errorf("CPU µs per span: on %v (%v with catch-up), off %v (%v), data plane %v", dp.CPUMicrosOn, dp.CPUMicrosOnAll, dp.CPUMicrosOff, dp.CPUMicrosOffAll, dp.CPUMicros)
	}
	if dp.DeriveCalls != dpRounds*dpRunSpans(cfg.Spans) || dp.DeriveMicros <= 0 || dp.DeriveBuildMicros <= 0 || dp.DerivePerSpan < 1 {
		t.Errorf("derive alone: %d spans, %v µs, %v µs with Derived.Span, %v derived per span", dp.DeriveCalls, dp.DeriveMicros, dp.DeriveBuildMicros, dp.DerivePerSpan)
	}
}

// TestDataPlaneSection runs the benchmark with only the dataplane
// section (and the ingest that always runs), and with it skipped.
func TestDataPlaneSection(t *testing.T) {
	testSectionAlone(t, sectionAlone{
		section: SectionDataPlane, heading: "DATA PLANE",
		checkName: "trajectories + quality", checkTarget: "≤ 25%",
		table:  []string{"trajectory + diamond on", "worker catch-up", "derive alone", "round 6"},
		report: func(rep Report) (string, int) { return rep.DataPlane.Skipped, rep.DataPlane.On.Spans },
		check:  func(t *testing.T, rep Report, cfg Config) { checkDataPlane(t, rep.DataPlane, cfg) },
	})
}

// TestDPServers: each server's tenant sees the flags of its variant, the
// worker runs only where it should, and only the on worker appends
// derived spans — the same ones whatever the order. Not timed.
func TestDPServers(t *testing.T) {
	ctx := context.Background()
	gen, err := loadCorpus("")
	if err != nil {
		t.Fatal(err)
	}
	c, err := gen.retenant(dpTenant)
	if err != nil {
		t.Fatal(err)
	}
	d := newIDs()
	bodies, _, _, err := makeBodies(ctx, c, d, "t", 300, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range dpVariants {
		t.Run(k, func(t *testing.T) {
			srv, err := startDPServer(ctx, t.TempDir(), map[string]map[string][]byte{dpTenant: dpFiles(k)}, k != "none", testLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := srv.Close(); err != nil {
					t.Error(err)
				}
			}()
			f := srv.tenants.Current().TenantOrDefaults(dpTenant).Features()
			if want := k == "on"; f.Trajectory != want || f.Diamond != want {
				t.Errorf("features %+v, want trajectory and diamond %v", f, want)
			}
			if (srv.worker != nil) != (k != "none") {
				t.Fatalf("worker %v on the %s server", srv.worker != nil, k)
			}
			tg := &target{base: srv.url, hc: newHTTPClient()}
			defer tg.hc.CloseIdleConnections()
			if run, _ := ingestBodies(ctx, tg, "", bodies, 2, 100, time.Now().Add(time.Minute)); run.Error != "" || run.Spans != 300 {
				t.Fatalf("ingest: %+v", run)
			}
			if srv.worker == nil {
				if n := srv.store.Size(); n != 300 {
					t.Errorf("ledger of %d entries without a worker, want 300", n)
				}
				return
			}
			if _, err := srv.catchUp(ctx, time.Now().Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			st, lag := srv.backlog()
			if lag != 0 || st.Cursor != srv.store.Size() {
				t.Errorf("after the catch-up: lag %d, status %+v, ledger %d", lag, st, srv.store.Size())
			}
			if k == "off" && (st.Derived != 0 || srv.store.Size() != 300) {
				t.Errorf("derived %d spans with trajectories off (ledger %d)", st.Derived, srv.store.Size())
			}
			// On: the derived spans and the tenant's one derivation_policy
			// record.
			if k == "on" && (st.Derived < 300 || srv.store.Size() != 300+uint64(st.Derived)+1) {
				t.Errorf("derived %d spans from 300 (ledger %d, want the spans, the derived and one policy record)", st.Derived, srv.store.Size())
			}
		})
	}
}

// TestDPFiles: the tenant.yaml of each variant parses with its flags; the
// program is the one a tenant without programs runs.
func TestDPFiles(t *testing.T) {
	for _, k := range dpVariants {
		files := dpFiles(k)
		tc, err := tenantcfg.Parse(dpTenant, "tenant.yaml", files["tenant.yaml"])
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if f, want := tc.Features(), k == "on"; f.Trajectory != want || f.Diamond != want {
			t.Errorf("%s: features %+v", k, f)
		}
		if !bytes.Equal(files[check.CanonicalContractFile], check.CanonicalContractSource()) {
			t.Errorf("%s: the program is not canonical_contract_v1", k)
		}
	}
}

// TestDeriveMicros: derivation alone derives at least one span per
// corpus span (every one is linked), with and without the decode.
func TestDeriveMicros(t *testing.T) {
	prog, err := check.CanonicalContract()
	if err != nil {
		t.Fatal(err)
	}
	p, err := derive.PolicyOf(prog, true, true)
	if err != nil {
		t.Fatal(err)
	}
	gen, err := loadCorpus("")
	if err != nil {
		t.Fatal(err)
	}
	spans, err := gen.decodeAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, decode := range []bool{false, true} {
		us, per, err := deriveMicros(p, spans, 500, decode, time.Now().Add(time.Minute))
		if err != nil || us <= 0 || per < 1 {
			t.Errorf("decode %v: %v µs, %v derived per span, %v", decode, us, per, err)
		}
	}
	if _, _, err := deriveMicros(p, nil, 10, false, time.Now().Add(time.Minute)); err == nil {
		t.Error("no spans: no error")
	}
}

// TestDPOrders: every server runs at every place of a round equally
// often, and in each pair of rounds off and on swap places.
func TestDPOrders(t *testing.T) {
	orders := dpOrders()
	checkOrders(t, orders[:], dpVariants, "off", "on")
}

// TestDataPlaneChecks: the target line says the target and whether it
// was met; a section skipped or failed gives none.
func TestDataPlaneChecks(t *testing.T) {
	// on and off are the sustained rates (ingest + catch-up); the runs
	// alone are faster.
	ok := func(on float64) DataPlane {
		dp := DataPlane{
			Off: Throughput{Spans: 10, SpansPerSec: 110_000},
			On:  Throughput{Spans: 10, SpansPerSec: 105_000},
		}
		dp.Share = dp.On.SpansPerSec / dp.Off.SpansPerSec
		dp.Cost = 1 - dp.Share
		dp.OffSustainedPerSec, dp.OnSustainedPerSec = 100_000, on
		dp.SustainedShare = on / 100_000
		dp.SustainedCost = 1 - dp.SustainedShare
		return dp
	}
	for _, tc := range []struct {
		name   string
		dp     DataPlane
		checks int
		met    bool
	}{
		{"met", ok(90_000), 1, true},
		{"exactly 25%", ok(75_000), 1, true},
		{"missed", ok(60_000), 1, false},
		{"missed while the runs alone meet it", func() DataPlane { dp := ok(30_000); dp.Cost = 0.05; return dp }(), 1, false},
		{"skipped", DataPlane{Skipped: "skipped"}, 0, false},
		{"failed", func() DataPlane { dp := ok(90_000); dp.On.Error = "boom"; return dp }(), 0, false},
		{"no catch-up figures", func() DataPlane { dp := ok(90_000); dp.SustainedShare = 0; return dp }(), 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkCostCheck(t, dataPlaneChecks(&tc.dp), tc.checks, tc.met,
				[]string{"≤ 25%", "of 100,000"}, []string{fmt.Sprintf("cost %.1f%%", tc.dp.SustainedCost*100), "runs alone"})
		})
	}
}
