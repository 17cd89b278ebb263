package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/httpapi"
	"github.com/ugnos/ugnos/internal/syncbuf"
)

// authServer serves a database with the tenants acme and other (a table
// cpu in each, one row) behind required authentication, with the roles
// nobody, reader, writer and admin (as pgwire's TestPrivilegeMatrix) and
// API tokens read and write for acme. It returns the tokens' secrets.
func authServer(t *testing.T, log *slog.Logger) (*ugnos.DB, *httptest.Server, map[string]string) {
	t.Helper()
	db, err := ugnos.Open(t.TempDir(), ugnos.WithSyncMode(ugnos.SyncNever))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	for _, tenant := range []string{"acme", "other"} {
		if err := db.CreateDatabase(tenant); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{"CREATE TABLE cpu (time timestamptz, host text, v double precision)",
			"INSERT INTO cpu VALUES ('2024-01-01 00:00:00+00', 'a', 1)"} {
			if _, err := db.Exec(ctx, tenant, q); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, q := range []string{
		"CREATE USER nobody PASSWORD 'pw'",
		"CREATE USER reader PASSWORD 'pw'", "GRANT CONNECT ON DATABASE acme TO reader", "GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader",
		"CREATE USER writer PASSWORD 'pw'", "GRANT CONNECT ON DATABASE acme TO writer", "GRANT SELECT, INSERT, DELETE ON cpu TO writer",
		"CREATE USER admin SUPERUSER PASSWORD 'pw'",
		"CREATE ROLE nologin PASSWORD 'pw'",
	} {
		if _, err := db.Exec(ctx, "acme", q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	tokens := map[string]string{}
	for _, scope := range []string{"read", "write"} {
		secret, err := db.CreateToken(scope, "acme", scope)
		if err != nil {
			t.Fatal(err)
		}
		tokens[scope] = secret
	}
	ts := httptest.NewServer(httpapi.New(db, httpapi.Config{Logger: log,
		Auth: httpapi.AuthConfig{Required: true, Users: map[string]string{"ugnos": "root-pw"}}}))
	t.Cleanup(ts.Close)
	return db, ts, tokens
}

// credential is how a test principal authenticates.
type credential struct {
	name     string
	set      func(r *http.Request)
	grants   string // none, read, write, admin
	rejected bool   // 401
}

func basic(user, pw string) func(*http.Request) {
	return func(r *http.Request) { r.SetBasicAuth(user, pw) }
}

func header(v string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", v) }
}

// TestHTTPPrivilegeMatrix: over HTTP, principals with no privileges, read,
// write and admin — as roles with passwords (Basic), API tokens (Token,
// Bearer) and the server's account — try every operation on their own
// database and another; only the allowed cells succeed (2xx), the
// others get 403 (authenticated) or 401 (not), and nothing of a refused
// write is stored.
func TestHTTPPrivilegeMatrix(t *testing.T) {
	db, ts, tokens := authServer(t, slog.New(slog.DiscardHandler))
	creds := []credential{
		{"anonymous", func(*http.Request) {}, "none", true},
		{"wrong password", basic("reader", "nope"), "none", true},
		{"unknown user", basic("mallory", "pw"), "none", true},
		{"NOLOGIN role", basic("nologin", "pw"), "none", true},
		{"bad token", header("Token ugnos_forged"), "none", true},
		{"malformed header", header("Digest x"), "none", true},
		{"role nobody", basic("nobody", "pw"), "none", false},
		{"role reader", basic("reader", "pw"), "read", false},
		{"token read", header("Token " + tokens["read"]), "read", false},
		{"bearer read", header("Bearer " + tokens["read"]), "read", false},
		{"role writer", basic("writer", "pw"), "write", false},
		{"token write", header("Token " + tokens["write"]), "write-only", false},
		{"token write as Basic password", basic("any", tokens["write"]), "write-only", false},
		{"role admin", basic("admin", "pw"), "admin", false},
		{"server account", basic("ugnos", "root-pw"), "admin", false},
		{"InfluxDB 1 u/p", func(r *http.Request) {
			q := r.URL.Query()
			q.Set("u", "writer")
			q.Set("p", "pw")
			r.URL.RawQuery = q.Encode()
		}, "write", false},
	}
	// what each grant allows on its own database (acme); admin everywhere
	allowed := map[string]map[string]bool{
		"none": {},
		// a rule needs SELECT on what it reads (it runs with its creator's rights)
		"read":  {"connect": true, "select": true, "catalog": true, "stream": true, "rule": true},
		"write": {"connect": true, "select": true, "catalog": true, "stream": true, "insert": true, "copy": true, "delete": true, "rule": true},
		// DELETE … WHERE reads the rows it deletes, which needs SELECT (as
		// in PostgreSQL): a write-only token may write but not delete so
		"write-only": {"connect": true, "catalog": true, "insert": true, "copy": true},
		"admin":      {"connect": true, "select": true, "catalog": true, "stream": true, "insert": true, "copy": true, "delete": true, "ddl": true, "rule": true, "metrics": true},
	}
	type op struct {
		name string
		req  func(tenant, cell string) *http.Request
		// check, for allowed writes, that the effect happened
		stored func(tenant, cell string) bool
	}
	q := func(tenant, sql string) *http.Request {
		r, _ := http.NewRequest("GET", ts.URL+"/api/v1/query?"+url.Values{"db": {tenant}, "q": {sql}}.Encode(), nil)
		return r
	}
	count := func(tenant, where string) int64 {
		res, err := db.Exec(context.Background(), tenant, "SELECT count(*) FROM cpu WHERE "+where)
		if err != nil {
			t.Fatal(err)
		}
		return embeddedInt(t, res)
	}
	n := 0
	ops := []op{
		{"connect", func(tenant, _ string) *http.Request { return q(tenant, "SELECT 1") }, nil},
		{"select", func(tenant, _ string) *http.Request { return q(tenant, "SELECT count(*) FROM cpu") }, nil},
		{"catalog", func(tenant, _ string) *http.Request {
			return q(tenant, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
		}, nil},
		{"stream", func(tenant, _ string) *http.Request {
			r, _ := http.NewRequest("GET", ts.URL+"/api/v1/stream?db="+tenant+"&table=cpu", nil)
			r.Header.Set("Accept", "text/event-stream")
			return r
		}, nil},
		{"insert", func(tenant, cell string) *http.Request {
			r, _ := http.NewRequest("POST", ts.URL+"/api/v2/write?bucket="+tenant, strings.NewReader("cpu,host="+cell+" v=1 1704067200000000000\n"))
			return r
		}, func(tenant, cell string) bool { return count(tenant, "host = '"+cell+"'") == 1 }},
		{"copy", func(tenant, cell string) *http.Request { // the bulk path: many lines, InfluxDB 1 endpoint
			var b strings.Builder
			for i := range 100 {
				fmt.Fprintf(&b, "cpu,host=%s v=%d %d\n", cell, i, 1704067200+i)
			}
			r, _ := http.NewRequest("POST", ts.URL+"/write?precision=s&db="+tenant, strings.NewReader(b.String()))
			return r
		}, func(tenant, cell string) bool { return count(tenant, "host = '"+cell+"'") == 100 }},
		{"delete", func(tenant, cell string) *http.Request {
			if _, err := db.Exec(context.Background(), tenant, "INSERT INTO cpu VALUES ('2024-01-05 00:00:00+00', '"+cell+"', 5)"); err != nil {
				t.Fatal(err)
			}
			return q(tenant, "DELETE FROM cpu WHERE host = '"+cell+"'")
		}, func(tenant, cell string) bool { return count(tenant, "host = '"+cell+"'") == 0 }},
		{"ddl", func(tenant, cell string) *http.Request {
			return q(tenant, "CREATE TABLE "+cell+" (time timestamptz, v double precision)")
		}, nil},
		{"rule", func(tenant, cell string) *http.Request {
			return q(tenant, "SELECT ugnos_create_rule('"+cell+"', 'SELECT host, max(v) FROM cpu GROUP BY host', INTERVAL '1 hour')")
		}, nil},
		{"metrics", func(string, string) *http.Request { r, _ := http.NewRequest("GET", ts.URL+"/metrics", nil); return r }, nil},
	}
	client := &http.Client{Timeout: 30 * time.Second}
	for _, c := range creds {
		for _, tenant := range []string{"acme", "other"} {
			for _, o := range ops {
				n++
				cell := fmt.Sprintf("c%d", n)
				req := o.req(tenant, cell)
				ctx, cancel := context.WithCancel(context.Background())
				req = req.WithContext(ctx)
				c.set(req)
				resp, err := client.Do(req)
				if err != nil {
					cancel()
					t.Fatalf("%s %s in %s: %v", c.name, o.name, tenant, err)
				}
				var body string
				if o.name != "stream" || resp.StatusCode != http.StatusOK {
					b, _ := io.ReadAll(resp.Body)
					body = string(b)
				}
				resp.Body.Close()
				cancel()
				want := allowed[c.grants][o.name] && (tenant == "acme" || c.grants == "admin")
				switch {
				case c.rejected && resp.StatusCode != http.StatusUnauthorized:
					t.Errorf("%s %s in %s: %d %s, want 401", c.name, o.name, tenant, resp.StatusCode, body)
				case c.rejected && resp.Header.Get("WWW-Authenticate") == "":
					t.Errorf("%s: 401 without a WWW-Authenticate challenge", c.name)
				case !c.rejected && want && resp.StatusCode/100 != 2:
					t.Errorf("%s %s in %s: %d %s, want success", c.name, o.name, tenant, resp.StatusCode, body)
				case !c.rejected && !want && resp.StatusCode != http.StatusForbidden:
					t.Errorf("%s %s in %s: %d %s, want 403", c.name, o.name, tenant, resp.StatusCode, body)
				}
				if o.name == "catalog" && want && !strings.Contains(body, "cpu") {
					t.Errorf("%s catalog in %s does not list cpu: %s", c.name, tenant, body)
				}
				if o.stored != nil && o.stored(tenant, cell) != (want && !c.rejected) {
					t.Errorf("%s %s in %s: stored=%v, want %v", c.name, o.name, tenant, !want, want)
				}
			}
		}
	}
	// revoking a token takes effect on the next request
	if err := db.RevokeToken("read"); err != nil {
		t.Fatal(err)
	}
	req := q("acme", "SELECT 1")
	req.Header.Set("Authorization", "Token "+tokens["read"])
	if resp, body := do(t, req); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("revoked token: %d %s", resp.StatusCode, body)
	}
	// health and readiness answer without credentials
	for _, p := range []string{"/health", "/ready"} {
		r, _ := http.NewRequest("GET", ts.URL+p, nil)
		if resp, body := do(t, r); resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d %s", p, resp.StatusCode, body)
		}
	}
}

func embeddedInt(t *testing.T, res *ugnos.Result) int64 {
	t.Helper()
	defer res.Rows.Release()
	var n int64 = -1
	for res.Rows.Next() {
		rec := res.Rows.RecordBatch()
		if rec.NumRows() > 0 {
			fmt.Sscan(rec.Column(0).ValueStr(0), &n)
		}
	}
	return n
}

// TestTokensInSQL: superusers create and revoke tokens in SQL; secrets
// are shown once and stored only as digests; ordinary roles may not.
func TestTokensInSQL(t *testing.T) {
	logBuf := &syncbuf.Buffer{}
	db, ts, _ := authServer(t, slog.New(slog.NewTextHandler(logBuf, nil)))
	adminQ := func(sql string) (*http.Response, string) {
		r, _ := http.NewRequest("GET", ts.URL+"/api/v1/query?"+url.Values{"db": {"acme"}, "q": {sql}, "format": {"csv"}}.Encode(), nil)
		r.SetBasicAuth("admin", "pw")
		return do(t, r)
	}
	resp, body := adminQ("SELECT ugnos_create_token('grafana', 'acme', 'read')")
	if resp.StatusCode != 200 {
		t.Fatalf("create token: %d %s", resp.StatusCode, body)
	}
	var secret string
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "ugnos_") {
			secret = strings.TrimSpace(line)
		}
	}
	if len(secret) != len("ugnos_")+43 {
		t.Fatalf("no token secret in %q", body)
	}
	if resp, body := adminQ("SELECT name, database, scope FROM ugnos.tokens ORDER BY name"); resp.StatusCode != 200 ||
		!strings.Contains(body, "grafana,acme,read\r\nread,acme,read\r\nwrite,acme,write") || strings.Contains(body, "ugnos_") {
		t.Errorf("ugnos.tokens for a superuser: %d %q", resp.StatusCode, body)
	}
	r, _ := http.NewRequest("GET", ts.URL+"/api/v1/query?"+url.Values{"db": {"acme"}, "q": {"SELECT count(*) FROM ugnos.tokens"}, "format": {"csv"}}.Encode(), nil)
	r.SetBasicAuth("reader", "pw")
	if resp, body := do(t, r); resp.StatusCode != 200 || !strings.HasSuffix(strings.TrimSpace(body), "0") {
		t.Errorf("ugnos.tokens for an ordinary role: %d %q, want no rows", resp.StatusCode, body)
	}
	r, _ = http.NewRequest("GET", ts.URL+"/api/v1/query?db=acme&q=SELECT+count(*)+FROM+cpu", nil)
	r.Header.Set("Authorization", "Bearer "+secret)
	if resp, body := do(t, r); resp.StatusCode != 200 || !strings.Contains(body, "1") {
		t.Errorf("query with the new token: %d %s", resp.StatusCode, body)
	}
	for _, bad := range []struct{ sql, code string }{
		{"SELECT ugnos_create_token('grafana', 'acme', 'read')", "42710"},
		{"SELECT ugnos_create_token('x', 'nosuch', 'read')", "3D000"},
		{"SELECT ugnos_create_token('x', 'acme', 'admin')", "22023"},
		{"SELECT ugnos_revoke_token('nosuch')", "42704"},
	} {
		if resp, body := adminQ(bad.sql); resp.StatusCode/100 != 4 || !strings.Contains(body, bad.code) {
			t.Errorf("%s: %d %s, want %s", bad.sql, resp.StatusCode, body, bad.code)
		}
	}
	r, _ = http.NewRequest("GET", ts.URL+"/api/v1/query?"+url.Values{"db": {"acme"}, "q": {"SELECT ugnos_create_token('mine', 'acme', 'read-write')"}}.Encode(), nil)
	r.SetBasicAuth("writer", "pw")
	if resp, body := do(t, r); resp.StatusCode != http.StatusForbidden {
		t.Errorf("ordinary role creating a token: %d %s", resp.StatusCode, body)
	}
	if resp, body := adminQ("SELECT ugnos_revoke_token('grafana')"); resp.StatusCode != 200 {
		t.Fatalf("revoke: %d %s", resp.StatusCode, body)
	}
	r.Header.Del("Authorization")
	r.Header.Set("Authorization", "Token "+secret)
	if resp, _ := do(t, r); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("revoked token: %d", resp.StatusCode)
	}
	// a password that looks like a token is still a password
	for _, q := range []string{"CREATE USER odd PASSWORD 'ugnos_not_a_token'", "GRANT CONNECT ON DATABASE acme TO odd"} {
		if resp, body := adminQ(q); resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", q, resp.StatusCode, body)
		}
	}
	r, _ = http.NewRequest("GET", ts.URL+"/api/v1/query?db=acme&q=SELECT+1", nil)
	r.SetBasicAuth("odd", "ugnos_not_a_token")
	if resp, body := do(t, r); resp.StatusCode != 200 {
		t.Errorf("Basic with a password starting ugnos_: %d %s", resp.StatusCode, body)
	}
	for _, tok := range db.Tokens() {
		if tok.Name == "grafana" {
			t.Error("revoked token still listed")
		}
		if strings.Contains(tok.Digest, "ugnos_") || len(tok.Digest) != 64 {
			t.Errorf("token %s digest %q", tok.Name, tok.Digest)
		}
	}
	out := logBuf.String()
	if !strings.Contains(out, `audit: http permission denied" user=writer`) || !strings.Contains(out, "ugnos_create_token requires a superuser") {
		t.Errorf("audit log lacks the refused token creation:\n%s", out)
	}
	if !strings.Contains(out, "audit: http authentication failed") || strings.Contains(out, secret) {
		t.Errorf("audit log lacks the failure or holds the secret:\n%s", out)
	}
}

