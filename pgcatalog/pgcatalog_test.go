package pgcatalog

import "testing"

func TestRelationsBuild(t *testing.T) {
	s := &Snapshot{Database: "db", Databases: []string{"db", "postgres"},
		Tables: []Table{{OID: TableOID(1), Name: "cpu", Columns: []Column{{Name: "time", Type: "timestamptz", NotNull: true, Kind: "time"}, {Name: "host", Type: "text", Kind: "tag"}}}},
		Views:  []View{{OID: ViewOID("v"), Name: "v", Definition: "SELECT 1", Columns: []Column{{Name: "x", Type: "int8"}}}}}
	for k := range relColumns {
		schema, name := splitRel(k)
		rec, err := Build(s, schema, name, nil)
		if err != nil {
			t.Fatal(k, err)
		}
		rec.Release()
	}
	f := func(oid int64, mod int64, want string) {
		t.Helper()
		if got := FormatType(oid, mod, true); got != want {
			t.Errorf("FormatType(%d, %d) = %q, want %q", oid, mod, got, want)
		}
	}
	f(1184, -1, "timestamp with time zone")
	f(1043, 14, "character varying(10)")
	f(1009, -1, "text[]")
	f(18, -1, `"char"`)
	f(1, -1, "???")
	if q := QuoteIdent("time"); q != `"time"` {
		t.Errorf("QuoteIdent(time) = %s", q)
	}
	if q := QuoteIdent("Cpu"); q != `"Cpu"` {
		t.Errorf("QuoteIdent(Cpu) = %s", q)
	}
}

func splitRel(k string) (string, string) {
	for i := range k {
		if k[i] == '.' {
			return k[:i], k[i+1:]
		}
	}
	return "", k
}
