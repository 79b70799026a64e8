// Package metrics owns LogLine's Prometheus registry: the metric
// definitions of the gateway (HTTP) and of the ledger's append path, the
// Go runtime and process collectors, and the handler that serves them in
// the text exposition format (GET /metrics, serve --metrics-listen).
// docs/metrics.md lists every metric.
//
// There is no global state: each server builds one Registry with New and
// hands its parts to what they measure — HTTP to the gateway, Ledger (a
// ledger.Observer) to the store's append queue. Another part of LogLine
// adds its own metrics the same way (see Register).
package metrics

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every LogLine metric: logline_<subsystem>_<name>,
// with base units (seconds, bytes) and _total on counters.
const Namespace = "logline"

// Registry is one server's metrics. Its methods are safe for concurrent
// use.
type Registry struct {
	reg    *prometheus.Registry
	http   *HTTP
	ledger *Ledger
	log    *slog.Logger
	serve  http.Handler // Handler's answer
}

// Config configures New. The zero value works.
type Config struct {
	// Logger receives errors met while serving a scrape; default
	// slog.Default().
	Logger *slog.Logger
}

// New builds a registry holding the gateway and ledger metrics and the Go
// runtime and process collectors.
func New(cfg Config) (*Registry, error) {
	r := &Registry{reg: prometheus.NewRegistry(), log: cfg.Logger}
	if r.log == nil {
		r.log = slog.Default()
	}
	r.http = newHTTP()
	r.ledger = newLedger()
	cs := []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	}
	cs = append(cs, r.http.collectors()...)
	cs = append(cs, r.ledger.collectors()...)
	if err := r.Register(cs...); err != nil {
		return nil, err
	}
	r.serve = promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{
		ErrorLog:      slogPrinter{r.log},
		ErrorHandling: promhttp.ContinueOnError,
	})
	return r, nil
}

// HTTP returns the gateway's request metrics.
func (r *Registry) HTTP() *HTTP { return r.http }

// Ledger returns the append path's metrics; it is the ledger.Observer to
// give a store (segment.Config.Observer, pgstore.Config.Observer).
func (r *Registry) Ledger() *Ledger { return r.ledger }

// Register adds collectors to the registry, so that GET /metrics and
// serve --metrics-listen serve them too. This is how another part of
// LogLine (the data plane's trajectory and quality metrics) exposes its
// own: define the metrics in a file of this package next to these (a
// struct of prometheus metrics built by a newX function, with methods that
// update them), give the package that measures a small interface it
// defines (as ledger.Observer), and wire both in `logline serve`. Names
// follow the same rules: Namespace, a subsystem, base units, _total on
// counters, and labels only with a bounded set of values (never a tenant,
// an id or a raw path). It fails when a name is registered twice.
func (r *Registry) Register(cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := r.reg.Register(c); err != nil {
			return fmt.Errorf("metrics: register: %w", err)
		}
	}
	return nil
}

// RegisterLogSize exposes size (the store's Size: entries in the log, the
// next log_index and the tree size) as logline_ledger_entries, read at
// every scrape. Call it once, after the store is open.
func (r *Registry) RegisterLogSize(size func() uint64) error {
	if size == nil {
		return errors.New("metrics: RegisterLogSize: nil size")
	}
	return r.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: Namespace, Subsystem: "ledger", Name: "entries",
		Help: "Entries in the log (its size: the next log_index, the Merkle tree size).",
	}, func() float64 { return float64(size()) }))
}

// Gatherer returns the registry for tests and tools that read the
// metrics without HTTP.
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// Handler serves the registry in the Prometheus text exposition format
// (or OpenMetrics/protobuf when the scraper asks for it). A collector
// that fails is logged and left out; the rest are still served.
func (r *Registry) Handler() http.Handler { return r.serve }

// slogPrinter adapts a slog.Logger to promhttp.Logger.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Println(v ...any) {
	p.log.Error("metrics: serving a scrape", "err", fmt.Sprint(v...))
}
