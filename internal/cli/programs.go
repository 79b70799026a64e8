package cli

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/logline/logline/internal/auth/quota"
	"github.com/logline/logline/internal/auth/tenantcfg"
	"github.com/logline/logline/internal/dataplane"
	"github.com/logline/logline/internal/derive"
	"github.com/logline/logline/internal/gateway"
	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/lll/check"
	"github.com/logline/logline/internal/lll/eval"
	"github.com/logline/logline/internal/lll/ir"
	"github.com/logline/logline/internal/metrics"
	"github.com/logline/logline/internal/programs"
	"github.com/logline/logline/internal/span"
)

// openPrograms loads the tenants' .lll programs (docs/lll.md, "Loading")
// for serve: hot-reloaded, the default canonical_contract_v1 for tenants
// without any, feature flags from tenant.yaml (all off with --dev, which
// reads no tenant configuration).
func openPrograms(ctx context.Context, data string, tenants *tenantcfg.Watcher, log *slog.Logger) (*programs.Set, error) {
	var features func(string) eval.Features
	if tenants != nil {
		features = tenantFeatures(tenants)
	}
	set, err := programs.Open(ctx, programs.Config{DataDir: data, ValidTenant: span.ValidTenant, Features: features, Logger: log})
	if err != nil {
		return nil, ioErrorf("tenant programs: %w", err)
	}
	return set, nil
}

// openDataPlane opens the data-plane worker (docs/quality.md): it
// derives for the tenants whose tenant.yaml turns features.trajectory
// on, with their programs' policies; its state is DATA/derive/state.json.
// The derived spans it stores count in usage's derived_spans_count (nil:
// not counted).
func openDataPlane(data string, store ledger.Store, set *programs.Set, tenants *tenantcfg.Watcher, requests dataplane.RequestFigures, usage *quota.Usage, log *slog.Logger) (*dataplane.Worker, error) {
	prog, err := check.DefaultAlarms()
	if err != nil {
		return nil, fmt.Errorf("the default alarms: %w", err)
	}
	defaults, err := dataplane.NewDefaultAlarms(prog)
	if err != nil {
		return nil, err
	}
	var derived func(string, uint64)
	if usage != nil {
		derived = usage.AddDerivedSpans
	}
	w, err := dataplane.Open(dataplane.Config{
		Store:         store,
		Program:       set.Program,
		Features:      tenantFeatures(tenants),
		StatePath:     filepath.Join(data, dataplane.StateFile),
		Logger:        log.With("component", "dataplane"),
		Requests:      requests,
		DefaultAlarms: defaults,
		Derived:       derived,
	})
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	return w, nil
}

// dataPlaneFigures adapts the worker's figures to the metrics registry.
func dataPlaneFigures(dp *dataplane.Worker) func() metrics.DataPlaneFigures {
	return func() metrics.DataPlaneFigures {
		f := dp.Figures()
		return metrics.DataPlaneFigures{
			Cursor: f.Cursor, Head: f.Head, Derived: f.Derived, Duplicates: f.Duplicates, Conflicts: f.Conflicts,
			Clocks: f.Clocks, Shed: f.Shed, Open: f.Open, Closed: f.Closed, Scores: f.Scores, Candidates: f.Candidates,
			CloseLatencyBounds: dataplane.CloseLatencyBounds(), CloseLatencyCounts: f.CloseLatency.Counts[:],
			CloseLatencySum: f.CloseLatency.Sum,
		}
	}
}

// publicQuality is a tenant's data plane in GET /metrics/public, with
// the v8 names (§18, §20).
func publicQuality(dp *dataplane.Worker) func(string) (map[string]float64, bool) {
	return func(tenant string) (map[string]float64, bool) {
		ts, ok := dp.Quality(tenant)
		if !ok {
			return nil, false
		}
		out := make(map[string]float64, len(publicFigures)+2)
		for _, name := range publicFigures {
			out[name], _ = ts.Figure(name) // -1 stands for "no value yet"
		}
		if name := ts.TargetName(); name != "" {
			out[name], _ = ts.Figure(name) // quality.p96.current for p96
		}
		out["trajectory.close_latency_ms"] = -1
		if d, ok := dp.LastCloseLatency(tenant); ok {
			out["trajectory.close_latency_ms"] = float64(d.Microseconds()) / 1000
		}
		return out, true
	}
}

// publicFigures are the figures GET /metrics/public shows per tenant.
var publicFigures = []string{
	"trajectory.active", "trajectory.closed_total", "quality.score_count", "quality.p50.current",
	"quality.p95.current", "quality.p99.current", "quality.threshold.current", "quality.candidates_total",
}

// tenantFeatures reads each tenant's feature flags from tenant.yaml; all
// off without a configuration (--dev).
func tenantFeatures(tenants *tenantcfg.Watcher) func(string) eval.Features {
	if tenants == nil {
		return func(string) eval.Features { return eval.Features{} }
	}
	return func(tenant string) eval.Features {
		f := tenants.Current().TenantOrDefaults(tenant).Features()
		return eval.Features{Trajectory: f.Trajectory, Diamond: f.Diamond}
	}
}

// dryRunPolicy is POST /quality/dryrun's policy
// (gateway.Config.DataPlanePolicy): a tenant's program in force, with
// trajectories on whatever its features.trajectory says, and diamond
// candidates as asked, else as its features.diamond says.
func dryRunPolicy(set *programs.Set, features func(string) eval.Features) func(string, *bool) (*derive.Policy, error) {
	return func(tenant string, diamond *bool) (*derive.Policy, error) {
		d := features(tenant).Diamond
		if diamond != nil {
			d = *diamond
		}
		return derive.PolicyOf(set.Program(tenant), true, d)
	}
}

// validateWith is the gateway's validation through set.
func validateWith(set *programs.Set) gateway.ValidateFunc {
	return func(ctx context.Context, sp *span.Span) ([]gateway.Verdict, error) {
		vs, err := set.Machine(sp.Tenant).Validate(ctx, sp)
		if err != nil || len(vs) == 0 {
			return nil, err
		}
		out := make([]gateway.Verdict, len(vs))
		for i, v := range vs {
			out[i] = gateway.Verdict{Validator: v.Validator, Rule: v.Rule, Message: v.Message, Reject: v.Action != ir.ActionWarn}
		}
		return out, nil
	}
}
