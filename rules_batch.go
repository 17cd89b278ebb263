package ugnos

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Batches of threshold rules. Threshold rules of one database that read
// the same table over the same window at the same interval, selecting
// rows by the same tag names, are evaluated together: one query a round,
//
//	SELECT k1, …, agg1(f1) AS e0, … FROM t WHERE time >= now() - window
//	  AND k1 IN (values of the rules) AND … GROUP BY k1, …
//
// each distinct aggregate computed once, instead of one query per rule
// (1,000 rules every 10 s would otherwise plan and scan 100 times a
// second). Each rule then takes its row (its tag values) and column (its
// aggregate) and goes on exactly as if it had run its own query: a rule
// whose tags match no row gets what an aggregate over no rows gives (NULL;
// 0 for count). If the shared query fails (a tag or field the table lacks,
// a tag column that is not text), each rule of the batch runs its own
// query that round, so errors stay the rule's own.
//
// A batch has one loop, started with its first rule and stopped with its
// last; a rule that joins is first evaluated at the batch's next round.

type batchKey struct {
	tenant, table string
	window, every time.Duration
	tags          string // the tag names, sorted, \x00-separated
	owner         string // whose rights the query runs with
	ownerToken    bool
}

type ruleBatch struct {
	key     batchKey
	keys    []string // the tag names, sorted
	cancel  context.CancelFunc
	evalMu  sync.Mutex       // held for a round
	members map[RuleID]*rule // under ruleSet.batchMu
}

// batchKeyOf says whether a rule is evaluated in a batch, and which: a
// threshold rule with tags, none of them empty.
func batchKeyOf(r *rule) (batchKey, []string, bool) {
	d := r.def
	if d.Query != "" || d.Table == "" || len(d.Tags) == 0 || d.Every <= 0 {
		return batchKey{}, nil, false
	}
	keys := make([]string, 0, len(d.Tags))
	for k, v := range d.Tags {
		if v == "" {
			return batchKey{}, nil, false
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return batchKey{tenant: r.tenant, table: d.Table, window: ruleWindow(d).Truncate(time.Microsecond), every: d.Every, tags: strings.Join(keys, "\x00"), owner: r.owner, ownerToken: r.ownerToken}, keys, true
}

func ruleWindow(d RuleDefinition) time.Duration {
	if d.Window <= 0 {
		return d.Every
	}
	return d.Window
}

// ruleExpr is the aggregate of a threshold rule, as in its own query.
func ruleExpr(d RuleDefinition) string {
	agg, field := d.Aggregation, d.Field
	if agg == "" {
		agg = "avg"
	}
	if field == "" {
		field = "value"
	}
	if agg == "last" {
		return "last(" + quoteIdent(field) + ", time)"
	}
	return agg + "(" + quoteIdent(field) + ")"
}

// join adds a rule to its batch, starting the batch if it is the first.
func (rs *ruleSet) join(key batchKey, keys []string, r *rule) {
	done := make(chan struct{})
	rs.batchMu.Lock()
	b := rs.batches[key]
	if b == nil {
		b = rs.newBatch(key, keys)
	}
	b.members[r.id] = r
	rs.batchMu.Unlock()
	var once sync.Once
	r.done = done
	r.cancel = func() {
		once.Do(func() {
			rs.leave(b, r)
			close(done)
		})
	}
}

// leave removes a rule from its batch (stopping the batch if it was the
// last) and waits for a round in progress.
func (rs *ruleSet) leave(b *ruleBatch, r *rule) {
	b.evalMu.Lock() // a round in progress ends first
	defer b.evalMu.Unlock()
	rs.batchMu.Lock()
	defer rs.batchMu.Unlock()
	delete(b.members, r.id)
	if len(b.members) == 0 && rs.batches[b.key] == b {
		delete(rs.batches, b.key)
		b.cancel()
	}
}

// newBatch starts a batch's loop. Caller holds batchMu.
func (rs *ruleSet) newBatch(key batchKey, keys []string) *ruleBatch {
	ctx, cancel := context.WithCancel(rs.ctx)
	b := &ruleBatch{key: key, keys: keys, cancel: cancel, members: map[RuleID]*rule{}}
	rs.batches[key] = b
	rs.wg.Add(1)
	go func() {
		defer rs.wg.Done()
		t := time.NewTicker(key.every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				rs.evaluateBatch(ctx, b, now)
			}
		}
	}()
	return b
}

// evaluateBatch runs one round of a batch at now.
func (rs *ruleSet) evaluateBatch(ctx context.Context, b *ruleBatch, now time.Time) {
	b.evalMu.Lock()
	defer b.evalMu.Unlock()
	rs.batchMu.Lock()
	members := make([]*rule, 0, len(b.members))
	for _, r := range b.members {
		members = append(members, r)
	}
	rs.batchMu.Unlock()
	if len(members) == 0 {
		return
	}
	slices.SortFunc(members, func(x, y *rule) int { return int(x.id - y.id) })
	if !rs.acquire(ctx) {
		return
	}
	start := time.Now()
	groups, err := rs.db.batchGroups(ctx, b, members)
	took := time.Since(start)
	rs.release()
	if ctx.Err() != nil {
		return
	}
	if err != nil { // each rule on its own, for its own error
		for _, r := range members {
			rs.evaluate(ctx, r, now)
		}
		return
	}
	for i, r := range members {
		rs.apply(r, groups[i], nil, now, took)
	}
}

// batchSQL is the shared query of a batch's rules and, for each rule, the
// column of its aggregate (after the tag columns).
func batchSQL(b *ruleBatch, members []*rule) (string, []int) {
	var exprs []string
	col := map[string]int{}
	ruleCol := make([]int, len(members))
	values := make([][]string, len(b.keys))
	seen := make([]map[string]bool, len(b.keys))
	for k := range seen {
		seen[k] = map[string]bool{}
	}
	for i, r := range members {
		e := ruleExpr(r.def)
		j, ok := col[e]
		if !ok {
			j = len(exprs)
			col[e] = j
			exprs = append(exprs, e)
		}
		ruleCol[i] = len(b.keys) + j
		for k, name := range b.keys {
			if v := r.def.Tags[name]; !seen[k][v] {
				seen[k][v] = true
				values[k] = append(values[k], v)
			}
		}
	}
	var sb strings.Builder
	sb.WriteString("SELECT ")
	for _, name := range b.keys {
		sb.WriteString(quoteIdent(name) + ", ")
	}
	for j, e := range exprs {
		if j > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "%s AS e%d", e, j)
	}
	fmt.Fprintf(&sb, " FROM %s WHERE time >= now() - INTERVAL '%d microseconds'", quoteIdent(b.key.table), b.key.window.Microseconds())
	for k, name := range b.keys {
		slices.Sort(values[k])
		fmt.Fprintf(&sb, " AND %s IN (", quoteIdent(name))
		for i, v := range values[k] {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("'" + strings.ReplaceAll(v, "'", "''") + "'")
		}
		sb.WriteString(")")
	}
	sb.WriteString(" GROUP BY ")
	for k, name := range b.keys {
		if k > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(quoteIdent(name))
	}
	return sb.String(), ruleCol
}

