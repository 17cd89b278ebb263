package ugnos_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zeebo/xxh3"
	"go.uber.org/goleak"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/internal/fuzzcheck"
	"github.com/ugnos/ugnos/internal/snaptest"
)

// FuzzSQL parses, plans and runs arbitrary statements against a small
// table: no input may panic, and every error must be a typed error with a
// SQLSTATE. Seeds: every statement of testdata/sql/*.slt.
//
//	go test -run '^$' -fuzz '^FuzzSQL$' -fuzztime 30s .
func FuzzSQL(f *testing.F) { fuzzSQL(f, false) }

// FuzzPlan is FuzzSQL without running anything: parse, bind and plan
// (through Describe, which also infers parameter types). It is quick and
// deterministic enough for the short run in make test.
//
//	go test -run '^$' -fuzz '^FuzzPlan$' -fuzztime 30s .
func FuzzPlan(f *testing.F) { fuzzSQL(f, true) }

func fuzzSQL(f *testing.F, planOnly bool) {
	files, _ := filepath.Glob("testdata/sql/*.slt")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for _, block := range strings.Split(string(b), "\n\n") {
			lines := strings.Split(strings.TrimSpace(block), "\n")
			if len(lines) < 2 || !(strings.HasPrefix(lines[0], "query") || strings.HasPrefix(lines[0], "statement")) {
				continue
			}
			var q []string
			for _, l := range lines[1:] {
				if l == "----" {
					break
				}
				q = append(q, l)
			}
			f.Add(strings.Join(q, "\n"))
		}
	}
	db, err := ugnos.Open("")
	if err != nil {
		f.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		"CREATE TABLE cpu (time timestamptz, hostname text, region text, usage_user double precision, usage_system double precision, n bigint, ok boolean, note varchar)",
		"INSERT INTO cpu VALUES ('2016-01-01 00:00:00+00', 'a', 'eu', 10, 1, 1, true, 'x'), ('2016-01-01 00:00:30+00', 'a', 'eu', 20, 2, 2, false, NULL), ('2016-01-01 00:00:00+00', 'b', NULL, NULL, 5, 5, NULL, 'y')",
		"CREATE TABLE hosts (time timestamptz, hostname text, cores bigint)",
		"INSERT INTO hosts VALUES ('2016-01-01 00:00:00+00', 'a', 4)",
	} {
		if _, err := db.Exec(context.Background(), "postgres", q); err != nil {
			f.Fatal(err)
		}
	}
	for _, q := range []string{
		"SELECT * FROM cpu WHERE " + strings.Repeat("(", 200) + "usage_user > 1" + strings.Repeat(")", 200),
		"SELECT " + strings.Repeat("(SELECT ", 50) + "1" + strings.Repeat(")", 50),
		"SELECT * FROM cpu a" + strings.Repeat(" JOIN cpu USING (time)", 8),
		"SELECT time_bucket('1 ns', time), count(*) FROM cpu WHERE time > '1677-09-22' GROUP BY 1",
		"SELECT time_bucket_gapfill('1 ns', time, '1970-01-01', '2262-04-11'), count(*) FROM cpu GROUP BY 1",
		"SELECT generate_series(1, 9223372036854775807)", "SELECT repeat('x', 2147483647)",
		"SELECT * FROM cpu ORDER BY 1 LIMIT 9223372036854775807 OFFSET 9223372036854775807",
		"SELECT \"\xff\", '\xc3\x28' FROM cpu", "SELECT $1, $2 FROM cpu WHERE n = $3",
		"INSERT INTO cpu (time, hostname) SELECT time, hostname FROM cpu",
		"WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT * FROM r",
	} {
		f.Add(q)
	}
	// what a statement may start for good: rules' and continuous
	// aggregates' background loops
	lasting := []goleak.Option{goleak.IgnoreAnyFunction("github.com/ugnos/ugnos.(*ruleSet).start.func1"),
		goleak.IgnoreAnyFunction("github.com/ugnos/ugnos.(*ruleSet).newBatch.func1"),
		goleak.IgnoreAnyFunction("github.com/ugnos/ugnos.(*caggSet).start.func1")}
	f.Fuzz(func(t *testing.T, q string) {
		defer fuzzcheck.Start(t, 30*time.Second, lasting...)()
		if planOnly {
			_, err := db.Describe(context.Background(), "postgres", q)
			var e *errs.Error
			if err != nil && (!errors.As(err, &e) || len(e.SQLState()) != 5) {
				t.Fatalf("untyped error for %q: %v", q, err)
			}
			return
		}
		if strings.Contains(strings.ToUpper(q), "DROP") || strings.Contains(strings.ToUpper(q), "TRUNCATE") || strings.Contains(strings.ToUpper(q), "DELETE") {
			return // keep the fixture for the next input
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		res, err := db.Exec(ctx, "postgres", q)
		if err == nil && res.Rows != nil {
			for res.Rows.Next() {
			}
			err = res.Rows.Err()
			res.Rows.Release()
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			var e *errs.Error
			if !errors.As(err, &e) || len(e.SQLState()) != 5 {
				t.Fatalf("untyped error for %q: %v", q, err)
			}
		}
	})
}

