package ugnos_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ugnos/ugnos"
)

// poll waits (up to 10 s) until cond holds.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type hookSink struct {
	mu     sync.Mutex
	events []ugnos.RuleEvent
	calls  atomic.Int64
	fail   atomic.Int64 // answer 500 to this many calls first
}

func (h *hookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.calls.Add(1)
	if h.fail.Add(-1) >= 0 {
		http.Error(w, "down", http.StatusInternalServerError)
		return
	}
	b, _ := io.ReadAll(r.Body)
	var ev ugnos.RuleEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.events = append(h.events, ev)
	h.mu.Unlock()
}

func (h *hookSink) got() []ugnos.RuleEvent {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]ugnos.RuleEvent(nil), h.events...)
}

// evaluations returns how often a rule has been evaluated.
func evaluations(t *testing.T, db *ugnos.DB, name string) int {
	t.Helper()
	rows, err := sltRunArgs2(db, "acme", "SELECT evaluations FROM ugnos.rules WHERE name = $1", name)
	if err != nil || len(rows) != 1 {
		t.Fatalf("ugnos.rules: %q %v", rows, err)
	}
	var n int
	for _, c := range rows[0] {
		n = n*10 + int(c-'0')
	}
	return n
}

func waitEvals(t *testing.T, db *ugnos.DB, name string, n int) {
	t.Helper()
	start := evaluations(t, db, name)
	poll(t, "evaluations", func() bool { return evaluations(t, db, name) >= start+n })
}

func thresholdRule(name, url string) ugnos.RuleDefinition {
	return ugnos.RuleDefinition{Name: name, Table: "cpu", Tags: ugnos.TagSet{"host": "a"}, Aggregation: "last",
		Window: time.Hour, Condition: ">", Threshold: 80, Every: 50 * time.Millisecond, For: 150 * time.Millisecond,
		Actions: []ugnos.RuleAction{{Webhook: &ugnos.WebhookAction{URL: url, Timeout: time.Second, Retries: 5, Backoff: 20 * time.Millisecond}}}}
}

func TestRuleWebhookFiresAndResolves(t *testing.T) {
	sink := &hookSink{}
	hs := httptest.NewServer(sink)
	defer hs.Close()
	db, err := ugnos.Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	t0 := time.Now().Add(-time.Minute).UnixNano()
	write := func(i int, v float64) {
		t.Helper()
		if err := db.Insert("acme", "cpu", t0+int64(i)*int64(time.Millisecond), v, ugnos.TagSet{"host": "a"}); err != nil {
			t.Fatal(err)
		}
	}
	write(0, 10)
	if _, err := db.RegisterRule("acme", thresholdRule("hot", hs.URL)); err != nil {
		t.Fatal(err)
	}
	waitEvals(t, db, "hot", 5) // below the threshold: nothing
	if ev := sink.got(); len(ev) != 0 {
		t.Fatalf("events below the threshold: %+v", ev)
	}
	write(1, 95)
	poll(t, "firing", func() bool { return len(sink.got()) == 1 })
	// pending for at least `for` (150ms at 50ms a round) before firing
	ev := sink.got()[0]
	if ev.Rule != "hot" || ev.State != "firing" || ev.Value != 95 || ev.Labels["host"] != "a" {
		t.Fatalf("firing event %+v", ev)
	}
	waitEvals(t, db, "hot", 3) // still above: no new event
	if n := len(sink.got()); n != 1 {
		t.Fatalf("%d events while firing", n)
	}
	write(2, 20)
	poll(t, "resolved", func() bool { return len(sink.got()) == 2 })
	ev = sink.got()[1]
	if ev.State != "resolved" || ev.Value != 20 {
		t.Fatalf("resolved event %+v", ev)
	}
	rows, err := sltRunArgs2(db, "acme", "SELECT rule, state, value, labels FROM ugnos.alerts ORDER BY at")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows, "|") != `hot firing 95 {"host":"a"}|hot resolved 20 {"host":"a"}` {
		t.Fatalf("ugnos.alerts: %q", rows)
	}
}

