package ugnos

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ugnos/ugnos/errs"
)

// Rules: alerting and continuous queries evaluated in the background.
// Each rule has its own goroutine that evaluates it every Every (one
// evaluation at a time per rule), through DB.Exec like any statement, so
// it holds no lock that writers need; threshold rules are evaluated in
// batches instead, one query for many rules (rules_batch.go). At most
// GOMAXPROCS rule queries run at once. A condition that holds for For
// fires the rule for that group of labels; when it stops holding the
// group resolves. Events (firing, resolved) go to ugnos.alerts and the
// rule's actions. Rules are stored in rules.json in the data directory
// (written atomically) and restarted by Open.
//
// A rule created over SQL by a role records it as its owner (grants.go):
// its query runs with the owner's rights and its insert action needs the
// owner's INSERT on the table, so an owner that loses them (REVOKE,
// ALTER ROLE … NOSUPERUSER, DROP ROLE) leaves the rule failing with
// 42501 in ugnos.rules.last_error, firing nothing, until granted again.

// RuleID identifies a rule; ids are never reused.
type RuleID int64

// RuleDefinition describes a rule. Give either Query, or Table with
// Field, Aggregation, Window, Condition and Threshold.
type RuleDefinition struct {
	Name string `json:"name"`
	// Query is SQL run at each evaluation. Each row is a group: its text
	// columns are the labels, its first numeric column the value. With a
	// Condition the group holds when value Condition Threshold; without,
	// every row returned holds ("firing").
	Query string `json:"query,omitempty"`

	// Table, Tags, Field, Aggregation, Window: the value is
	// Aggregation(Field) over the rows of Table carrying Tags with time in
	// the last Window.
	Table       string        `json:"table,omitempty"`
	Tags        TagSet        `json:"tags,omitempty"`
	Field       string        `json:"field,omitempty"`       // default "value"
	Aggregation string        `json:"aggregation,omitempty"` // avg, min, max, sum, count, last; default avg
	Window      time.Duration `json:"window,omitempty"`      // default Every

	Condition string  `json:"condition,omitempty"` // >, >=, <, <=, ==, !=
	Threshold float64 `json:"threshold,omitempty"`

	Every time.Duration `json:"every"`         // evaluation interval
	For   time.Duration `json:"for,omitempty"` // how long the condition must hold before firing

	Actions []RuleAction `json:"actions,omitempty"`
}

// RuleAction is one action of a rule; set one of its fields.
type RuleAction struct {
	Webhook *WebhookAction `json:"webhook,omitempty"`
	Insert  *InsertAction  `json:"insert,omitempty"`
	Notify  *NotifyAction  `json:"notify,omitempty"`
}

// WebhookAction posts each event as JSON ({rule, state, value, labels,
// at}) to URL, retrying failures (non-2xx, errors) Retries times with
// exponential back-off from Backoff. Deliveries run in their own
// goroutines: they never delay evaluation or writes.
type WebhookAction struct {
	URL     string        `json:"url"`
	Timeout time.Duration `json:"timeout,omitempty"` // per attempt; default 5s
	Retries int           `json:"retries,omitempty"`
	Backoff time.Duration `json:"backoff,omitempty"` // first retry delay; default 1s, doubling
}

// InsertAction writes each evaluated value as a row of Table (time: the
// evaluation time, tags: the group's labels, field "value"): a
// continuous query. It acts at every evaluation, not only on events.
type InsertAction struct {
	Table string `json:"table"`
}

// NotifyAction sends each event as a notification (payload: the event's
// JSON) on Channel of the rule's database, for LISTEN.
type NotifyAction struct {
	Channel string `json:"channel"`
}

// RuleEvent is a rule firing or resolving for a group.
type RuleEvent struct {
	Rule   string            `json:"rule"`
	RuleID RuleID            `json:"rule_id"`
	Tenant string            `json:"database"`
	State  string            `json:"state"` // "firing" or "resolved"
	Value  float64           `json:"value"`
	Labels map[string]string `json:"labels"`
	At     time.Time         `json:"at"`
}

// maxAlerts bounds ugnos.alerts (the newest are kept).
const maxAlerts = 1000

// maxWebhooks bounds webhook deliveries in flight; more are dropped.
const maxWebhooks = 64

var ruleAggs = []string{"avg", "min", "max", "sum", "count", "last"}

type ruleSet struct {
	db     *DB
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // rule goroutines and webhook deliveries
	hooks  chan struct{}  // webhook slots
	slots  chan struct{}  // evaluation slots: rule queries running at once

	batchMu sync.Mutex // batches and their members
	batches map[batchKey]*ruleBatch

	admin  sync.Mutex // held by RegisterRule, RemoveRule and Restore
	mu     sync.Mutex // rules, nextID, alerts; persisted under saveMu
	rules  map[RuleID]*rule
	nextID RuleID
	alerts []RuleEvent
	saveMu sync.Mutex
	closed bool
}

