package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/jackc/pgx/v5"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/errs"
)

// Backups: ugnos snapshot (through a running server, or offline on a data
// directory), ugnos restore (offline) and ugnos verify-snapshot.

const (
	snapshotUsage = `Usage:

	ugnos snapshot [--pg-addr host:port] [--user name] [--password pw] [--sslmode mode] PATH
	ugnos snapshot --data-dir DIR PATH

Takes a consistent snapshot of the whole database (every database/tenant)
into the directory PATH, which must not exist or be empty.

With --pg-addr (the default) it asks the running server, which writes the
snapshot on its own file system while writes go on (SELECT
ugnos_snapshot(PATH)); a relative PATH is made absolute against this
command's working directory. With --data-dir it opens the data directory
itself, which only works while no server runs on it. Only the --data-dir
flag selects the offline mode (UGNOS_DATA_DIR does not).

Flags (a flag beats its environment variable, which beats the default):
`
	restoreUsage = `Usage:

	ugnos restore --data-dir DIR PATH

Replaces the whole content of the data directory DIR (created if missing)
by the snapshot in PATH. The server must be stopped. The snapshot is
verified first: a damaged one is refused and DIR is left as it was.

Flags (a flag beats its environment variable; there is no default):
`
	verifyUsage = `Usage:

	ugnos verify-snapshot PATH

Checks a snapshot without restoring it: its SNAPSHOT file, the manifest's
checksum and the size and checksum of every file. Exit code 0 when it is
intact, 1 when it is damaged or incomplete.
`
)

// parseCommand parses the flags of a command and its positional
// arguments (flags may come before or after them), then applies the
// environment to the flags not given. It returns the positional arguments
// and the names of the flags given.
func parseCommand(name, usage string, settings []serveSetting, args []string, getenv func(string) string, stderr io.Writer) ([]string, map[string]bool, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	for _, s := range settings {
		help := s.help
		if s.env != "" {
			help += " (env " + s.env + ")"
		}
		fs.StringVar(s.dst, s.flag, s.def, help)
	}
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, s := range settings {
		if s.env == "" {
			continue
		}
		if v := getenv(s.env); v != "" && !given[s.flag] {
			*s.dst = v
		}
	}
	return pos, given, nil
}

// usageExit reports a parse error: 0 for -h, else 2.
func usageExit(cmd string, err error, stderr io.Writer) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(stderr, "ugnos %s: %v\n", cmd, err)
	return 2
}

type snapshotConfig struct {
	pgAddr, user, password, sslmode, dataDir string
}

func snapshotCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var c snapshotConfig
	settings := []serveSetting{
		{"pg-addr", "UGNOS_PG_ADDR", "127.0.0.1:5432", "address of the running server (PostgreSQL wire protocol)", &c.pgAddr},
		{"user", "UGNOS_USER", "ugnos", "user to connect as", &c.user},
		{"password", "UGNOS_PASSWORD", "", "password of --user, if the server asks for one", &c.password},
		{"sslmode", "UGNOS_SSLMODE", "prefer", "TLS to the server: disable, prefer, require, verify-ca or verify-full", &c.sslmode},
		{"data-dir", "", "", "take the snapshot offline from this data directory (no server may run on it)", &c.dataDir},
	}
	pos, given, err := parseCommand("snapshot", snapshotUsage, settings, args, getenv, stderr)
	if err != nil {
		return usageExit("snapshot", err, stderr)
	}
	if len(pos) != 1 || pos[0] == "" {
		return usageExit("snapshot", fmt.Errorf("want exactly one snapshot PATH, got %q", pos), stderr)
	}
	if given["data-dir"] && given["pg-addr"] {
		return usageExit("snapshot", errors.New("--data-dir and --pg-addr exclude each other"), stderr)
	}
	path, err := filepath.Abs(pos[0])
	if err != nil {
		fmt.Fprintf(stderr, "ugnos snapshot: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if given["data-dir"] {
		err = snapshotOffline(c.dataDir, path, stderr)
	} else {
		path, err = snapshotOnline(ctx, &c, path)
	}
	if err != nil {
		fmt.Fprintf(stderr, "ugnos snapshot: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "snapshot written to %s\n", path)
	return 0
}

// snapshotOnline asks the server at c.pgAddr for a snapshot into path and
// returns the path it wrote.
func snapshotOnline(ctx context.Context, c *snapshotConfig, path string) (string, error) {
	u := url.URL{Scheme: "postgres", Host: c.pgAddr, Path: "/postgres", RawQuery: url.Values{"sslmode": {c.sslmode}, "application_name": {"ugnos snapshot"}}.Encode()}
	if c.password != "" {
		u.User = url.UserPassword(c.user, c.password)
	} else {
		u.User = url.User(c.user)
	}
	cfg, err := pgx.ParseConfig(u.String())
	if err != nil {
		return "", fmt.Errorf("connection settings: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return "", fmt.Errorf("connect to the server at %s: %w", c.pgAddr, err)
	}
	defer conn.Close(context.Background())
	var out string
	if err := conn.QueryRow(ctx, "SELECT ugnos_snapshot($1)", path).Scan(&out); err != nil {
		return "", err
	}
	return out, nil
}

// snapshotOffline opens the data directory (which fails while a server
// holds it) and snapshots it into path.
func snapshotOffline(dataDir, path string, stderr io.Writer) error {
	if st, err := os.Stat(filepath.Join(dataDir, "wal")); err != nil || !st.IsDir() {
		return fmt.Errorf("%s is not a ugnos data directory (no wal/ in it)", dataDir)
	}
	db, err := openOffline(dataDir, "use --pg-addr to take the snapshot through the server", stderr)
	if err != nil {
		return err
	}
	err = db.Snapshot(path)
	if cerr := db.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close database: %w", cerr)
	}
	return err
}

// openOffline opens a data directory for a command that needs the server
// stopped; hint says what to do when a server holds it.
func openOffline(dataDir, hint string, stderr io.Writer) (*ugnos.DB, error) {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	db, err := ugnos.Open(dataDir, ugnos.WithLogger(log))
	if errs.SQLState(err) == errs.CodeObjectInUse {
		return nil, fmt.Errorf("data directory %s is locked: a server (or another ugnos command) is running on it; %s", dataDir, hint)
	}
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", dataDir, err)
	}
	return db, nil
}

func restoreCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var dataDir string
	settings := []serveSetting{
		{"data-dir", "UGNOS_DATA_DIR", "", "data directory to restore into (the server must be stopped)", &dataDir},
	}
	pos, _, err := parseCommand("restore", restoreUsage, settings, args, getenv, stderr)
	if err != nil {
		return usageExit("restore", err, stderr)
	}
	if len(pos) != 1 || pos[0] == "" {
		return usageExit("restore", fmt.Errorf("want exactly one snapshot PATH, got %q", pos), stderr)
	}
	if dataDir == "" {
		return usageExit("restore", errors.New("--data-dir (or UGNOS_DATA_DIR) is required"), stderr)
	}
	path := pos[0]
	if err := ugnos.VerifySnapshot(path); err != nil {
		fmt.Fprintf(stderr, "ugnos restore: refused, nothing was changed: %v\n", err)
		return 1
	}
	db, err := openOffline(dataDir, "stop the server before restoring", stderr)
	if err != nil {
		fmt.Fprintf(stderr, "ugnos restore: %v\n", err)
		return 1
	}
	err = db.Restore(path)
	if cerr := db.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close database: %w", cerr)
	}
	if errors.Is(err, ugnos.ErrCorrupt) {
		fmt.Fprintf(stderr, "ugnos restore: refused, nothing was changed: %v\n", err)
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "ugnos restore: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "restored %s into %s\n", path, dataDir)
	return 0
}

func verifyCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	pos, _, err := parseCommand("verify-snapshot", verifyUsage, nil, args, getenv, stderr)
	if err != nil {
		return usageExit("verify-snapshot", err, stderr)
	}
	if len(pos) != 1 || pos[0] == "" {
		return usageExit("verify-snapshot", fmt.Errorf("want exactly one snapshot PATH, got %q", pos), stderr)
	}
	if err := ugnos.VerifySnapshot(pos[0]); err != nil {
		fmt.Fprintf(stderr, "ugnos verify-snapshot: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "snapshot %s is intact\n", pos[0])
	return 0
}
