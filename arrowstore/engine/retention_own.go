package engine

import "time"

// OwnRetention returns the retention period set on the table itself (0:
// none; the tenant's default or Options.DefaultRetention may still
// apply), unlike Retention, which returns the period that applies.
func (e *Engine) OwnRetention(tenantName, tableName string) (time.Duration, error) {
	t, err := e.lookup(tenantName, tableName)
	if err != nil {
		return 0, err
	}
	return time.Duration(t.retention.Load()), nil
}