type rule struct {
	id     RuleID
	tenant string
	owner  string // the role whose rights it runs with; "": unrestricted
	// ownerToken: owner is an API token (a rule created over HTTP)
	ownerToken bool
	def        RuleDefinition
	sql        string // Query, or the one built from the threshold form
	cancel     context.CancelFunc
	done       chan struct{}

	mu       sync.Mutex // the fields below
	groups   map[string]*alertGroup
	lastEval time.Time
	lastDur  time.Duration // of the last evaluation's query
	lastErr  string
	evals    int64
}

type alertGroup struct {
	labels map[string]string
	since  time.Time
	firing bool
	value  float64
}

func newRuleSet(db *DB) *ruleSet {
	ctx, cancel := context.WithCancel(context.Background())
	return &ruleSet{db: db, ctx: ctx, cancel: cancel, hooks: make(chan struct{}, maxWebhooks), slots: make(chan struct{}, max(runtime.GOMAXPROCS(0), 1)),
		batches: map[batchKey]*ruleBatch{}, rules: map[RuleID]*rule{}, nextID: 1}
}

// RegisterRule adds a rule to a database and starts evaluating it; it is
// stored durably before RegisterRule returns. Names are unique per
// database.
func (db *DB) RegisterRule(tenant string, def RuleDefinition) (RuleID, error) {
	return db.registerRule(context.Background(), tenant, def)
}

// registerRule adds a rule for the session of ctx, its owner (none for
// the embedded API), whose rights the query is planned with.
func (db *DB) registerRule(ctx context.Context, tenant string, def RuleDefinition) (RuleID, error) {
	if err := checkName("database", tenant); err != nil {
		return 0, err
	}
	if !db.eng.HasTenant(tenant) {
		if _, err := db.eng.Tables(tenant); err != nil {
			return 0, err
		}
	}
	client := sessionFrom(ctx)
	owner, token := db.ownerOf(client), false
	if client != nil && client.Token != "" {
		owner, token = client.Token, true
	}
	r, err := db.newRule(WithSession(ctx, ruleSession(owner, token)), tenant, def)
	if err != nil {
		return 0, err
	}
	r.owner, r.ownerToken = owner, token
	rs := db.rules
	rs.admin.Lock()
	defer rs.admin.Unlock()
	rs.mu.Lock()
	if rs.closed {
		rs.mu.Unlock()
		return 0, errs.ErrClosed
	}
	for _, o := range rs.rules {
		if o.tenant == tenant && o.def.Name == def.Name {
			rs.mu.Unlock()
			return 0, errs.New(errs.ErrInvalidInput, "42710", "rule %q already exists", def.Name)
		}
	}
	r.id = rs.nextID
	rs.nextID++
	rs.rules[r.id] = r
	rs.mu.Unlock()
	if err := rs.save(); err != nil {
		rs.mu.Lock()
		delete(rs.rules, r.id)
		rs.mu.Unlock()
		return 0, err
	}
	rs.start(r)
	return r.id, nil
}

// RemoveRule stops a rule (waiting for an evaluation in progress) and
// removes it.
func (db *DB) RemoveRule(tenant string, id RuleID) error {
	rs := db.rules
	rs.admin.Lock()
	defer rs.admin.Unlock()
	rs.mu.Lock()
	r := rs.rules[id]
	if r == nil || r.tenant != tenant {
		rs.mu.Unlock()
		return errs.New(errs.ErrNotFound, errs.CodeUndefinedObject, "rule %d does not exist", id)
	}
	delete(rs.rules, id)
	rs.mu.Unlock()
	r.cancel()
	<-r.done
	return rs.save()
}

// Rules lists a database's rules by id.
func (db *DB) Rules(tenant string) map[RuleID]RuleDefinition {
	out := map[RuleID]RuleDefinition{}
	for _, r := range db.rules.list(tenant) {
		out[r.id] = r.def
	}
	return out
}

// Alerts returns the recorded events of a database's rules, oldest first
// (at most the newest 1000 of all databases are kept).
func (db *DB) Alerts(tenant string) []RuleEvent {
	rs := db.rules
	rs.mu.Lock()
	defer rs.mu.Unlock()
	var out []RuleEvent
	for _, e := range rs.alerts {
		if e.Tenant == tenant {
			out = append(out, e)
		}
	}
	return out
}

// RuleStatus is how a rule's evaluations went.
type RuleStatus struct {
	Evaluations  int64
	LastEval     time.Time     // when the last evaluation was due (zero: none yet)
	LastDuration time.Duration // how long its query took
	LastError    string        // "" when it succeeded
}

// RuleStatuses returns the evaluation status of a database's rules by id.
func (db *DB) RuleStatuses(tenant string) map[RuleID]RuleStatus {
	out := map[RuleID]RuleStatus{}
	for _, r := range db.rules.list(tenant) {
		r.mu.Lock()
		out[r.id] = RuleStatus{Evaluations: r.evals, LastEval: r.lastEval, LastDuration: r.lastDur, LastError: r.lastErr}
		r.mu.Unlock()
	}
	return out
}

