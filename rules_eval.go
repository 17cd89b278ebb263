package ugnos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// evaluate runs one evaluation of a rule at now.
func (rs *ruleSet) evaluate(ctx context.Context, r *rule, now time.Time) {
	if !rs.acquire(ctx) {
		return
	}
	start := time.Now()
	groups, err := rs.db.ruleGroups(ctx, r)
	took := time.Since(start)
	rs.release()
	if ctx.Err() != nil {
		return
	}
	rs.apply(r, groups, err, now, took)
}

// acquire waits for one of the evaluation slots that bound how many rule
// queries run at once (false: ctx ended first); release gives it back.
func (rs *ruleSet) acquire(ctx context.Context) bool {
	select {
	case rs.slots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (rs *ruleSet) release() { <-rs.slots }

// apply records the outcome of an evaluation of a rule at now (its query's
// groups, or the error it gave) and runs the actions.
func (rs *ruleSet) apply(r *rule, groups []ruleGroup, err error, now time.Time, took time.Duration) {
	r.mu.Lock()
	r.lastEval, r.lastDur, r.evals = now, took, r.evals+1
	if err != nil {
		if err.Error() != r.lastErr { // logged when it starts failing, or fails otherwise
			slog.Warn("ugnos: rule evaluation failed", "database", r.tenant, "rule", r.def.Name, "owner", r.ownerName(), "err", err)
		}
		r.lastErr = err.Error()
		r.mu.Unlock()
		return
	}
	r.lastErr = ""
	var evs []RuleEvent
	event := func(state string, g *alertGroup) {
		evs = append(evs, RuleEvent{Rule: r.def.Name, RuleID: r.id, Tenant: r.tenant, State: state, Value: g.value, Labels: g.labels, At: now.UTC()})
	}
	seen := map[string]bool{}
	for _, g := range groups {
		if !g.holds {
			continue
		}
		key := labelKey(g.labels)
		seen[key] = true
		st := r.groups[key]
		if st == nil {
			st = &alertGroup{labels: g.labels, since: now}
			r.groups[key] = st
		}
		st.value = g.value
		if !st.firing && now.Sub(st.since) >= r.def.For {
			st.firing = true
			event("firing", st)
		}
	}
	for key, st := range r.groups {
		if seen[key] {
			continue
		}
		if st.firing {
			if v, ok := groupValue(groups, key); ok {
				st.value = v
			}
			event("resolved", st)
		}
		delete(r.groups, key)
	}
	r.mu.Unlock()
	rs.insert(r, groups, now)
	if len(evs) == 0 {
		return
	}
	rs.record(evs)
	for _, ev := range evs {
		rs.act(r, ev)
	}
}

// ruleGroup is one row of a rule's query.
type ruleGroup struct {
	labels   map[string]string
	value    float64
	hasValue bool
	holds    bool
}

func groupValue(gs []ruleGroup, key string) (float64, bool) {
	for _, g := range gs {
		if g.hasValue && labelKey(g.labels) == key {
			return g.value, true
		}
	}
	return 0, false
}

func labelKey(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "\x00" + l[k] + "\x00")
	}
	return b.String()
}

// ruleGroups runs the rule's query and reads its rows as groups.
func (db *DB) ruleGroups(ctx context.Context, r *rule) ([]ruleGroup, error) {
	rd, err := db.SQL(WithSession(ctx, ruleSession(r.owner, r.ownerToken)), r.tenant, r.sql)
	if err != nil {
		return nil, err
	}
	defer rd.Release()
	var out []ruleGroup
	for rd.Next() {
		rec := rd.RecordBatch()
		for i := 0; i < int(rec.NumRows()); i++ {
			g := ruleGroup{labels: map[string]string{}}
			for k, col := range rec.Columns() {
				name := rec.Schema().Field(k).Name
				if s, ok := textValue(col, i); ok {
					g.labels[name] = s
				} else if v, ok := numValue(col, i); ok && !g.hasValue {
					g.value, g.hasValue = v, true
				}
			}
			r.complete(&g)
			out = append(out, g)
		}
	}
	return out, rd.Err()
}

