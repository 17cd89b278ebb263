package pgwire_test

import (
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ugnos/ugnos/pgwire"
)

func TestPasswordAuthentication(t *testing.T) {
	for _, method := range []string{pgwire.AuthPassword, pgwire.AuthMD5, pgwire.AuthSCRAM} {
		t.Run(method, func(t *testing.T) {
			ts := startServerWith(t, pgwire.Config{Auth: method, Users: map[string]string{"ugnos": "s3cret", "ann": "pässword"}})
			url := func(user, pw string) string {
				return "postgres://" + user + ":" + pw + "@" + ts.addr + "/postgres?sslmode=disable"
			}
			for _, ok := range [][2]string{{"ugnos", "s3cret"}, {"ann", "p%C3%A4ssword"}} {
				c, err := pgx.Connect(ctx, url(ok[0], ok[1]))
				if err != nil {
					t.Fatalf("%s: %v", ok[0], err)
				}
				var n int64
				if err := c.QueryRow(ctx, "SELECT 1").Scan(&n); err != nil || n != 1 {
					t.Fatalf("%s: query after login: %v", ok[0], err)
				}
				c.Close(ctx)
			}
			for _, bad := range [][2]string{{"ugnos", "wrong"}, {"nobody", "s3cret"}, {"ugnos", ""}} {
				if _, err := pgx.Connect(ctx, url(bad[0], bad[1])); sqlState(err) != "28P01" {
					t.Errorf("%s/%q: %v, want SQLSTATE 28P01", bad[0], bad[1], err)
				}
			}
		})
	}
	if _, err := pgwire.New(nil, pgwire.Config{Auth: pgwire.AuthSCRAM}); err == nil {
		t.Error("SCRAM without users was accepted")
	}
}
