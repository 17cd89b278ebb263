package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/httpapi"
	"github.com/ugnos/ugnos/pgwire"
)

// shutdownTimeout bounds how long in-flight HTTP requests may run after a
// shutdown signal before their connections are closed.
const shutdownTimeout = 10 * time.Second

// serveConfig is the configuration of ugnos serve after flags and
// environment variables are applied.
type serveConfig struct {
	dataDir   string
	pgAddr    string
	httpAddr  string
	sync      string
	syncMode  ugnos.SyncMode
	tlsCert   string
	tlsKey    string
	clientCA  string
	hbaFile   string
	hba       []pgwire.HBARule
	password  string
	memLimit  string
	memBytes  int64
	retent    string
	retention time.Duration
	logFormat string
}

// serveSetting is one setting of ugnos serve: a flag, the environment
// variable that backs it, and its default. A flag given on the command line
// beats the environment variable, which beats the default.
type serveSetting struct {
	flag, env, def, help string
	dst                  *string
}

func (c *serveConfig) settings() []serveSetting {
	return []serveSetting{
		{"data-dir", "UGNOS_DATA_DIR", "./ugnos-data", "data directory", &c.dataDir},
		{"pg-addr", "UGNOS_PG_ADDR", "127.0.0.1:5432", "PostgreSQL wire protocol address", &c.pgAddr},
		{"http-addr", "UGNOS_HTTP_ADDR", "127.0.0.1:8086", "HTTP API address (queries, /metrics, /health, /ready)", &c.httpAddr},
		{"sync", "UGNOS_SYNC", "always", "when writes are acknowledged: always (fsynced), interval or never", &c.sync},
		{"tls-cert", "UGNOS_TLS_CERT", "", "PEM certificate (chain) offered to PostgreSQL clients that ask for TLS", &c.tlsCert},
		{"tls-key", "UGNOS_TLS_KEY", "", "PEM private key of --tls-cert", &c.tlsKey},
		{"tls-client-ca", "UGNOS_TLS_CLIENT_CA", "", "PEM CA certificates that verify client certificates (hba method cert, clientcert=…)", &c.clientCA},
		{"hba-file", "UGNOS_HBA_FILE", "", "pg_hba.conf-style rules: which addresses, databases and users may connect over the PostgreSQL protocol, and how they authenticate", &c.hbaFile},
		{"password", "UGNOS_PASSWORD", "", "password of the superuser ugnos (PostgreSQL protocol: SCRAM-SHA-256; HTTP: Basic); turns on authentication, which listening beyond loopback requires", &c.password},
		{"memory-limit", "UGNOS_MEMORY_LIMIT", "", "bytes of rows kept in memory before they move to Parquet segments (e.g. 512MiB, 2GB; empty: no limit)", &c.memLimit},
		{"retention", "UGNOS_RETENTION", "", "default retention period of every table without its own (e.g. 90d, 12h; empty: keep everything)", &c.retent},
		{"log-format", "UGNOS_LOG_FORMAT", "text", "log output format on stderr: text or json", &c.logFormat},
	}
}

// parseServe reads the flags and environment of ugnos serve (an empty
// environment variable counts as unset). Errors are usage errors (exit code
// 2); flag.ErrHelp means -h was given.
func parseServe(args []string, getenv func(string) string, stderr io.Writer) (*serveConfig, error) {
	c := &serveConfig{}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	settings := c.settings()
	for _, s := range settings {
		fs.StringVar(s.dst, s.flag, s.def, fmt.Sprintf("%s (env %s)", s.help, s.env))
	}
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: ugnos serve [flags]\n\nFlags (a flag beats its environment variable, which beats the default):\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, s := range settings {
		if v := getenv(s.env); v != "" && !given[s.flag] {
			*s.dst = v
		}
	}
	return c, c.validate()
}