// FuzzRestoreSideFiles restores snapshots whose rules, alerts and
// continuous-aggregate files hold arbitrary bytes, with sizes and
// checksums made right in MANIFEST and SNAPSHOT (so the input reaches the
// code that reads them). Restore must succeed or fail with a typed error,
// never panic; when it fails, the database must keep its data and rules,
// and a data directory must still open.
//
//	go test -run '^$' -fuzz '^FuzzRestoreSideFiles$' -fuzztime 30s .
func FuzzRestoreSideFiles(f *testing.F) {
	src, err := ugnos.Open("")
	if err != nil {
		f.Fatal(err)
	}
	bg := context.Background()
	for _, q := range []string{
		"CREATE TABLE m (time timestamptz, host text, value double precision)",
		"INSERT INTO m VALUES ('2020-01-01 00:00:00+00', 'a', 1), ('2020-01-01 01:00:00+00', 'b', 2)",
		"CREATE MATERIALIZED VIEW m_1h WITH (ugnos.continuous) AS SELECT time_bucket('1 hour', time) AS bucket, host, avg(value) AS avg_v FROM m GROUP BY bucket, host",
	} {
		if _, err := src.Exec(bg, "postgres", q); err != nil {
			f.Fatal(err)
		}
	}
	if _, err := src.RegisterRule("postgres", ugnos.RuleDefinition{Name: "peak", Query: "SELECT host, max(value) FROM m GROUP BY host", Condition: ">", Threshold: 99, Every: time.Hour}); err != nil {
		f.Fatal(err)
	}
	base := filepath.Join(f.TempDir(), "snap")
	if err := src.Snapshot(base); err != nil {
		f.Fatal(err)
	}
	src.Close()
	side := func(name string) []byte {
		b, _ := os.ReadFile(filepath.Join(base, "files", name))
		return b
	}
	rules, alerts, caggs := side("rules.json"), side("alerts.json"), side("caggs.json")
	f.Add(rules, alerts, caggs)
	for _, bad := range [][]byte{nil, []byte("null"), []byte("{"), []byte("[]"), []byte(`{"rules":[{"id":-1}]}`), []byte("\xff\xfe"),
		[]byte(strings.Repeat("[", 10000)), []byte(`{"aggregates":[{"name":"","query":"SELECT 1/0","invalid":[[5,1]]}]}`)} {
		f.Add(bad, alerts, caggs)
		f.Add(rules, bad, caggs)
		f.Add(rules, alerts, bad)
	}
	f.Fuzz(func(t *testing.T, rules, alerts, caggs []byte) {
		defer fuzzcheck.Start(t, 60*time.Second)()
		snap := filepath.Join(t.TempDir(), "snap")
		snaptest.CopyTree(t, base, snap)
		fixSideFiles(t, snap, map[string][]byte{"rules.json": rules, "alerts.json": alerts, "caggs.json": caggs})
		if err := ugnos.VerifySnapshot(snap); err != nil {
			t.Fatalf("a snapshot with checksums made right does not verify: %v", err)
		}
		for _, dir := range []string{"", t.TempDir()} {
			db, err := ugnos.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(bg, "postgres", "CREATE TABLE old (time timestamptz, v bigint)"); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(bg, "postgres", "INSERT INTO old VALUES ('2020-01-01', 7)"); err != nil {
				t.Fatal(err)
			}
			rerr := db.Restore(snap)
			if rerr != nil {
				var e *errs.Error
				if !errors.As(rerr, &e) || len(e.SQLState()) != 5 {
					t.Fatalf("untyped error: %v", rerr)
				}
				if _, err := db.Exec(bg, "postgres", "SELECT v FROM old"); err != nil {
					t.Fatalf("restore failed (%v) and the old data is gone: %v", rerr, err)
				}
			}
			if err := db.Close(); err != nil && rerr == nil {
				t.Fatal(err)
			}
			if dir != "" {
				db, err := ugnos.Open(dir)
				if err != nil {
					t.Fatalf("restore (error %v) left a data directory that does not open: %v", rerr, err)
				}
				db.Close()
			}
		}
	})
}

// fixSideFiles replaces side files of the snapshot at snap and makes the
// sizes and checksums of MANIFEST and SNAPSHOT right again.
func fixSideFiles(t *testing.T, snap string, files map[string][]byte) {
	t.Helper()
	var man map[string]any
	mb, err := os.ReadFile(filepath.Join(snap, "MANIFEST"))
	if err == nil {
		err = decodeNumbers(mb, &man)
	}
	if err != nil {
		t.Fatal(err)
	}
	refs, _ := man["files"].([]any)
	for _, r := range refs {
		ref := r.(map[string]any)
		name := strings.TrimPrefix(ref["path"].(string), "files/")
		data, ok := files[name]
		if !ok {
			continue
		}
		if err := os.WriteFile(filepath.Join(snap, "files", name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		ref["size"], ref["xxh3"] = len(data), xxh3.Hash(data)
	}
	mb, _ = json.Marshal(man)
	if err := os.WriteFile(filepath.Join(snap, "MANIFEST"), mb, 0o644); err != nil {
		t.Fatal(err)
	}
	var info map[string]any
	sb, err := os.ReadFile(filepath.Join(snap, "SNAPSHOT"))
	if err == nil {
		err = decodeNumbers(sb, &info)
	}
	if err != nil {
		t.Fatal(err)
	}
	info["manifest"] = map[string]any{"path": "MANIFEST", "size": len(mb), "xxh3": xxh3.Hash(mb)}
	sb, _ = json.Marshal(info)
	if err := os.WriteFile(filepath.Join(snap, "SNAPSHOT"), sb, 0o644); err != nil {
		t.Fatal(err)
	}
}

// decodeNumbers is json.Unmarshal keeping numbers as written (checksums
// are uint64s, which float64 would round).
func decodeNumbers(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}
