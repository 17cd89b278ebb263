package ugnos

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
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
}

func (rs *ruleSet) save() error {
	if rs.db.dir == "" {
		return nil
	}
	rs.saveMu.Lock()
	defer rs.saveMu.Unlock()
	rs.mu.Lock()
	st := storedRules{NextID: rs.nextID, Rules: []storedRule{}}
	rs.mu.Unlock()
	for _, r := range rs.list("") {
		st.Rules = append(st.Rules, storedRule{ID: r.id, Tenant: r.tenant, Def: r.def})
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(rs.db.dir, rulesFile, b)
}

func (rs *ruleSet) saveAlerts() error {
	if rs.db.dir == "" {
		return nil
	}
	rs.saveMu.Lock()
	defer rs.saveMu.Unlock()
	rs.mu.Lock()
	b, err := json.Marshal(rs.alerts)
	rs.mu.Unlock()
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
		var st storedRules
		if err := json.Unmarshal(b, &st); err != nil {
			return fmt.Errorf("decode %s: %w", rulesFile, err)
		}
		rs.nextID = max(st.NextID, 1)
		for _, s := range st.Rules {
			r, err := rs.db.newRule(s.Tenant, s.Def)
			if err != nil {
				// a query that no longer plans (a dropped table) still loads
				r = &rule{tenant: s.Tenant, def: s.Def, sql: s.Def.Query, groups: map[string]*alertGroup{}, lastErr: err.Error()}
				if s.Def.Query == "" {
					r.sql = thresholdSQL(s.Def)
				}
			}
			r.id = s.ID
			rs.rules[r.id] = r
			rs.nextID = max(rs.nextID, r.id+1)
		}
	}
	if b, err := os.ReadFile(filepath.Join(rs.db.dir, alertsFile)); err == nil {
		_ = json.Unmarshal(b, &rs.alerts)
	}
	for _, r := range rs.list("") {
		rs.start(r)
	}
	return nil
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