func (c *serveConfig) validate() error {
	if c.logFormat != "text" && c.logFormat != "json" {
		return fmt.Errorf("--log-format %q: want text or json", c.logFormat)
	}
	switch c.sync {
	case "always":
		c.syncMode = ugnos.SyncAlways
	case "interval":
		c.syncMode = ugnos.SyncInterval
	case "never":
		c.syncMode = ugnos.SyncNever
	default:
		return fmt.Errorf("--sync %q: want always, interval or never", c.sync)
	}
	if c.dataDir == "" {
		return errors.New("--data-dir is empty")
	}
	if c.memLimit != "" {
		n, err := parseBytes(c.memLimit)
		if err != nil {
			return fmt.Errorf("--memory-limit: %w", err)
		}
		c.memBytes = n
	}
	if c.retent != "" {
		d, err := parseDays(c.retent)
		if err != nil || d <= 0 {
			return fmt.Errorf("--retention %q: want a positive duration such as 90d, 36h or 1w", c.retent)
		}
		c.retention = d
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if c.clientCA != "" && c.tlsCert == "" {
		return errors.New("--tls-client-ca needs --tls-cert and --tls-key")
	}
	if c.hbaFile != "" {
		b, err := os.ReadFile(c.hbaFile)
		if err != nil {
			return fmt.Errorf("--hba-file: %w", err)
		}
		if c.hba, err = pgwire.ParseHBA(string(b)); err != nil {
			return fmt.Errorf("--hba-file %s: %w", c.hbaFile, err)
		}
		if len(c.hba) == 0 {
			return fmt.Errorf("--hba-file %s has no rules: every connection would be refused", c.hbaFile)
		}
	}
	// Listening beyond loopback requires authentication (DESIGN): a
	// password for the superuser ugnos, or hba rules for pgwire (HTTP then
	// takes the roles' passwords and API tokens).
	if !c.authenticates() {
		if err := checkLoopbackAddr(c.httpAddr); err != nil {
			return fmt.Errorf("--http-addr: %w (set --password to listen beyond loopback)", err)
		}
		if err := checkLoopbackAddr(c.pgAddr); err != nil {
			return fmt.Errorf("--pg-addr: %w (set --password or --hba-file to listen beyond loopback)", err)
		}
		return nil
	}
	for flag, addr := range map[string]string{"--pg-addr": c.pgAddr, "--http-addr": c.httpAddr} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("%s: %q is not host:port: %w", flag, addr, err)
		}
	}
	// trust is for loopback clients only (DESIGN): beyond it, a rule
	// that trusts other addresses would let anyone in
	if checkLoopbackAddr(c.pgAddr) != nil {
		for _, r := range c.hba {
			if r.Method == pgwire.AuthTrust && !loopbackOnly(r.Net) {
				return fmt.Errorf("--hba-file %s: line %d trusts addresses beyond loopback while --pg-addr %s is not loopback", c.hbaFile, r.Line, c.pgAddr)
			}
		}
	}
	return nil
}

// loopbackOnly reports whether every address of n is a loopback one
// (nil: all addresses).
func loopbackOnly(n *net.IPNet) bool {
	if n == nil || !n.IP.IsLoopback() {
		return false
	}
	ones, bits := n.Mask.Size()
	return bits == 32 && ones >= 8 || bits == 128 && ones == 128
}

// authenticates reports whether clients must authenticate.
func (c *serveConfig) authenticates() bool { return c.password != "" || len(c.hba) > 0 }

// tlsConfig is the server's TLS configuration for both listeners; nil
// without --tls-cert. With --tls-client-ca, clients may present
// certificates, which are verified against it.
func (c *serveConfig) tlsConfig() (*tls.Config, error) {
	if c.tlsCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.tlsCert, c.tlsKey)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if c.clientCA != "" {
		pem, err := os.ReadFile(c.clientCA)
		if err != nil {
			return nil, fmt.Errorf("--tls-client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-client-ca %s: no PEM certificates", c.clientCA)
		}
		tc.ClientCAs, tc.ClientAuth = pool, tls.VerifyClientCertIfGiven
	}
	return tc, nil
}

// checkLoopbackAddr accepts host:port where host is "localhost" or a
// loopback IP literal (127.0.0.0/8, ::1) and port is 0..65535.
func checkLoopbackAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %w", addr, err)
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || (p == 0 && port != "0") {
		return fmt.Errorf("%q: port %q is not a number in 0..65535", addr, port)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%q is not a loopback address; without a password ugnos listens only on 127.0.0.1, ::1 or localhost", addr)
}

