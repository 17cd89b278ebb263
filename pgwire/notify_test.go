package pgwire_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/ugnos/ugnos"
)

func TestListenNotify(t *testing.T) {
	ts := startServer(t)
	if err := ts.db.CreateDatabase("acme"); err != nil {
		t.Fatal(err)
	}
	lc := ts.connect(t, "acme")
	sc := ts.connect(t, "acme")
	if _, err := lc.Exec(ctx, "LISTEN events"); err != nil {
		t.Fatal(err)
	}
	wait := func(channel, payload string) {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		n, err := lc.WaitForNotification(wctx)
		if err != nil {
			t.Fatal(err)
		}
		if n.Channel != channel || payload != "" && n.Payload != payload {
			t.Fatalf("got %s %q, want %s %q", n.Channel, n.Payload, channel, payload)
		}
	}
	// delivered to an idle connection
	if _, err := sc.Exec(ctx, "NOTIFY events, 'hello'"); err != nil {
		t.Fatal(err)
	}
	wait("events", "hello")
	if _, err := sc.Exec(ctx, "SELECT pg_notify('events', 'via function')"); err != nil {
		t.Fatal(err)
	}
	wait("events", "via function")
	// other channels are not delivered; the listener's own NOTIFY is
	if _, err := sc.Exec(ctx, "NOTIFY other, 'x'"); err != nil {
		t.Fatal(err)
	}
	if _, err := lc.Exec(ctx, "NOTIFY events, 'self'"); err != nil {
		t.Fatal(err)
	}
	wait("events", "self")

	// a rule's Notify action
	if err := ts.db.Insert("acme", "cpu", time.Now().UnixNano(), 99, ugnos.TagSet{"host": "a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Exec(ctx, "SELECT ugnos_create_rule('hot', 'SELECT host, max(value) FROM cpu GROUP BY host', INTERVAL '50 milliseconds', INTERVAL '0 seconds', 'notify:events')"); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	n, err := lc.WaitForNotification(wctx)
	if err != nil {
		t.Fatal(err)
	}
	var ev ugnos.RuleEvent
	if err := json.Unmarshal([]byte(n.Payload), &ev); err != nil || ev.Rule != "hot" || ev.State != "firing" || ev.Value != 99 || ev.Labels["host"] != "a" {
		t.Fatalf("rule notification %q: %v", n.Payload, err)
	}
	var state string
	if err := sc.QueryRow(ctx, "SELECT state FROM ugnos.alerts WHERE rule = 'hot'").Scan(&state); err != nil || state != "firing" {
		t.Fatalf("ugnos.alerts: %q %v", state, err)
	}
	if _, err := sc.Exec(ctx, "SELECT ugnos_drop_rule('hot')"); err != nil {
		t.Fatal(err)
	}

	// after UNLISTEN nothing arrives
	if _, err := lc.Exec(ctx, "UNLISTEN *"); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Exec(ctx, "NOTIFY events, 'late'"); err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer scancel()
	if n, err := lc.WaitForNotification(sctx); err == nil {
		t.Fatalf("notification after UNLISTEN: %+v", n)
	}
}

func TestRetentionPolicyOverPgx(t *testing.T) {
	ts := startServer(t)
	if err := ts.db.Insert("acme", "cpu", time.Now().UnixNano(), 1, ugnos.TagSet{"host": "a"}); err != nil {
		t.Fatal(err)
	}
	c := ts.connect(t, "acme")
	var job int64
	if err := c.QueryRow(ctx, "SELECT add_retention_policy('cpu', INTERVAL '90 days')").Scan(&job); err != nil {
		t.Fatal(err)
	}
	var again int64
	if err := c.QueryRow(ctx, "SELECT add_retention_policy('cpu', INTERVAL '1 day', if_not_exists => true)").Scan(&again); err != nil || again != job {
		t.Fatalf("if_not_exists: %d %v", again, err)
	}
	if _, err := c.Exec(ctx, "SELECT add_retention_policy('cpu', INTERVAL '1 day')"); sqlState(err) != "42710" {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := c.Exec(ctx, "SELECT add_retention_policy('nope', INTERVAL '1 day')"); sqlState(err) != "42P01" {
		t.Fatalf("unknown table: %v", err)
	}
	var name, drop string
	if err := c.QueryRow(ctx, "SELECT table_name, drop_after::text FROM ugnos.retention_policies").Scan(&name, &drop); err != nil || name != "cpu" || drop != "90 days" {
		t.Fatalf("ugnos.retention_policies: %s %s %v", name, drop, err)
	}
	if p, _ := ts.db.Retention("acme", "cpu"); p != 90*24*time.Hour {
		t.Fatalf("retention %v", p)
	}
	if _, err := c.Exec(ctx, "SELECT remove_retention_policy('cpu', if_exists => true)"); err != nil {
		t.Fatal(err)
	}
	if p, _ := ts.db.Retention("acme", "cpu"); p != 0 {
		t.Fatalf("retention %v after remove", p)
	}
}
