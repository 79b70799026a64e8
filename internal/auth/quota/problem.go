package quota

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// ErrLimited matches (errors.Is) every *LimitError.
var ErrLimited = errors.New("quota exceeded")

// LimitError is a refused charge: Wait returns it when the wait would
// outlast the context's deadline. WriteTooMany(w, err.Decision) answers it.
type LimitError struct {
	Decision Decision
}

// Error says which quota is exhausted and for how long.
func (e *LimitError) Error() string {
	return "quota: " + detail(e.Decision)
}

// Is makes errors.Is(err, ErrLimited) true.
func (e *LimitError) Is(target error) bool { return target == ErrLimited }

// Problem members of the 429 answer; the same shape as the gateway's
// problems (internal/gateway/problem.go), plus the wait and the bucket.
const (
	tooManyCode        = "too_many_requests"
	tooManyType        = "https://logline.dev/problems/too-many-requests"
	tooManyTitle       = "Too Many Requests"
	problemContentType = "application/problem+json"
)

// tooMany is the RFC 9457 body of a 429.
type tooMany struct {
	Type         string `json:"type"`
	Title        string `json:"title"`
	Status       int    `json:"status"`
	Detail       string `json:"detail"`
	Code         string `json:"code"`
	Dimension    string `json:"dimension,omitempty"`
	Scope        string `json:"scope,omitempty"`
	RetryAfterMS int64  `json:"retry_after_ms"`
}

// WriteTooMany answers a refused charge: status 429, Retry-After in whole
// seconds (rounded up, at least 1) and an application/problem+json body
// naming the dimension and scope, with retry_after_ms (rounded up, at
// least 1).
func WriteTooMany(w http.ResponseWriter, d Decision) {
	p := tooMany{
		Type:         tooManyType,
		Title:        tooManyTitle,
		Status:       http.StatusTooManyRequests,
		Detail:       detail(d),
		Code:         tooManyCode,
		Dimension:    d.Dimension,
		Scope:        d.Scope,
		RetryAfterMS: ceilDiv(d.RetryAfter, time.Millisecond),
	}
	body, err := json.Marshal(p)
	if err != nil { // cannot happen: strings and ints
		body = []byte(`{"type":"` + tooManyType + `","title":"` + tooManyTitle + `","status":429,"code":"` + tooManyCode + `"}`)
	}
	h := w.Header()
	h.Set("Content-Type", problemContentType)
	h.Set("Content-Length", strconv.Itoa(len(body)+1))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Retry-After", strconv.FormatInt(RetryAfterSeconds(d.RetryAfter), 10))
	h.Del("Trailer")
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = w.Write(append(body, '\n'))
}

// RetryAfterSeconds returns d as a Retry-After value: whole seconds,
// rounded up, at least 1.
func RetryAfterSeconds(d time.Duration) int64 { return ceilDiv(d, time.Second) }

// ceilDiv returns d/unit rounded up, at least 1.
func ceilDiv(d, unit time.Duration) int64 {
	if d <= 0 {
		return 1
	}
	return int64((d-1)/unit) + 1
}

// detail says which quota is exhausted and for how long, for users.
func detail(d Decision) string {
	scope, dim := d.Scope, d.Dimension
	if scope == "" {
		scope = ScopeTenant
	}
	if dim == "" {
		dim = DimRequests
	}
	return fmt.Sprintf("the %s's %s-per-second quota is exhausted; retry in %v",
		scope, dim, time.Duration(ceilDiv(d.RetryAfter, time.Millisecond))*time.Millisecond)
}
