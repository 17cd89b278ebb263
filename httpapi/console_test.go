package httpapi_test

import (
	"bytes"
	"context"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/httpapi"
)

// TestConsoleAssets checks that the console and its assets are served
// from the binary with the right types and a CSP that keeps the page to
// its own origin, and that no asset loads anything from elsewhere.
func TestConsoleAssets(t *testing.T) {
	db, err := ugnos.Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ts := httptest.NewServer(httpapi.New(db, httpapi.Config{}))
	defer ts.Close()
	external := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	f := func(path, wantType, wantText string) {
		t.Helper()
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, wantType) {
			t.Errorf("GET %s: Content-Type %q, want %s", path, ct, wantType)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy %q", path, csp)
		}
		if !bytes.Contains(body, []byte(wantText)) {
			t.Errorf("GET %s: body lacks %q", path, wantText)
		}
		for _, m := range external.FindAll(body, -1) {
			if string(m) != "http://www.w3.org" { // the SVG namespace, not a fetch
				t.Errorf("GET %s: refers to another origin: %s", path, m)
			}
		}
	}
	f("/", "text/html", `<textarea id="sql"`)
	f("/console/console.js", "text/javascript", "/api/v1/query")
	f("/console/console.css", "text/css", "#chart")
	for _, path := range []string{"/console/nope.js", "/nope"} {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
		}
	}
}

// chromiumPath is the browser the console test drives (Debian's package
// chromium).
const chromiumPath = "/usr/bin/chromium"

// TestConsoleChromium drives the console in headless Chromium against the
// real HTTP API: the table list, a query typed and run with Ctrl+Enter,
// the result table, the chart, an error with its SQLSTATE, and a
// screenshot.
func TestConsoleChromium(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is needed under CI (apt-get install chromium): %v", chromiumPath, err)
		}
		t.Skipf("no %s (apt-get install chromium)", chromiumPath)
	}
	db, err := ugnos.Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if err := db.CreateDatabase("acme"); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE cpu (time timestamptz, host text, usage double precision)`,
		`INSERT INTO cpu VALUES
			('2026-01-01 00:00:00+00', 'a', 1.5),
			('2026-01-01 00:01:00+00', 'a', 2.5),
			('2026-01-01 00:00:00+00', 'b', 7),
			('2026-01-01 00:01:00+00', 'b', 3.25)`,
	} {
		if _, err := db.Exec(ctx, "acme", q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	ts := httptest.NewServer(httpapi.New(db, httpapi.Config{}))
	defer ts.Close()
	// The console needs the query API; say so plainly when it is missing.
	if resp, err := http.Get(ts.URL + "/api/v1/query?db=acme&q=SELECT+1"); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != 200 {
		t.Fatalf("GET /api/v1/query: HTTP %d; the console needs the query API", resp.StatusCode)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox, // tests and CI run as root
		chromedp.Flag("disable-gpu", true),
		chromedp.WindowSize(1200, 900),
		chromedp.UserDataDir(t.TempDir()),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	// Start the browser with a context without a deadline, then bound
	// each step.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start %s: %v", chromiumPath, err)
	}
	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, scancel := context.WithTimeout(bctx, 20*time.Second)
		defer scancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	eval := func(expr string) string {
		t.Helper()
		sctx, scancel := context.WithTimeout(bctx, 20*time.Second)
		defer scancel()
		v, err := chromedp.Run(sctx, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return v
	}

	step("load the page and the table list",
		chromedp.Navigate(ts.URL+"/?db=acme"),
		chromedp.WaitVisible(chromedp.CSS(`#tables li button`)),
	)
	if got := eval(`[...document.querySelectorAll("#tables li button")].map(b => b.textContent).join(",")`); got != "cpu" {
		t.Errorf("table list %q, want cpu", got)
	}

	step("type a query and run it with Ctrl+Enter",
		chromedp.Clear(chromedp.CSS(`#sql`)),
		chromedp.SendKeys(chromedp.CSS(`#sql`), "SELECT time, host, usage FROM cpu ORDER BY host, time"),
		chromedp.KeyEvent("\r", chromedp.KeyModifiers(chromedp.ModifierCtrl)),
		chromedp.WaitVisible(chromedp.CSS(`#result tbody tr`)),
	)
	if got := eval(`String(document.querySelectorAll("#result tbody tr").length)`); got != "4" {
		t.Errorf("result rows %s, want 4", got)
	}
	if got := eval(`[...document.querySelectorAll("#result thead th")].map(th => th.firstChild.textContent).join(",")`); got != "time,host,usage" {
		t.Errorf("result header %q", got)
	}
	cells := eval(`[...document.querySelectorAll("#result tbody tr")].map(tr => [...tr.cells].map(td => td.textContent).join("|")).join("\n")`)
	rows := strings.Split(cells, "\n")
	want := []string{"a|1.5", "a|2.5", "b|7", "b|3.25"}
	wantTime := []string{"2026-01-01T00:00:00", "2026-01-01T00:01:00", "2026-01-01T00:00:00", "2026-01-01T00:01:00"}
	if len(rows) != len(want) {
		t.Fatalf("result cells:\n%s", cells)
	}
	for i, r := range rows {
		tm, rest, _ := strings.Cut(r, "|")
		if rest != want[i] || !strings.HasPrefix(tm, wantTime[i]) {
			t.Errorf("row %d: %q, want %s…|%s", i, r, wantTime[i], want[i])
		}
	}
	if got := eval(`document.getElementById("status").textContent`); !strings.HasPrefix(got, "4 rows") {
		t.Errorf("status %q", got)
	}

	// The chart: one line per host, each with a path through its points.
	step("chart", chromedp.WaitVisible(chromedp.CSS(`#chart svg path.line`)))
	if got := eval(`[...document.querySelectorAll("#chart svg path.line")].map(p => p.dataset.series + ":" + (p.getAttribute("d").match(/[ML]/g) || []).length).join(",")`); got != "a:2,b:2" {
		t.Errorf("chart lines %q, want a:2,b:2", got)
	}

	// The screenshot.
	sctx, scancel := context.WithTimeout(bctx, 20*time.Second)
	shot, err := chromedp.Run(sctx, chromedp.CaptureScreenshot())
	scancel()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "console.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		t.Fatalf("screenshot %s: %v", path, err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 100 || b.Dy() < 100 {
		t.Errorf("screenshot is %v", b)
	}

	// An error shows its SQLSTATE and hides the old result.
	step("run a bad query",
		chromedp.SetValue(chromedp.CSS(`#sql`), "SELECT * FROM nosuchtable"),
		chromedp.Click(chromedp.CSS(`#run`)),
		chromedp.WaitVisible(chromedp.CSS(`#error`)),
	)
	if got := eval(`document.getElementById("error-code").textContent`); got != "42P01" {
		t.Errorf("error code %q, want 42P01", got)
	}
	if got := eval(`document.getElementById("error-message").textContent`); !strings.Contains(got, "nosuchtable") {
		t.Errorf("error message %q", got)
	}
	if got := eval(`String(document.getElementById("result-section").hidden)`); got != "true" {
		t.Errorf("result still shown after an error")
	}
}
