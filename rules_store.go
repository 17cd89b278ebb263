package ugnos

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ugnos/ugnos/arrowstore/engine"
	"github.com/ugnos/ugnos/errs"
)

// Rules and recorded alerts are kept in rules.json and alerts.json in the
// data directory, each replaced atomically (temporary file, fsync,
// rename, directory fsync). A memory-only database keeps them in memory.

const (
	rulesFile  = "rules.json"
	alertsFile = "alerts.json"
)

type storedRules struct {
	NextID RuleID       `json:"next_id"`
	Rules  []storedRule `json:"rules"`
}

type storedRule struct {
	ID     RuleID         `json:"id"`
	Tenant string         `json:"database"`
	Def    RuleDefinition `json:"definition"`
	Owner  string         `json:"owner,omitempty"` // "": none (and files from before owners)
	// OwnerToken: Owner is an API token's name
	OwnerToken bool `json:"owner_token,omitempty"`
}

func (rs *ruleSet) save() error {
	if rs.db.dir == "" {
		return nil
	}
	rs.saveMu.Lock()
	defer rs.saveMu.Unlock()
	b, err := rs.encodeRules()
	if err != nil {
		return err
	}
	return writeFileAtomic(rs.db.dir, rulesFile, b)
}

func (rs *ruleSet) encodeRules() ([]byte, error) {
	rs.mu.Lock()
	st := storedRules{NextID: rs.nextID, Rules: []storedRule{}}
	rs.mu.Unlock()
	for _, r := range rs.list("") {
		st.Rules = append(st.Rules, storedRule{ID: r.id, Tenant: r.tenant, Def: r.def, Owner: r.owner, OwnerToken: r.ownerToken})
	}
	return json.MarshalIndent(st, "", "  ")
}

func (rs *ruleSet) encodeAlerts() ([]byte, error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.alerts == nil {
		return []byte("[]"), nil
	}
	return json.Marshal(rs.alerts)
}

func (rs *ruleSet) saveAlerts() error {
	if rs.db.dir == "" {
		return nil
	}
	rs.saveMu.Lock()
	defer rs.saveMu.Unlock()
	b, err := rs.encodeAlerts()
	if err != nil {
		return err
	}
	return writeFileAtomic(rs.db.dir, alertsFile, b)
}

// load reads the stored rules and alerts and starts the rules.
func (rs *ruleSet) load() error {
	if rs.db.dir == "" {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(rs.db.dir, rulesFile))
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("read rules: %w", err)
	}
	if err == nil {
		rules, next, err := rs.decodeRules(b)
		if err != nil {
			return err
		}
		rs.rules, rs.nextID = rules, max(rs.nextID, next)
	}
	if b, err := os.ReadFile(filepath.Join(rs.db.dir, alertsFile)); err == nil {
		_ = json.Unmarshal(b, &rs.alerts)
	}
	for _, r := range rs.list("") {
		rs.start(r)
	}
	return nil
}

// decodeRules reads rules.json (not started) and the next id.
func (rs *ruleSet) decodeRules(b []byte) (map[RuleID]*rule, RuleID, error) {
	var st storedRules
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, 0, errs.Wrap(errs.ErrCorrupt, errs.CodeDataCorrupted, err, "%s is damaged", rulesFile)
	}
	rules, next := map[RuleID]*rule{}, max(st.NextID, 1)
	for _, s := range st.Rules {
		if err := checkRuleDef(s.Def); err != nil { // never registered so: a zero interval would panic its ticker
			return nil, 0, errs.Wrap(errs.ErrCorrupt, errs.CodeDataCorrupted, err, "%s is damaged", rulesFile)
		}
		r, err := rs.db.newRule(context.Background(), s.Tenant, s.Def)
		if err != nil {
			// a query that no longer plans (a dropped table) still loads
			r = &rule{tenant: s.Tenant, def: s.Def, sql: s.Def.Query, groups: map[string]*alertGroup{}, lastErr: err.Error()}
			if s.Def.Query == "" {
				r.sql = thresholdSQL(s.Def)
			}
		}
		r.id, r.owner, r.ownerToken = s.ID, s.Owner, s.OwnerToken
		rules[r.id] = r
		next = max(next, r.id+1)
	}
	return rules, next, nil
}

// sideFiles are rules.json and alerts.json as they are now, for a
// snapshot (of a memory-only database too).
func (rs *ruleSet) sideFiles() ([]engine.SideFile, error) {
	rb, err := rs.encodeRules()
	if err != nil {
		return nil, err
	}
	ab, err := rs.encodeAlerts()
	if err != nil {
		return nil, err
	}
	return []engine.SideFile{{Name: rulesFile, Data: rb}, {Name: alertsFile, Data: ab}}, nil
}

// stopAll stops every rule's evaluation loop (waiting for evaluations in
// progress); startAll starts them again.
func (rs *ruleSet) stopAll() {
	for _, r := range rs.list("") {
		r.cancel()
		<-r.done
	}
}

func (rs *ruleSet) startAll() {
	rs.mu.Lock()
	closed := rs.closed
	rs.mu.Unlock()
	if closed {
		return
	}
	for _, r := range rs.list("") {
		rs.start(r)
	}
}

// replace puts the rules and alerts of a restored snapshot's side files
// in place of the current ones (stopped by stopAll) and starts them. A
// snapshot without rules.json (taken before snapshots carried rules)
// leaves the current rules and alerts as they are. Ids are never reused:
// the next id stays above every id given before.
func (rs *ruleSet) replace(side []engine.SideFile) error {
	var rb, ab []byte
	for _, f := range side {
		switch f.Name {
		case rulesFile:
			rb = f.Data
		case alertsFile:
			ab = f.Data
		}
	}
	if rb == nil {
		rs.startAll()
		return nil
	}
	rules, next, err := rs.decodeRules(rb)
	if err != nil {
		rs.startAll()
		return err
	}
	var alerts []RuleEvent
	if ab != nil {
		if err := json.Unmarshal(ab, &alerts); err != nil {
			alerts = nil
		}
	}
	rs.mu.Lock()
	rs.rules, rs.nextID, rs.alerts = rules, max(rs.nextID, next), alerts
	rs.mu.Unlock()
	err = rs.save() // the next id; the files are in place already
	rs.startAll()
	return err
}

// writeFileAtomic replaces dir/name by data: a temporary file written
// and fsynced, renamed over, then the directory fsynced.
func writeFileAtomic(dir, name string, data []byte) error {
	f, err := os.CreateTemp(dir, name+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", name, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
