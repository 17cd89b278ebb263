package ugnos_test

import (
	"bufio"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ugnos/ugnos"
)

const caggCrashEnv = "UGNOS_CAGG_CRASH_CHILD" // data directory: run as the child

// TestCaggCrashChild is the process TestCaggCrashKill9 kills: it writes
// late points and deletes into a table with continuous aggregates that
// refresh every 100-150ms, with frequent checkpoints (each truncating the WAL
// whose writes invalidated buckets) and explicit refreshes, until killed.
func TestCaggCrashChild(t *testing.T) {
	dir := os.Getenv(caggCrashEnv)
	if dir == "" {
		t.Skip("helper process of TestCaggCrashKill9")
	}
	seed, _ := strconv.ParseInt(os.Getenv(caggCrashEnv+"_SEED"), 10, 64)
	db, err := ugnos.Open(dir, ugnos.WithCheckpointWAL(64<<10))
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	r := rand.New(rand.NewSource(seed))
	if err := db.InsertBatch("acme", "m", caggPoints(500, r, 72*time.Hour)); err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	for _, q := range []string{
		"CREATE MATERIALIZED VIEW IF NOT EXISTS m_1h WITH (ugnos.continuous, ugnos.refresh_interval = '100ms') AS " + caggDef,
		"CREATE MATERIALIZED VIEW IF NOT EXISTS m_10m WITH (ugnos.continuous, ugnos.refresh_interval = '150ms') AS " + strings.ReplaceAll(caggDef, "'1 hour'", "'10 minutes'"),
	} {
		if _, err := db.Exec(ctx, "acme", q); err != nil {
			fmt.Println(err)
			os.Exit(2)
		}
	}
	fmt.Println("ready")
	for i := 0; ; i++ {
		var err error
		switch x := r.Intn(20); {
		case x < 14:
			err = db.InsertBatch("acme", "m", caggPoints(1+r.Intn(40), r, 72*time.Hour))
		case x < 17:
			lo := time.Unix(0, base+r.Int63n(int64(72*time.Hour))).UTC()
			_, err = db.Exec(ctx, "acme", fmt.Sprintf("DELETE FROM m WHERE host = 'h%d' AND time >= '%s' AND time < '%s'",
				r.Intn(4), lo.Format(time.RFC3339Nano), lo.Add(2*time.Hour).Format(time.RFC3339Nano)))
		case x < 19:
			_, err = db.Exec(ctx, "acme", "REFRESH MATERIALIZED VIEW m_1h")
		default:
			_, err = db.Exec(ctx, "acme", "CHECKPOINT")
		}
		if err != nil {
			fmt.Println(err)
			os.Exit(2)
		}
	}
}

// TestCaggCrashKill9: after SIGKILL at a random moment — mid-refresh,
// mid-checkpoint, mid-write — each reopened database's continuous
// aggregates equal their queries computed from scratch over what the
// raw table holds, and stay equal after a refresh.
func TestCaggCrashKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes")
	}
	dir := t.TempDir()
	rounds := 6
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewSource(seed))
	for round := 0; round < rounds; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCaggCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), caggCrashEnv+"="+dir, caggCrashEnv+"_SEED="+strconv.FormatInt(r.Int63(), 10))
		out, err := cmd.StdoutPipe()
		must(t, err)
		cmd.Stderr = os.Stderr
		must(t, cmd.Start())
		ready := make(chan string, 1)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if sc.Text() == "ready" {
					ready <- ""
				} else {
					ready <- sc.Text()
				}
			}
		}()
		select {
		case msg := <-ready:
			if msg != "" {
				cmd.Process.Kill()
				t.Fatalf("round %d: child: %s", round, msg)
			}
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("round %d: child not ready", round)
		}
		time.Sleep(time.Duration(100+r.Intn(700)) * time.Millisecond)
		select {
		case msg := <-ready:
			cmd.Process.Kill()
			t.Fatalf("round %d: child: %s", round, msg)
		default:
		}
		must(t, cmd.Process.Kill())
		cmd.Wait()

		db, err := ugnos.Open(dir)
		must(t, err)
		caggEqual(t, db, "m_1h", caggDef)
		caggEqual(t, db, "m_10m", strings.ReplaceAll(caggDef, "'1 hour'", "'10 minutes'"))
		mustExec(t, db, "REFRESH MATERIALIZED VIEW m_1h")
		mustExec(t, db, "REFRESH MATERIALIZED VIEW m_10m")
		caggEqual(t, db, "m_1h", caggDef)
		caggEqual(t, db, "m_10m", strings.ReplaceAll(caggDef, "'1 hour'", "'10 minutes'"))
		// only the materialized part: what the crash may have left stale
		// would show here after the refresh
		mat := caggRows(t, db, `SELECT "time", host, avg_v, max_v, n FROM _cagg_m_1h`)
		want := caggRows(t, db, caggDef)
		if strings.Join(mat, "\n") != strings.Join(want, "\n") {
			t.Fatalf("round %d: materialization after refresh differs: %d rows vs %d", round, len(mat), len(want))
		}
		must(t, db.Close())
	}
}