func TestRuleWebhookRetriesWhileIngesting(t *testing.T) {
	sink := &hookSink{}
	sink.fail.Store(3)
	hs := httptest.NewServer(sink)
	defer hs.Close()
	db, err := ugnos.Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now().UnixNano()
	if err := db.Insert("acme", "cpu", now, 99, ugnos.TagSet{"host": "a"}); err != nil {
		t.Fatal(err)
	}
	def := thresholdRule("retry", hs.URL)
	def.For = 0
	if _, err := db.RegisterRule("acme", def); err != nil {
		t.Fatal(err)
	}
	// writes go on while the webhook fails and backs off
	for i := 1; sink.calls.Load() < 4; i++ {
		if err := db.Insert("acme", "cpu", now+int64(i), 99, ugnos.TagSet{"host": "b"}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
		if i > 10000 {
			t.Fatal("webhook never retried")
		}
	}
	poll(t, "delivery after retries", func() bool { return len(sink.got()) == 1 })
	if got := sink.calls.Load(); got != 4 {
		t.Fatalf("%d calls, want 3 failures then 1 success", got)
	}
}

func TestRulePersistsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	db := openDir(t, dir)
	if err := db.Insert("acme", "cpu", time.Now().UnixNano(), 1, ugnos.TagSet{"host": "z"}); err != nil {
		t.Fatal(err)
	}
	id, err := db.RegisterRule("acme", thresholdRule("keep", "http://127.0.0.1:1/"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sltRunArgs2(db, "acme", "SELECT ugnos_create_rule('sqlrule', 'SELECT host, max(value) FROM cpu GROUP BY host', INTERVAL '1 hour', INTERVAL '0 seconds', 'notify:alerts')"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RegisterRule("acme", thresholdRule("keep", "http://127.0.0.1:1/")); sqlState(err) != "42710" {
		t.Fatalf("duplicate rule: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openDir(t, dir)
	defer db.Close()
	rules := db.Rules("acme")
	if len(rules) != 2 || rules[id].Name != "keep" || rules[id].Threshold != 80 || rules[id].For != 150*time.Millisecond {
		t.Fatalf("rules after reopen: %+v", rules)
	}
	rows, err := sltRunArgs2(db, "acme", "SELECT id, name, query, every::text, actions FROM ugnos.rules ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`1 keep SELECT last("value", time) AS value FROM "cpu" WHERE time >= now() - INTERVAL '3600000000 microseconds' AND "host" = 'a' 00:00:00.05 [{"webhook":{"url":"http://127.0.0.1:1/","timeout":1000000000,"retries":5,"backoff":20000000}}]`,
		`2 sqlrule SELECT host, max(value) FROM cpu GROUP BY host 01:00:00 [{"notify":{"channel":"alerts"}}]`,
	}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Fatalf("ugnos.rules:\n%s\nwant\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
	if rows, err := sltRunArgs2(db, "acme", "SELECT ugnos_drop_rule('sqlrule')"); err != nil || rows[0] != "true" {
		t.Fatal(rows, err)
	}
	if _, err := sltRunArgs2(db, "acme", "SELECT ugnos_drop_rule('sqlrule')"); sqlState(err) != "42704" {
		t.Fatalf("drop twice: %v", err)
	}
	if err := db.RemoveRule("acme", id); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db = openDir(t, dir)
	if n := len(db.Rules("acme")); n != 0 {
		t.Fatalf("%d rules after removing all", n)
	}
	// ids are not reused
	id2, err := db.RegisterRule("acme", thresholdRule("again", "http://127.0.0.1:1/"))
	if err != nil || id2 != 3 {
		t.Fatalf("id %d %v", id2, err)
	}
}

func TestRuleInsertAndNotify(t *testing.T) {
	db, err := ugnos.Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now().UnixNano()
	for _, h := range []string{"a", "b"} {
		if err := db.Insert("acme", "cpu", now, 7, ugnos.TagSet{"host": h}); err != nil {
			t.Fatal(err)
		}
	}
	l := db.NewListener("acme", 0)
	defer l.Close()
	l.Listen("cq")
	_, err = db.RegisterRule("acme", ugnos.RuleDefinition{Name: "cq", Query: "SELECT host, sum(value) FROM cpu GROUP BY host",
		Every: 50 * time.Millisecond, Actions: []ugnos.RuleAction{{Insert: &ugnos.InsertAction{Table: "cpu_sum"}}, {Notify: &ugnos.NotifyAction{Channel: "cq"}}}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for len(got) < 2 {
		select {
		case n := <-l.C():
			var ev ugnos.RuleEvent
			if err := json.Unmarshal([]byte(n.Payload), &ev); err != nil || ev.State != "firing" || ev.Value != 7 {
				t.Fatalf("notification %+v: %v", n, err)
			}
			got[ev.Labels["host"]] = true
		case <-time.After(10 * time.Second):
			t.Fatal("no notification")
		}
	}
	poll(t, "continuous query rows", func() bool {
		rows, err := sltRunArgs2(db, "acme", "SELECT host, value FROM cpu_sum ORDER BY host LIMIT 2")
		return err == nil && strings.Join(rows, ",") == "a 7,b 7"
	})
}

func TestRuleValidation(t *testing.T) {
	db, err := ugnos.Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.CreateDatabase("acme"); err != nil {
		t.Fatal(err)
	}
	for _, def := range []ugnos.RuleDefinition{
		{Name: "", Query: "SELECT 1", Every: time.Second},
		{Name: "x", Query: "SELECT 1"},
		{Name: "x", Query: "SELEC 1", Every: time.Second},
		{Name: "x", Table: "cpu", Every: time.Second},
		{Name: "x", Table: "cpu", Condition: "=>", Every: time.Second},
		{Name: "x", Query: "SELECT 1", Every: time.Second, Actions: []ugnos.RuleAction{{}}},
		{Name: "x", Query: "SELECT 1", Every: time.Second, Actions: []ugnos.RuleAction{{Webhook: &ugnos.WebhookAction{URL: "ftp://x"}}}},
	} {
		if _, err := db.RegisterRule("acme", def); err == nil {
			t.Errorf("%+v accepted", def)
		}
	}
	if err := db.RemoveRule("acme", 42); sqlState(err) != "42704" {
		t.Fatalf("remove unknown: %v", err)
	}
}