func (rs *ruleSet) list(tenant string) []*rule {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	var out []*rule
	for _, r := range rs.rules {
		if tenant == "" || r.tenant == tenant {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

func (rs *ruleSet) byName(tenant, name string) *rule {
	for _, r := range rs.list(tenant) {
		if r.def.Name == name {
			return r
		}
	}
	return nil
}

// ruleSession is the session a rule of owner runs with.
func ruleSession(owner string, token bool) *Session {
	if token {
		return tokenOwnerSession(owner)
	}
	return ownerSession(owner)
}

// ownerName is the rule's owner as ugnos.rules shows it ("": none).
func (r *rule) ownerName() string {
	if r.ownerToken {
		return "token:" + r.owner
	}
	return r.owner
}

// newRule validates a definition and builds its SQL (planned with the
// rights of ctx's session).
func (db *DB) newRule(ctx context.Context, tenant string, def RuleDefinition) (*rule, error) {
	if err := checkRuleDef(def); err != nil {
		return nil, err
	}
	r := &rule{tenant: tenant, def: def, groups: map[string]*alertGroup{}}
	if def.Query != "" {
		if _, err := db.Describe(ctx, tenant, def.Query); err != nil {
			return nil, err
		}
		r.sql = def.Query
	} else {
		r.sql = thresholdSQL(def)
	}
	return r, nil
}

// checkRuleDef checks what a definition must be whatever the database
// holds (newRule then plans its query).
func checkRuleDef(def RuleDefinition) error {
	bad := func(format string, args ...any) error {
		return errs.New(errs.ErrInvalidInput, errs.CodeInvalidParameter, "rule %q: "+format, append([]any{def.Name}, args...)...)
	}
	if def.Name == "" {
		return errs.New(errs.ErrInvalidInput, errs.CodeInvalidParameter, "rule name is empty")
	}
	if def.Every <= 0 {
		return bad("every must be positive")
	}
	if def.For < 0 {
		return bad("for must not be negative")
	}
	if def.Condition != "" && !slices.Contains([]string{">", ">=", "<", "<=", "==", "!="}, def.Condition) {
		return bad("unknown condition %q (>, >=, <, <=, ==, !=)", def.Condition)
	}
	for _, a := range def.Actions {
		n := 0
		if a.Webhook != nil {
			n++
			if !strings.HasPrefix(a.Webhook.URL, "http://") && !strings.HasPrefix(a.Webhook.URL, "https://") {
				return bad("webhook URL %q is not http(s)", a.Webhook.URL)
			}
		}
		if a.Insert != nil {
			n++
			if a.Insert.Table == "" {
				return bad("insert action without a table")
			}
		}
		if a.Notify != nil {
			n++
			if a.Notify.Channel == "" {
				return bad("notify action without a channel")
			}
		}
		if n != 1 {
			return bad("an action must set exactly one of webhook, insert, notify")
		}
	}
	switch {
	case def.Query != "" && def.Table != "":
		return bad("give either a query or a table, not both")
	case def.Query != "":
	case def.Table != "":
		if def.Condition == "" {
			return bad("a threshold rule needs a condition")
		}
		if def.Aggregation != "" && !slices.Contains(ruleAggs, def.Aggregation) {
			return bad("unknown aggregation %q", def.Aggregation)
		}
	default:
		return bad("give a query or a table")
	}
	return nil
}

// thresholdSQL is the query of a threshold rule.
func thresholdSQL(def RuleDefinition) string {
	expr, window := ruleExpr(def), ruleWindow(def)
	var b strings.Builder
	fmt.Fprintf(&b, "SELECT %s AS value FROM %s WHERE time >= now() - INTERVAL '%d microseconds'", expr, quoteIdent(def.Table), window.Microseconds())
	keys := make([]string, 0, len(def.Tags))
	for k := range def.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, " AND %s = '%s'", quoteIdent(k), strings.ReplaceAll(def.Tags[k], "'", "''"))
	}
	return b.String()
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// start runs a rule's evaluation loop, or adds it to the batch of
// threshold rules it is evaluated with. Either way r.cancel stops it and
// r.done is closed once no evaluation of it is in progress or to come.
func (rs *ruleSet) start(r *rule) {
	if key, keys, ok := batchKeyOf(r); ok {
		rs.join(key, keys, r)
		return
	}
	ctx, cancel := context.WithCancel(rs.ctx)
	r.cancel, r.done = cancel, make(chan struct{})
	rs.wg.Add(1)
	go func() {
		defer rs.wg.Done()
		defer close(r.done)
		t := time.NewTicker(r.def.Every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				rs.evaluate(ctx, r, now)
			}
		}
	}()
}

// close stops every rule and webhook delivery and waits for them.
func (rs *ruleSet) close() {
	rs.mu.Lock()
	rs.closed = true
	rs.mu.Unlock()
	rs.cancel()
	rs.wg.Wait()
}

// record adds events to ugnos.alerts (bounded) and persists them.
func (rs *ruleSet) record(evs []RuleEvent) {
	rs.mu.Lock()
	rs.alerts = append(rs.alerts, evs...)
	if n := len(rs.alerts) - maxAlerts; n > 0 {
		rs.alerts = append(rs.alerts[:0:0], rs.alerts[n:]...)
	}
	rs.mu.Unlock()
	if err := rs.saveAlerts(); err != nil {
		slog.Warn("ugnos: cannot store alerts", "err", err)
	}
}
