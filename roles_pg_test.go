package ugnos_test

import (
	"testing"

	"github.com/ugnos/ugnos"
)

// TestSCRAMVerifiersMatchPostgreSQL: a verifier PostgreSQL 15 computes
// checks the same passwords in ugnos, and one ugnos computes is one
// PostgreSQL recognises as a verifier (it keeps it as is instead of
// hashing it as a password).
func TestSCRAMVerifiersMatchPostgreSQL(t *testing.T) {
	pgc := pgdConnect(t)
	for _, q := range []string{"SET password_encryption = 'scram-sha-256'", "CREATE ROLE r1 PASSWORD 'pässwörd 1'"} {
		if _, err := pgc.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	var theirs string
	if err := pgc.QueryRow(ctx, "SELECT rolpassword FROM pg_authid WHERE rolname = 'r1'").Scan(&theirs); err != nil {
		t.Fatal(err)
	}
	if _, err := ugnos.ParseSCRAMVerifier(theirs); err != nil {
		t.Fatalf("PostgreSQL's verifier %q: %v", theirs, err)
	}
	if !ugnos.CheckPassword(theirs, "pässwörd 1") || ugnos.CheckPassword(theirs, "pässwörd 2") || ugnos.CheckPassword(theirs, "") {
		t.Fatalf("passwords checked wrongly against PostgreSQL's verifier")
	}
	ours, err := ugnos.SCRAMVerifier("another one")
	must(t, err)
	if _, err := pgc.Exec(ctx, "CREATE ROLE r2 PASSWORD '"+ours+"'"); err != nil {
		t.Fatal(err)
	}
	var kept bool
	if err := pgc.QueryRow(ctx, "SELECT rolpassword = $1 FROM pg_authid WHERE rolname = 'r2'", ours).Scan(&kept); err != nil || !kept {
		t.Fatalf("PostgreSQL did not take ugnos's verifier %q as one: %v", ours, err)
	}
	// and ugnos keeps PostgreSQL's as is
	db, err := ugnos.Open("")
	must(t, err)
	defer db.Close()
	mustExec(t, db, "CREATE ROLE r1 LOGIN PASSWORD '"+theirs+"'")
	if r, ok := db.Role("r1"); !ok || r.Verifier != theirs || !r.Login {
		t.Fatalf("role r1: %+v", r)
	}
}
