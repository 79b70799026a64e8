package cli

import (
	"context"
	"log/slog"

	"github.com/logline/logline/internal/auth/tenantcfg"
	"github.com/logline/logline/internal/gateway"
	"github.com/logline/logline/internal/lll/eval"
	"github.com/logline/logline/internal/lll/ir"
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
		features = func(tenant string) eval.Features {
			f := tenants.Current().TenantOrDefaults(tenant).Features()
			return eval.Features{Trajectory: f.Trajectory, Diamond: f.Diamond}
		}
	}
	set, err := programs.Open(ctx, programs.Config{DataDir: data, ValidTenant: span.ValidTenant, Features: features, Logger: log})
	if err != nil {
		return nil, ioErrorf("tenant programs: %w", err)
	}
	return set, nil
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