// TestTokensSurviveReopen: tokens.json keeps digests across restarts.
func TestTokensSurviveReopen(t *testing.T) {
	dir := t.TempDir()
	db, err := ugnos.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateDatabase("acme"); err != nil {
		t.Fatal(err)
	}
	secret, err := db.CreateToken("t1", "acme", "write")
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = ugnos.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tok, ok := db.LookupToken(secret)
	if !ok || tok.Name != "t1" || tok.Tenant != "acme" || tok.Scope != "write" {
		t.Errorf("after reopen: %+v %v", tok, ok)
	}
	if _, ok := db.LookupToken(secret + "x"); ok {
		t.Error("a different secret matched")
	}
}

// TestHTTPUnknownUsersTakeAsLong: failed Basic logins of a role, the
// server's account and an unknown user each run one key derivation, so
// their medians are alike (the bound catches a path that skips it).
func TestHTTPUnknownUsersTakeAsLong(t *testing.T) {
	_, ts, _ := authServer(t, slog.New(slog.DiscardHandler))
	attempt := func(user string) time.Duration {
		r, _ := http.NewRequest("GET", ts.URL+"/api/v1/query?db=acme&q=SELECT+1", nil)
		r.SetBasicAuth(user, "wrong")
		start := time.Now()
		if resp, _ := do(t, r); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s with a wrong password: %d", user, resp.StatusCode)
		}
		return time.Since(start)
	}
	med := map[string][]time.Duration{}
	users := []string{"reader", "ugnos", "mallory"}
	for range 15 {
		for _, u := range users {
			med[u] = append(med[u], attempt(u))
		}
	}
	m := map[string]time.Duration{}
	for _, u := range users {
		slices.Sort(med[u])
		m[u] = med[u][len(med[u])/2]
	}
	t.Logf("failed login medians: %v", m)
	for _, u := range users[1:] {
		if r := float64(m[u]) / float64(m["reader"]); r < 0.5 || r > 2 {
			t.Errorf("failed logins of %s take %.2f× as long as a role's", u, r)
		}
	}
}
