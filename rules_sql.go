package ugnos

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/functions"
)

// SQL over rules and notifications:
//
//	SELECT ugnos_create_rule(name, query, every interval [, for interval [, action text]])  -- rule id
//	SELECT ugnos_drop_rule(name)
//	NOTIFY channel [, 'payload']  /  SELECT pg_notify(channel, payload)
//
// action is a webhook URL ('http://…'), 'notify:channel' or
// 'insert:table'. Rules are listed in ugnos.rules, their events in
// ugnos.alerts.
//
// An ordinary (non-superuser) role may create rules in a database it is
// connected to given SELECT on what the query reads and INSERT on an
// insert action's table (42501 otherwise; webhooks, which make the server
// post anywhere, need a superuser); the rule runs with its rights
// (rules.go). It may drop the rules it owns. So may an API token (over
// HTTP): the rule then runs with the token's privileges, none once it is
// revoked.

// minRuleEvery is the shortest interval at which an ordinary role's
// rules run (evaluation slots are shared by every database).
const minRuleEvery = 100 * time.Millisecond

func (s *pgSession) ruleFunctions() []*functions.Scalar {
	return []*functions.Scalar{
		{Name: "ugnos_create_rule", Volatile: true, Resolve: s.resolveCreateRule},
		{Name: "ugnos_drop_rule", Volatile: true, Resolve: func(a []functions.Type) (functions.Type, functions.Kernel, error) {
			if len(a) != 1 || !isText(a[0]) {
				return 0, nil, noSuchFunction("ugnos_drop_rule", a)
			}
			return functions.TBool, volatileKernel(functions.TBool, func(args []any) (any, error) {
				r := s.db.rules.byName(s.tenant, args[0].(string))
				if r == nil {
					return nil, errs.New(errs.ErrNotFound, errs.CodeUndefinedObject, "rule %q does not exist", args[0])
				}
				if !s.db.catalogFilter(s.client).owns(r.owner, r.ownerToken) {
					if err := s.db.authorizeSuperuser(s.client, "ugnos_drop_rule of a rule the role does not own"); err != nil {
						return nil, err
					}
				}
				return true, s.db.RemoveRule(s.tenant, r.id)
			}), nil
		}},
		{Name: "pg_notify", Volatile: true, Resolve: func(a []functions.Type) (functions.Type, functions.Kernel, error) {
			if len(a) != 2 || !isText(a[0]) || !isText(a[1]) {
				return 0, nil, noSuchFunction("pg_notify", a)
			}
			return functions.TText, volatileKernel(functions.TText, func(args []any) (any, error) {
				return "", s.db.notify(s.tenant, args[0].(string), args[1].(string), s.pid())
			}), nil
		}},
	}
}

func (s *pgSession) pid() int64 {
	if s.client != nil {
		return s.client.PID
	}
	return 0
}

func (s *pgSession) resolveCreateRule(a []functions.Type) (functions.Type, functions.Kernel, error) {
	ok := len(a) >= 3 && len(a) <= 5 && isText(a[0]) && isText(a[1]) && a[2] == functions.TInterval &&
		(len(a) < 4 || a[3] == functions.TInterval) && (len(a) < 5 || isText(a[4]))
	if !ok {
		return 0, nil, noSuchFunction("ugnos_create_rule", a)
	}
	return functions.TInt, volatileKernel(functions.TInt, func(args []any) (any, error) {
		def := RuleDefinition{Name: args[0].(string), Query: args[1].(string), Every: intervalDuration(args[2].(functions.Interval))}
		if _, ordinary := s.db.ordinaryRole(s.client); ordinary && def.Every < minRuleEvery {
			return nil, errs.New(errs.ErrInvalidInput, errs.CodeInvalidParameter, "rule %q: every must be at least %v for a role that is not a superuser", def.Name, minRuleEvery)
		}
		if len(args) > 3 {
			def.For = intervalDuration(args[3].(functions.Interval))
		}
		if len(args) > 4 {
			act, err := parseRuleAction(args[4].(string))
			if err != nil {
				return nil, err
			}
			if act.Webhook != nil {
				if err := s.db.authorizeSuperuser(s.client, "a rule with a webhook action"); err != nil {
					return nil, err
				}
			}
			if act.Insert != nil {
				if err := s.db.authorizeTable(s.client, s.tenant, act.Insert.Table, PrivInsert); err != nil {
					return nil, err
				}
			}
			def.Actions = []RuleAction{act}
		}
		// the query is planned with the session's rights (SELECT)
		id, err := s.db.registerRule(WithSession(s.context(), s.client), s.tenant, def)
		return int64(id), err
	}), nil
}

// parseRuleAction reads an action of ugnos_create_rule.
func parseRuleAction(s string) (RuleAction, error) {
	switch {
	case strings.HasPrefix(s, "http://"), strings.HasPrefix(s, "https://"):
		return RuleAction{Webhook: &WebhookAction{URL: s, Retries: 3}}, nil
	case strings.HasPrefix(s, "notify:"):
		return RuleAction{Notify: &NotifyAction{Channel: strings.TrimPrefix(s, "notify:")}}, nil
	case strings.HasPrefix(s, "insert:"):
		return RuleAction{Insert: &InsertAction{Table: strings.TrimPrefix(s, "insert:")}}, nil
	}
	return RuleAction{}, errs.New(errs.ErrInvalidInput, errs.CodeInvalidParameter, "rule action %q: want a webhook URL, notify:channel or insert:table", s)
}

