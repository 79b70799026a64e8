package quota

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrBadLimit is returned (wrapped) by [Limits.Validate], [Limiter.Set]
// and [New] for a negative, NaN or infinite limit.
var ErrBadLimit = errors.New("bad quota limit")

// Limit is one token bucket: PerSecond tokens flow in every second, up to
// Burst. A zero PerSecond means unlimited. A zero Burst with a positive
// PerSecond means one second's worth (at least 1).
type Limit struct {
	PerSecond float64
	Burst     int64
}

// Unlimited reports whether l limits nothing.
func (l Limit) Unlimited() bool { return l.PerSecond == 0 }

// burst returns the effective burst of a limited bucket.
func (l Limit) burst() int64 {
	if l.Burst > 0 {
		return l.Burst
	}
	return max(1, int64(math.Ceil(min(l.PerSecond, math.MaxInt64/2))))
}

func (l Limit) validate() error {
	switch {
	case math.IsNaN(l.PerSecond) || math.IsInf(l.PerSecond, 0) || l.PerSecond < 0:
		return fmt.Errorf("%w: rate %v per second", ErrBadLimit, l.PerSecond)
	case l.Burst < 0:
		return fmt.Errorf("%w: burst %d", ErrBadLimit, l.Burst)
	case l.PerSecond == 0 && l.Burst != 0:
		return fmt.Errorf("%w: burst %d without a rate (a zero rate is unlimited)", ErrBadLimit, l.Burst)
	}
	return nil
}

// Limits are the three buckets of one scope (a tenant, or a role within a
// tenant). The zero value is unlimited.
type Limits struct {
	Requests Limit // requests per second
	Spans    Limit // spans per second
	Bytes    Limit // request body bytes per second
}

// Unlimited reports whether l limits nothing.
func (l Limits) Unlimited() bool {
	return l.Requests.Unlimited() && l.Spans.Unlimited() && l.Bytes.Unlimited()
}

// Validate reports a negative, NaN or infinite rate, a negative burst, or
// a burst without a rate, wrapping ErrBadLimit.
func (l Limits) Validate() error {
	for d, lim := range l.each() {
		if err := lim.validate(); err != nil {
			return fmt.Errorf("%s: %w", dimensionNames[d], err)
		}
	}
	return nil
}

// each returns the limits indexed like dimensionNames.
func (l Limits) each() [numDims]Limit { return [numDims]Limit{l.Requests, l.Spans, l.Bytes} }

// Cost is what one charge takes. Zero and negative fields take nothing.
type Cost struct {
	Requests int64
	Spans    int64
	Bytes    int64
}

func (c Cost) each() [numDims]int64 { return [numDims]int64{c.Requests, c.Spans, c.Bytes} }

// The dimensions a limit applies to, as named in [Decision.Dimension].
const (
	DimRequests = "requests"
	DimSpans    = "spans"
	DimBytes    = "bytes"
)

// The scopes a limit applies at, as named in [Decision.Scope].
const (
	ScopeTenant = "tenant"
	ScopeRole   = "role"
)

const numDims = 3

var dimensionNames = [numDims]string{DimRequests, DimSpans, DimBytes}

// Decision is the answer to a charge. When OK is false, Dimension and
// Scope name the bucket that needs the longest wait and RetryAfter is that
// wait: retrying the same charge after it succeeds unless other charges
// came first.
type Decision struct {
	OK         bool
	RetryAfter time.Duration
	Dimension  string // DimRequests, DimSpans or DimBytes; empty when OK
	Scope      string // ScopeTenant or ScopeRole; empty when OK
}