// complete finishes a group read from a row of the rule's query: the
// rule's tags are labels where the row has no column of that name, and
// the condition is tested.
func (r *rule) complete(g *ruleGroup) {
	for k, v := range r.def.Tags {
		if _, ok := g.labels[k]; !ok {
			g.labels[k] = v
		}
	}
	g.holds = r.def.Condition == "" || g.hasValue && compare(g.value, r.def.Condition, r.def.Threshold)
}

func textValue(col arrow.Array, i int) (string, bool) {
	if col.IsNull(i) {
		return "", false
	}
	switch a := col.(type) {
	case *array.String:
		return a.Value(i), true
	case *array.LargeString:
		return a.Value(i), true
	case *array.Dictionary:
		if d, ok := a.Dictionary().(*array.String); ok {
			return d.Value(a.GetValueIndex(i)), true
		}
	}
	return "", false
}

func numValue(col arrow.Array, i int) (float64, bool) {
	if col.IsNull(i) {
		return 0, false
	}
	switch a := col.(type) {
	case *array.Float64:
		return a.Value(i), true
	case *array.Int64:
		return float64(a.Value(i)), true
	case *array.Int32:
		return float64(a.Value(i)), true
	}
	return 0, false
}

func compare(v float64, op string, t float64) bool {
	switch op {
	case ">":
		return v > t
	case ">=":
		return v >= t
	case "<":
		return v < t
	case "<=":
		return v <= t
	case "==":
		return v == t
	case "!=":
		return v != t
	}
	return false
}

// insert runs the rule's Insert actions: each group's value as a row.
func (rs *ruleSet) insert(r *rule, groups []ruleGroup, now time.Time) {
	for _, a := range r.def.Actions {
		if a.Insert == nil {
			continue
		}
		var pts []Point
		for _, g := range groups {
			if g.hasValue && !math.IsNaN(g.value) && !math.IsInf(g.value, 0) {
				pts = append(pts, Point{Timestamp: now.UnixNano(), Value: g.value, Tags: g.labels})
			}
		}
		if len(pts) == 0 {
			continue
		}
		err := rs.db.authorizeTable(ruleSession(r.owner, r.ownerToken), r.tenant, a.Insert.Table, PrivInsert)
		if err == nil {
			err = rs.db.InsertBatch(r.tenant, a.Insert.Table, pts)
		}
		if err != nil {
			r.mu.Lock()
			r.lastErr = fmt.Sprintf("insert into %s: %v", a.Insert.Table, err)
			r.mu.Unlock()
		}
	}
}

// act runs the event actions (webhooks, notifications) of an event.
func (rs *ruleSet) act(r *rule, ev RuleEvent) {
	body, err := json.Marshal(ev)
	if err != nil {
		return
	}
	for _, a := range r.def.Actions {
		switch {
		case a.Notify != nil:
			if err := rs.db.notify(r.tenant, a.Notify.Channel, string(body), 0); err != nil {
				slog.Warn("ugnos: rule notification not sent", "rule", r.def.Name, "err", err)
			}
		case a.Webhook != nil:
			select {
			case rs.hooks <- struct{}{}:
			default:
				slog.Warn("ugnos: webhook dropped: too many deliveries in flight", "rule", r.def.Name, "url", a.Webhook.URL)
				continue
			}
			rs.wg.Add(1)
			go func(w WebhookAction) {
				defer rs.wg.Done()
				defer func() { <-rs.hooks }()
				rs.post(w, r.def.Name, body)
			}(*a.Webhook)
		}
	}
}

// post delivers a webhook, retrying with exponential back-off.
func (rs *ruleSet) post(w WebhookAction, name string, body []byte) {
	timeout, backoff := w.Timeout, w.Backoff
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	if backoff <= 0 {
		backoff = time.Second
	}
	var last error
	for try := 0; try <= w.Retries; try++ {
		if try > 0 {
			select {
			case <-rs.ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Minute)
		}
		if last = postOnce(rs.ctx, w.URL, timeout, body); last == nil {
			return
		}
	}
	slog.Warn("ugnos: webhook failed", "rule", name, "url", w.URL, "tries", w.Retries+1, "err", last)
}

func postOnce(ctx context.Context, url string, timeout time.Duration, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("status %s", resp.Status)
	}
	return nil
}