// cell is one aggregate of one row of a batch's query, read as a rule's
// own query's "value" column would be.
type cell struct {
	text           string
	isText, hasNum bool
	num            float64
}

// batchGroups runs a batch's query and returns each member's groups, as
// its own query would have given them.
func (db *DB) batchGroups(ctx context.Context, b *ruleBatch, members []*rule) ([][]ruleGroup, error) {
	q, ruleCol := batchSQL(b, members)
	rd, err := db.SQL(WithSession(ctx, ruleSession(b.key.owner, b.key.ownerToken)), b.key.tenant, q)
	if err != nil {
		return nil, err
	}
	defer rd.Release()
	nk := len(b.keys)
	rows := map[string][]cell{} // by the tag values, \x00-separated
	for rd.Next() {
		rec := rd.RecordBatch()
		for i := 0; i < int(rec.NumRows()); i++ {
			vals := make([]string, nk)
			for k := range nk {
				v, ok := textValue(rec.Column(k), i)
				if !ok {
					return nil, fmt.Errorf("tag column %s is not text", b.keys[k])
				}
				vals[k] = v
			}
			cells := make([]cell, int(rec.NumCols())-nk)
			for j := range cells {
				c := &cells[j]
				col := rec.Column(nk + j)
				if c.text, c.isText = textValue(col, i); !c.isText {
					c.num, c.hasNum = numValue(col, i)
				}
			}
			rows[strings.Join(vals, "\x00")] = cells
		}
	}
	if err := rd.Err(); err != nil {
		return nil, err
	}
	out := make([][]ruleGroup, len(members))
	vals := make([]string, nk)
	for i, r := range members {
		for k, name := range b.keys {
			vals[k] = r.def.Tags[name]
		}
		g := ruleGroup{labels: map[string]string{}}
		if cells, ok := rows[strings.Join(vals, "\x00")]; ok {
			c := cells[ruleCol[i]-nk]
			switch {
			case c.isText:
				g.labels["value"] = c.text
			case c.hasNum:
				g.value, g.hasValue = c.num, true
			}
		} else if agg := r.def.Aggregation; agg == "count" { // over no rows
			g.hasValue = true
		}
		r.complete(&g)
		out[i] = []ruleGroup{g}
	}
	return out, nil
}
