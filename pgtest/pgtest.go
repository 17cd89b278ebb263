//go:build linux

// Package pgtest starts a throwaway PostgreSQL cluster for tests and
// benchmarks that compare ugnos with the real thing. It needs the server
// binaries (Debian package postgresql-15, or the directory in
// UGNOS_PG_BIN); when they are missing, Start skips the test, except under
// CI=true, where it fails it: CI must run the comparison. Launch is the
// same for programs (the bench module).
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultBinDir is where Debian's postgresql-15 package puts the server.
const DefaultBinDir = "/usr/lib/postgresql/15/bin"

// BinDir is the directory with initdb and postgres: $UGNOS_PG_BIN, or
// DefaultBinDir.
func BinDir() string {
	if d := os.Getenv("UGNOS_PG_BIN"); d != "" {
		return d
	}
	return DefaultBinDir
}

// Server is a running throwaway cluster: trust authentication, user
// postgres, database postgres, TCP on 127.0.0.1 only, fsync off, TimeZone
// UTC.
type Server struct {
	Dir     string // data directory, also the Unix socket directory
	Port    int
	ConnStr string // for pgx.Connect

	cmd  *exec.Cmd
	done chan struct{}
	err  error // process exit status, once done is closed
}

// Start starts a cluster and stops it when t's test ends. A cluster per
// `go test` process is plenty: call it once from the top-level test.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := BinDir()
	for _, name := range []string{"initdb", "postgres"} {
		if _, err := os.Stat(filepath.Join(bin, name)); err != nil {
			msg := fmt.Sprintf("PostgreSQL server binaries not found (%v); install postgresql-15 (apt-get install -y postgresql-15) or set UGNOS_PG_BIN", err)
			if os.Getenv("CI") == "true" {
				t.Fatal(msg + " — CI=true, so this test must run")
			}
			t.Skip(msg)
		}
	}
	s, err := start(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("pgtest: stop: %v", err)
		}
	})
	return s
}

// Launch starts a cluster; the caller must Stop it.
func Launch() (*Server, error) { return start(BinDir()) }

// cred returns the credentials to run the server with: the postgres OS user
// when running as root (initdb and postgres refuse root), else none.
func cred() (*syscall.Credential, int, int, error) {
	if os.Geteuid() != 0 {
		return nil, -1, -1, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, 0, 0, fmt.Errorf("running as root and no postgres OS user to run PostgreSQL as: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, uid, gid, nil
}

func start(bin string) (*Server, error) {
	c, uid, gid, err := cred()
	if err != nil {
		return nil, err
	}
	// The postgres user must reach the directory, and the Unix socket path
	// inside it must stay short (about 100 bytes at most).
	base := os.TempDir()
	if len(base) > 60 || (c != nil && !searchable(base)) {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, "ugnos-pg-")
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Server, error) {
		os.RemoveAll(dir)
		return nil, err
	}
	if c != nil {
		if err := os.Chown(dir, uid, gid); err != nil {
			return fail(err)
		}
	}
	env := append(os.Environ(), "LC_ALL=C", "LANG=C", "TZ=UTC")
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-A", "trust", "-U", "postgres",
		"--no-sync", "-E", "UTF8", "--locale=C")
	initdb.Dir = dir
	initdb.Env = env
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: c}
	if out, err := initdb.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("pgtest: initdb: %v\n%s", err, out))
	}
	var lastErr error
	for range 5 { // the free port may be taken between probing and binding
		port, err := freePort()
		if err != nil {
			return fail(err)
		}
		s, err := launch(bin, dir, data, port, env, c)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return fail(lastErr)
}

// searchable reports whether others may traverse dir and its parents.
func searchable(dir string) bool {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		if d == filepath.Dir(d) {
			return true
		}
	}
}

func launch(bin, dir, data string, port int, env []string, c *syscall.Credential) (*Server, error) {
	logPath := filepath.Join(dir, "postgres.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-p", strconv.Itoa(port),
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "timezone=UTC", "-c", "datestyle=ISO, MDY", "-c", "max_connections=20",
		"-c", "shared_buffers=64MB")
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	// Pdeathsig stops the server should the test process die without
	// cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("pgtest: start postgres: %w", err)
	}
	s := &Server{
		Dir:     dir,
		Port:    port,
		ConnStr: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port),
		cmd:     cmd,
		done:    make(chan struct{}),
	}
	go func() { s.err = cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-s.done:
			log, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("pgtest: postgres exited: %v\n%s", s.err, log)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, s.ConnStr)
		if err == nil {
			err = conn.Ping(ctx)
			conn.Close(ctx)
		}
		cancel()
		if err == nil {
			return s, nil
		}
		if time.Now().After(deadline) {
			s.stopProcess()
			log, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("pgtest: postgres did not accept connections within 60s: %v\n%s", err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// stopProcess asks the server for a smart shutdown (SIGTERM), then a fast one
// (SIGINT), then kills it.
func (s *Server) stopProcess() error {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGKILL} {
		if err := s.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return err
		}
		select {
		case <-s.done:
			return nil
		case <-time.After(10 * time.Second):
		}
	}
	<-s.done
	return nil
}

// Stop shuts the server down and removes its directory.
func (s *Server) Stop() error {
	err := s.stopProcess()
	if err == nil && s.err != nil {
		// A server stopped by our signal exits 0; anything else is worth a look.
		var ee *exec.ExitError
		if !errors.As(s.err, &ee) || !strings.Contains(ee.String(), "signal") {
			err = fmt.Errorf("postgres exited: %v", s.err)
		}
	}
	if rmErr := os.RemoveAll(s.Dir); err == nil {
		err = rmErr
	}
	return err
}
