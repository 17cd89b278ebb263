package ugnos_test

import (
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ugnos/ugnos"
)

// snapshotWithRules fills a database with a table, a threshold rule that
// fires (its webhook at url) and a query rule, waits for the firing
// event, and snapshots it to a new directory, returned with the ids.
func snapshotWithRules(t *testing.T, db *ugnos.DB, url string) (snap string, hot, sqlRule ugnos.RuleID) {
	t.Helper()
	if err := db.Insert("acme", "cpu", time.Now().UnixNano(), 95, ugnos.TagSet{"host": "a"}); err != nil {
		t.Fatal(err)
	}
	hot, err := db.RegisterRule("acme", thresholdRule("hot", url))
	if err != nil {
		t.Fatal(err)
	}
	sqlRule, err = db.RegisterRule("acme", ugnos.RuleDefinition{Name: "peak", Query: "SELECT host, max(value) FROM cpu GROUP BY host", Condition: ">", Threshold: 99, Every: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	poll(t, "the firing event", func() bool { return len(db.Alerts("acme")) > 0 })
	snap = filepath.Join(t.TempDir(), "snap")
	if err := db.Snapshot(snap); err != nil {
		t.Fatal(err)
	}
	if err := ugnos.VerifySnapshot(snap); err != nil {
		t.Fatal(err)
	}
	return snap, hot, sqlRule
}

func TestRulesSnapshotRestore(t *testing.T) {
	sink := &hookSink{}
	srv := httptest.NewServer(sink)
	defer srv.Close()
	src := openDir(t, t.TempDir())
	snap, hot, peak := snapshotWithRules(t, src, srv.URL)
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}

	for _, mode := range []string{"disk", "memory"} {
		t.Run(mode, func(t *testing.T) {
			dir := ""
			if mode == "disk" {
				dir = t.TempDir()
			}
			db, err := ugnos.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { db.Close() }()
			// a rule of its own, replaced by the snapshot's
			if err := db.Insert("acme", "mem", time.Now().UnixNano(), 1, nil); err != nil {
				t.Fatal(err)
			}
			own, err := db.RegisterRule("acme", ugnos.RuleDefinition{Name: "a", Query: "SELECT 1", Every: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			own2, err := db.RegisterRule("acme", ugnos.RuleDefinition{Name: "b", Query: "SELECT 1", Every: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			own3, err := db.RegisterRule("acme", ugnos.RuleDefinition{Name: "c", Query: "SELECT 1", Every: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			if own != 1 || own2 != 2 || own3 != 3 {
				t.Fatalf("ids %d %d %d", own, own2, own3)
			}
			if err := db.Restore(snap); err != nil {
				t.Fatal(err)
			}
			check := func(db *ugnos.DB) {
				t.Helper()
				rules := db.Rules("acme")
				if len(rules) != 2 || rules[hot].Name != "hot" || rules[hot].Threshold != 80 || rules[hot].For != 150*time.Millisecond ||
					rules[peak].Name != "peak" || rules[peak].Every != time.Hour {
					t.Fatalf("rules after restore: %+v", rules)
				}
				if al := db.Alerts("acme"); len(al) == 0 || al[0].Rule != "hot" || al[0].State != "firing" || al[0].Labels["host"] != "a" {
					t.Fatalf("alerts after restore: %+v", al)
				}
				waitEvals(t, db, "hot", 2) // the restored rule runs
				if st := db.RuleStatuses("acme")[hot]; st.LastError != "" {
					t.Fatalf("hot: %s", st.LastError)
				}
			}
			check(db)
			// ids are never reused: the next one is above the replaced rules'
			id, err := db.RegisterRule("acme", ugnos.RuleDefinition{Name: "d", Query: "SELECT 1", Every: time.Hour})
			if err != nil || id != 4 {
				t.Fatalf("id %d %v", id, err)
			}
			if err := db.RemoveRule("acme", id); err != nil {
				t.Fatal(err)
			}
			if dir == "" {
				return
			}
			// the restored rules.json and alerts.json are the data directory's
			db.Close()
			db = openDir(t, dir)
			check(db)
		})
	}
}

func TestRulesSnapshotTampered(t *testing.T) {
	db := openDir(t, t.TempDir())
	defer db.Close()
	snap, hot, _ := snapshotWithRules(t, db, "http://127.0.0.1:1/")
	for _, name := range []string{"rules.json", "alerts.json"} {
		p := filepath.Join(snap, "files", name)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		bad := append([]byte(nil), b...)
		bad[len(bad)/2] ^= 1 // same size, other content
		if err := os.WriteFile(p, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := ugnos.VerifySnapshot(snap); !errors.Is(err, ugnos.ErrCorrupt) {
			t.Fatalf("%s tampered: VerifySnapshot: %v", name, err)
		}
		if err := db.RemoveRule("acme", hot); err != nil {
			t.Fatal(err)
		}
		if err := db.Restore(snap); !errors.Is(err, ugnos.ErrCorrupt) {
			t.Fatalf("%s tampered: Restore: %v", name, err)
		}
		// nothing changed, and the rules run on
		if rules := db.Rules("acme"); len(rules) != 1 || rules[hot].Name != "" {
			t.Fatalf("rules after a refused restore: %+v", rules)
		}
		waitEvals(t, db, "peak", 0)
		id, err := db.RegisterRule("acme", thresholdRule("hot", "http://127.0.0.1:1/"))
		if err != nil {
			t.Fatal(err)
		}
		waitEvals(t, db, "hot", 1)
		hot = id
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// a missing side file is refused too
	if err := os.Remove(filepath.Join(snap, "files", "rules.json")); err != nil {
		t.Fatal(err)
	}
	if err := ugnos.VerifySnapshot(snap); !errors.Is(err, ugnos.ErrCorrupt) {
		t.Fatalf("rules.json missing: VerifySnapshot: %v", err)
	}
}
