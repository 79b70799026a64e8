package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// HTTP holds the gateway's request metrics (v8 §20 gateway.*):
//
//	logline_http_requests_total{route,method,code}                counter
//	logline_http_request_duration_seconds{route,method,code_class} histogram
//	logline_http_requests_in_flight                                gauge
//
// route is the path of the ServeMux pattern that served the request
// ("/spans/{id}"), or "unmatched" when none did (404, 405, CORS
// preflights): never the raw path, so the label has as many values as
// the gateway has routes. method is one of the standard methods or
// "other"; code is the status ("401"), code_class its class ("4xx").
// Answers 401, 403 and 429 are the requests_total series with those codes.
//
// Its methods are safe for concurrent use.
type HTTP struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
	codes    [600]string // strconv.Itoa of each status, made once
}

// RouteUnmatched is the route label of a request no route served.
const RouteUnmatched = "unmatched"

func newHTTP() *HTTP {
	h := &HTTP{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "http", Name: "requests_total",
			Help: "HTTP requests answered, by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "http", Name: "request_duration_seconds",
			Help: "Time from a request's arrival until its handler returned (for streams: the stream's life), by route pattern, method and status class.",
			// From a read served from the cache (100 µs) to a long NDJSON
			// ingest; streams last longer and land in +Inf.
			Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "method", "code_class"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Subsystem: "http", Name: "requests_in_flight",
			Help: "HTTP requests being served (open streams included).",
		}),
	}
	for i := range h.codes {
		h.codes[i] = strconv.Itoa(i)
	}
	return h
}

func (h *HTTP) collectors() []prometheus.Collector {
	return []prometheus.Collector{h.requests, h.duration, h.inFlight}
}

// Start counts a request in flight; every Start is followed by one Done.
func (h *HTTP) Start() { h.inFlight.Inc() }

// Done records a request that began with Start: pattern is the ServeMux
// pattern that served it ("GET /spans/{id}", "" when none did), status
// the status sent (0: nothing was written, which net/http answers 200)
// and d how long it took.
func (h *HTTP) Done(pattern, method string, status int, d time.Duration) {
	h.inFlight.Dec()
	if status == 0 {
		status = http.StatusOK
	}
	route := RouteLabel(pattern)
	m := methodLabel(method)
	code := "other"
	if status >= 100 && status < len(h.codes) {
		code = h.codes[status]
	}
	h.requests.WithLabelValues(route, m, code).Inc()
	h.duration.WithLabelValues(route, m, codeClass(status)).Observe(d.Seconds())
}

// RouteLabel is the route label of a ServeMux pattern: its path
// ("GET /spans/{id}" → "/spans/{id}"), or RouteUnmatched for "".
func RouteLabel(pattern string) string {
	if pattern == "" {
		return RouteUnmatched
	}
	if _, path, ok := strings.Cut(pattern, " "); ok {
		return strings.TrimLeft(path, " \t")
	}
	return pattern
}

// methodLabel keeps the standard methods and folds any other into
// "other": a client cannot grow the label set.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	default:
		return "other"
	}
}

// codeClass is "2xx" for 200–299 and so on.
func codeClass(status int) string {
	switch status / 100 {
	case 1:
		return "1xx"
	case 2:
		return "2xx"
	case 3:
		return "3xx"
	case 4:
		return "4xx"
	case 5:
		return "5xx"
	default:
		return "other"
	}
}