// notifyStmt runs NOTIFY channel [, 'payload'].
func (db *DB) notifyStmt(tenant string, client *Session, n *pg.NotifyStmt) (*Result, error) {
	var pid int64
	if client != nil {
		pid = client.PID
	}
	return &Result{Tag: "NOTIFY"}, db.notify(tenant, n.GetConditionname(), n.GetPayload(), pid)
}

// ruleVisible: what an ordinary role sees of rules (f nil: all): those
// it owns, and those whose query it may run and whose insert actions
// write tables it sees, without webhooks (their URLs often hold secrets).
func (db *DB) ruleVisible(f *catalogFilter, client *Session, r *rule) bool {
	if f.owns(r.owner, r.ownerToken) {
		return true
	}
	for _, a := range r.def.Actions {
		if a.Webhook != nil || a.Insert != nil && !f.table(r.tenant, a.Insert.Table) {
			return false
		}
	}
	_, err := db.Describe(WithSession(context.Background(), client), r.tenant, r.sql)
	return err == nil
}

// ruleRecords builds ugnos.rules, ugnos.alerts and
// ugnos.retention_policies for a tenant.
func (t *ugnosTable) ruleRecord() (arrow.RecordBatch, error) {
	b := array.NewRecordBuilder(memory.DefaultAllocator, t.Schema())
	defer b.Release()
	str := func(i int, s string) { b.Field(i).(*array.StringBuilder).Append(s) }
	iv := func(i int, d int64) { // whole days as days, as an interval literal gives them
		const day = int64(24 * time.Hour)
		b.Field(i).(*array.MonthDayNanoIntervalBuilder).Append(arrow.MonthDayNanoInterval{Days: int32(d / day), Nanoseconds: d % day})
	}
	ts := func(i int, ns int64) { b.Field(i).(*array.TimestampBuilder).Append(arrow.Timestamp(ns)) }
	f := t.db.catalogFilter(t.client)
	switch t.name {
	case "rules":
		for _, r := range t.db.rules.list(t.tenant) {
			if !t.db.ruleVisible(f, t.client, r) {
				continue
			}
			r.mu.Lock()
			state := "inactive"
			for _, g := range r.groups {
				if g.firing {
					state = "firing"
					break
				}
				state = "pending"
			}
			acts, _ := json.Marshal(r.def.Actions)
			b.Field(0).(*array.Int64Builder).Append(int64(r.id))
			str(1, r.def.Name)
			str(2, r.sql)
			iv(3, int64(r.def.Every))
			iv(4, int64(r.def.For))
			str(5, string(acts))
			str(6, state)
			if r.lastEval.IsZero() {
				b.Field(7).AppendNull()
			} else {
				ts(7, r.lastEval.UnixNano())
			}
			if r.lastErr == "" {
				b.Field(8).AppendNull()
			} else {
				str(8, r.lastErr)
			}
			b.Field(9).(*array.Int64Builder).Append(r.evals)
			if r.owner == "" {
				b.Field(10).AppendNull()
			} else {
				str(10, r.ownerName())
			}
			r.mu.Unlock()
		}
	case "alerts":
		visible := map[RuleID]bool{}
		if f != nil {
			for _, r := range t.db.rules.list(t.tenant) {
				visible[r.id] = t.db.ruleVisible(f, t.client, r)
			}
		}
		for _, e := range t.db.Alerts(t.tenant) {
			if f != nil && !visible[e.RuleID] {
				continue
			}
			ts(0, e.At.UnixNano())
			b.Field(1).(*array.Int64Builder).Append(int64(e.RuleID))
			str(2, e.Rule)
			str(3, e.State)
			b.Field(4).(*array.Float64Builder).Append(e.Value)
			l, _ := json.Marshal(e.Labels)
			str(5, string(l))
		}
	case "retention_policies":
		def, err := t.db.eng.Retention(t.tenant, "")
		if err != nil {
			return nil, err
		}
		if def > 0 {
			b.Field(0).AppendNull()
			iv(1, int64(def))
			b.Field(2).AppendNull()
		}
		names, _ := t.db.eng.Tables(t.tenant)
		for _, name := range names {
			own, err := t.db.eng.OwnRetention(t.tenant, name)
			job, jerr := t.db.retentionJobID(t.tenant, name)
			if err != nil || jerr != nil || own <= 0 || !f.table(t.tenant, name) {
				continue
			}
			str(0, name)
			iv(1, int64(own))
			b.Field(2).(*array.Int64Builder).Append(job)
		}
	default:
		return nil, errs.New(errs.ErrInternal, errs.CodeInternal, "BUG: no system relation ugnos.%s", t.name)
	}
	return b.NewRecordBatch(), nil
}
