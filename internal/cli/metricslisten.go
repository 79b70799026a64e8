package cli

import (
	"log/slog"
	"net"
	"net/http"

	"github.com/logline/logline/internal/metrics"
)

// checkMetricsListen accepts the address of serve --metrics-listen, which
// serves GET /metrics without a token: HOST:PORT where HOST is
// "localhost" or an IP literal that is loopback (127.0.0.0/8, ::1) or in a
// private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fc00::/7).
// An unspecified address (0.0.0.0, ::) would listen on every interface,
// public ones included, and a host name may resolve to anything: both
// are refused, as are public addresses. A scraper elsewhere uses GET
// /metrics on --addr with a token that grants admin.metrics.
func checkMetricsListen(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return usageErrorf("--metrics-listen %q: want HOST:PORT", addr)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	switch {
	case ip == nil:
		return usageErrorf("--metrics-listen %q: give an IP address (loopback or private network), not a host name: /metrics is served there without a token", addr)
	case ip.IsLoopback(), ip.IsPrivate():
		return nil
	case ip.IsUnspecified():
		return usageErrorf("--metrics-listen %q would listen on every interface, public ones too, and /metrics is served there without a token: give a loopback or private-network address (e.g. 127.0.0.1:9420, 10.0.0.5:9420)", addr)
	default:
		return usageErrorf("--metrics-listen %q is not a loopback or private-network address, and /metrics is served there without a token: scrape GET /metrics on --addr with a token granting admin.metrics instead", addr)
	}
}

// newMetricsServer serves reg's GET /metrics alone, without
// authentication (serve --metrics-listen); every other path is 404.
func newMetricsServer(reg *metrics.Registry, log *slog.Logger) *http.Server {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", reg.Handler())
	return &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}
