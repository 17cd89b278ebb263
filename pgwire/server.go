package pgwire

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/sql"
)

// Config configures a Server.
type Config struct {
	// Version is ugnos's version, shown in server_version and version().
	Version string
	// Logger receives connection errors; nil discards them.
	Logger *slog.Logger
	// MaxMessageBytes bounds one protocol message (default 64 MiB); a
	// client sending a larger one gets an error and is disconnected.
	MaxMessageBytes int
	// TLS, when set, is offered to clients that ask (SSLRequest); without
	// it they are told to continue in the clear.
	TLS *tls.Config
	// Auth is the authentication method: AuthTrust (default), AuthPassword,
	// AuthMD5 or AuthSCRAM, checked against Users (name → password).
	Auth  string
	Users map[string]string
	// HBA, when set, decides per client address, database and user
	// whether and how a connection authenticates (hba.go), in place of
	// Auth.
	HBA []HBARule
}

// Server serves the PostgreSQL protocol for a DB.
type Server struct {
	db     *ugnos.DB
	cfg    Config
	log    *slog.Logger
	parser *sql.Parser // statement texts parse once
	auth   *authSecrets

	mu        sync.Mutex
	conns     map[uint32]*conn
	listeners map[net.Listener]struct{}
	closing   bool
	nextPID   atomic.Uint32

	wg sync.WaitGroup
}

// New returns a server for db. The database "postgres", where tools
// connect first, is created if it does not exist.
func New(db *ugnos.DB, cfg Config) (*Server, error) {
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = 64 << 20
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := CheckAuth(cfg.Auth, cfg.Users, cfg.HBA); err != nil {
		return nil, err
	}
	if err := db.CreateDatabase("postgres"); err != nil {
		return nil, err
	}
	auth, err := newAuthSecrets(cfg.Users)
	if err != nil {
		return nil, err
	}
	s := &Server{db: db, cfg: cfg, log: log, parser: sql.NewParser(4096), auth: auth, conns: map[uint32]*conn{}, listeners: map[net.Listener]struct{}{}}
	s.nextPID.Store(uint32(time.Now().UnixNano()%30000) + 1000)
	return s, nil
}

// ServerVersion is the server_version a client sees.
func (s *Server) ServerVersion() string { return "15.0 (ugnos " + s.cfg.Version + ")" }

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("pgwire: server closed")

// Serve accepts connections on l until Shutdown; each connection runs in
// its own goroutine.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()
	var delay time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			s.mu.Lock()
			closing := s.closing
			s.mu.Unlock()
			if closing {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		c := s.newConn(nc)
		if c == nil {
			nc.Close()
			return ErrServerClosed
		}
		go c.serve()
	}
}

func (s *Server) newConn(nc net.Conn) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil
	}
	var secret [4]byte
	_, _ = rand.Read(secret[:])
	pid := s.nextPID.Add(1)
	for s.conns[pid] != nil {
		pid = s.nextPID.Add(1)
	}
	c := &conn{srv: s, nc: nc, pid: pid, secret: binary.BigEndian.Uint32(secret[:]), portals: map[string]*portal{}, stmts: map[string]*prepared{}}
	c.be = pgproto3.NewBackend(nc, nc)
	c.be.SetMaxBodyLen(s.cfg.MaxMessageBytes)
	s.conns[pid] = c
	s.wg.Add(1)
	return c
}

func (s *Server) dropConn(c *conn) {
	s.mu.Lock()
	delete(s.conns, c.pid)
	s.mu.Unlock()
	s.wg.Done()
}

// cancel handles a CancelRequest: the query running on the connection
// with that process id and secret is cancelled; anything else is ignored,
// as PostgreSQL does.
func (s *Server) cancel(pid uint32, secret []byte) {
	s.mu.Lock()
	c := s.conns[pid]
	s.mu.Unlock()
	if c == nil || len(secret) != 4 || binary.BigEndian.Uint32(secret) != c.secret {
		return
	}
	c.cancelRunning(errUserCancel)
}

// Shutdown stops accepting connections, closes idle ones, lets running
// statements finish until ctx is done, then cancels them and closes every
// connection. It returns when all connections are gone.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	for l := range s.listeners {
		l.Close()
	}
	conns := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.shutdown()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	for _, c := range s.conns {
		c.cancelRunning(errShutdownCancel)
		c.nc.Close()
	}
	s.mu.Unlock()
	<-done
	return ctx.Err()
}
