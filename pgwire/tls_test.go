package pgwire_test

import (
	"crypto/tls"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ugnos/ugnos/internal/testcert"
	"github.com/ugnos/ugnos/pgwire"
)

func TestTLS(t *testing.T) {
	cert := testcert.NewCA(t, "ugnos test CA").Server(t).TLS
	ts := startServerWith(t, pgwire.Config{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}})
	for _, mode := range []string{"require", "disable"} {
		c, err := pgx.Connect(ctx, "postgres://ugnos@"+ts.addr+"/postgres?sslmode="+mode)
		if err != nil {
			t.Fatalf("sslmode=%s: %v", mode, err)
		}
		_, isTLS := c.PgConn().Conn().(*tls.Conn)
		var n int64
		if err := c.QueryRow(ctx, "SELECT 40 + 2").Scan(&n); err != nil || n != 42 {
			t.Fatalf("sslmode=%s: %d %v", mode, n, err)
		}
		if isTLS != (mode == "require") {
			t.Errorf("sslmode=%s: TLS %v", mode, isTLS)
		}
		c.Close(ctx)
	}
}