// serve runs the server until SIGINT or SIGTERM and returns the exit code.
func serve(args []string, stderr io.Writer) int {
	cfg, err := parseServe(args, os.Getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "ugnos serve: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	if cfg.logFormat == "json" {
		log = slog.New(slog.NewJSONHandler(stderr, nil))
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := runServer(ctx, cfg, log); err != nil {
		log.Error("server stopped with an error", "err", err)
		return 1
	}
	return 0
}

// runServer serves HTTP until ctx is done: /health and /ready (503) from
// the start, the whole HTTP API and the PostgreSQL protocol once the
// database is open (its write-ahead log replayed). Then it shuts down
// gracefully: /ready turns 503, pgwire stops (running statements get
// shutdownTimeout), HTTP is drained, the database closed.
func runServer(ctx context.Context, cfg *serveConfig, log *slog.Logger) (err error) {
	log.Info("starting ugnos", "version", version, "data_dir", cfg.dataDir, "sync", cfg.sync)
	tlsCfg, err := cfg.tlsConfig()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.httpAddr)
	if err != nil {
		return fmt.Errorf("listen http: %w", err)
	}
	if tlsCfg != nil { // HTTPS
		ln = tls.NewListener(ln, tlsCfg)
	}
	gate := httpapi.NewGate(version, "replaying the write-ahead log")
	srv := &http.Server{
		Handler:           gate,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("http listening", "addr", ln.Addr().String(), "tls", tlsCfg != nil)
	if tlsCfg == nil && checkLoopbackAddr(cfg.httpAddr) != nil {
		log.Warn("HTTP listens beyond loopback without TLS: passwords and API tokens travel in the clear (set --tls-cert and --tls-key)")
	}

	start := time.Now()
	db, err := ugnos.Open(cfg.dataDir, ugnos.WithSyncMode(cfg.syncMode), ugnos.WithLogger(log),
		ugnos.WithMemoryLimit(cfg.memBytes), ugnos.WithDefaultRetention(cfg.retention))
	if err != nil {
		srv.Close()
		<-served
		return fmt.Errorf("open database %s: %w", cfg.dataDir, err)
	}
	rec := db.Recovery()
	log.Info("database open", "wal_segments", rec.Segments, "wal_records", rec.Records,
		"wal_truncated", rec.Truncated, "took", time.Since(start).Round(time.Millisecond))
	defer func() {
		if cerr := db.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close database: %w", cerr))
			return
		}
		log.Info("database closed")
	}()
	// from here on, failures stop the HTTP server too
	httpUp := true
	defer func() {
		if httpUp {
			srv.Close()
			<-served
		}
	}()

	var users map[string]string
	if cfg.password != "" {
		users = map[string]string{"ugnos": cfg.password}
	}
	pgCfg := pgwire.Config{Version: version, Logger: log, TLS: tlsCfg, HBA: cfg.hba}
	if cfg.password != "" {
		pgCfg.Auth, pgCfg.Users = pgwire.AuthSCRAM, users
	}
	pgSrv, err := pgwire.New(db, pgCfg)
	if err != nil {
		return fmt.Errorf("pgwire: %w", err)
	}
	pgLn, err := net.Listen("tcp", cfg.pgAddr)
	if err != nil {
		return fmt.Errorf("listen pgwire: %w", err)
	}
	pgServed := make(chan error, 1)
	go func() { pgServed <- pgSrv.Serve(pgLn) }()
	log.Info("pgwire listening", "addr", pgLn.Addr().String())

	api := httpapi.New(db, httpapi.Config{Version: version, Logger: log,
		Auth: httpapi.AuthConfig{Required: cfg.authenticates(), Users: users}})
	srv.RegisterOnShutdown(api.CloseStreams) // live streams end at once, not at the deadline
	gate.Open(api)
	log.Info("ready")

	var failed error
	select {
	case err := <-served:
		httpUp = false
		failed = fmt.Errorf("http server: %w", err)
		served <- err
	case err := <-pgServed:
		failed = fmt.Errorf("pgwire server: %w", err)
		pgServed <- err
	case <-ctx.Done():
	}
	gate.Drain("shutting down")
	log.Info("shutting down", "timeout", shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	// pgwire first: stop accepting, let running statements finish (or
	// cancel them at the deadline), close the connections
	if err := pgSrv.Shutdown(sctx); err != nil {
		log.Warn("pgwire shutdown timed out; running statements cancelled", "err", err)
	}
	if err := <-pgServed; err != nil && !errors.Is(err, pgwire.ErrServerClosed) && failed == nil {
		failed = fmt.Errorf("pgwire server: %w", err)
	}
	if failed != nil {
		return failed
	}
	httpUp = false
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		log.Warn("http shutdown timed out; connections closed", "err", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server: %w", err)
	}
	return nil
}

// parseBytes reads a size: a number of bytes with an optional unit (B, KB,
// MB, GB, TB in powers of 1000; KiB, MiB, GiB, TiB in powers of 1024).
func parseBytes(v string) (int64, error) {
	s := strings.TrimSpace(v)
	i := len(s)
	for i > 0 && (s[i-1] < '0' || s[i-1] > '9') {
		i--
	}
	num, unit := strings.TrimSpace(s[:i]), strings.ToLower(strings.TrimSpace(s[i:]))
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size (e.g. 512MiB, 2GB, 1073741824)", v)
	}
	mul := map[string]float64{"": 1, "b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
		"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[unit]
	if mul == 0 {
		return 0, fmt.Errorf("%q: unknown unit %q (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)", v, unit)
	}
	if n*mul > math.MaxInt64 {
		return 0, fmt.Errorf("%q is too large", v)
	}
	return int64(n * mul), nil
}

// parseDays reads a duration as time.ParseDuration does, plus the units d
// (24h) and w (7d).
func parseDays(v string) (time.Duration, error) {
	s := strings.TrimSpace(v)
	for _, u := range []struct {
		suffix string
		d      time.Duration
	}{{"d", 24 * time.Hour}, {"w", 7 * 24 * time.Hour}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(n, 64)
			if err != nil {
				return 0, err
			}
			return time.Duration(f * float64(u.d)), nil
		}
	}
	return time.ParseDuration(s)
}
