package soak_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ugnos/ugnos/internal/servetest"
	"github.com/ugnos/ugnos/internal/syncbuf"
)

// binary is the ugnos binary built once by TestMain.
var binary string

func TestMain(m *testing.M) { servetest.Main(m, "github.com/ugnos/ugnos/cmd/ugnos", &binary) }

// server is one ugnos serve process on a data directory.
type server struct {
	cmd      *exec.Cmd
	stderr   *syncbuf.Buffer
	done     chan struct{} // closed when the process has exited
	err      error         // cmd.Wait's result, valid after done
	pgAddr   string
	httpAddr string
}

// startServer starts ugnos serve on dataDir with the memory limit on free
// loopback ports and waits until /ready answers 200. GOTRACEBACK=all makes
// SIGQUIT dump every goroutine (goroutineDump).
func startServer(t *testing.T, dataDir, memLimit string) *server {
	t.Helper()
	s := &server{stderr: &syncbuf.Buffer{}, done: make(chan struct{}), pgAddr: freeAddr(t), httpAddr: freeAddr(t)}
	s.cmd = exec.Command(binary, "serve", "--data-dir", dataDir, "--pg-addr", s.pgAddr,
		"--http-addr", s.httpAddr, "--memory-limit", memLimit, "--sync", "always")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "UGNOS_") && !strings.HasPrefix(kv, "GOTRACEBACK=") {
			env = append(env, kv)
		}
	}
	s.cmd.Env = append(env, "GOTRACEBACK=all")
	if v := os.Getenv("UGNOS_SOAK_GODEBUG"); v != "" {
		s.cmd.Env = append(s.cmd.Env, "GODEBUG="+v)
	}
	s.cmd.Stderr = s.stderr
	if dir := os.Getenv("UGNOS_SOAK_LOG_DIR"); dir != "" {
		// keep each server's whole stderr (with UGNOS_SOAK_GODEBUG=gctrace=1, the heap at each GC)
		f, err := os.CreateTemp(dir, "ugnos-serve-*.log")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		s.cmd.Stderr = io.MultiWriter(s.stderr, f)
	}
	servetest.Run(t, s.cmd, s.done, &s.err, func() string {
		return fmt.Sprintf("ugnos serve (pid %d) stderr, last 8 KiB:\n%s", s.cmd.Process.Pid, tail(s.stderr.String(), 8<<10))
	})
	s.waitReady(t)
	return s
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func (s *server) waitReady(t *testing.T) {
	t.Helper()
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-s.done:
			t.Fatalf("ugnos serve exited early: %v\n%s", s.err, tail(s.stderr.String(), 4<<10))
		default:
		}
		resp, err := c.Get("http://" + s.httpAddr + "/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/ready not 200 after 60s: last error %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *server) dsn(db string) string {
	return "postgres://ugnos@" + s.pgAddr + "/" + db + "?sslmode=disable"
}

// kill9 sends SIGKILL and waits for the process to exit.
func (s *server) kill9(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-s.done
}

var goroutineHeader = regexp.MustCompile(`(?m)^goroutine \d+ [^\[\n]*\[([^\],\n]+)`)

// goroutineDump sends SIGQUIT (the Go runtime prints every goroutine's
// stack and exits at once, without deferred calls or a graceful close: a
// crash as far as the data directory is concerned) and returns the number
// of goroutines and how many were in each state.
func (s *server) goroutineDump(t *testing.T) (int, map[string]int, string) {
	t.Helper()
	before := len(s.stderr.String())
	if err := s.cmd.Process.Signal(syscall.SIGQUIT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		t.Fatal("ugnos serve did not exit within 30s of SIGQUIT")
	}
	dump := s.stderr.String()[before:]
	states := map[string]int{}
	ms := goroutineHeader.FindAllStringSubmatch(dump, -1)
	for _, m := range ms {
		states[m[1]]++
	}
	return len(ms), states, dump
}

// procStatus reads fields (in kB for Vm*) of /proc/<pid>/status.
func procStatus(pid int) (map[string]int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch k {
		case "VmRSS", "VmHWM", "Threads":
			n, err := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			if err == nil {
				out[k] = n
			}
		}
	}
	return out, sc.Err()
}

// rssSampler samples the server's VmRSS and thread count every interval.
type rssSampler struct {
	mu         sync.Mutex
	samples    int
	maxRSS     int64 // kB
	sumRSS     int64
	maxThreads int64
	lastRSS    int64
	timeline   []string // the largest RSS of every 10 s, "10s:312MiB" (the window's end)
	stop       context.CancelFunc
	done       chan struct{}
}

func sampleRSS(pid int, every time.Duration) *rssSampler {
	ctx, cancel := context.WithCancel(context.Background())
	r := &rssSampler{stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		tk := time.NewTicker(every)
		defer tk.Stop()
		start, window := time.Now(), int64(0)
		defer func() { // the last, partial window
			if window > 0 {
				r.timeline = append(r.timeline, fmt.Sprintf("%v:%dMiB", time.Since(start).Round(time.Second), window>>10))
			}
		}()
		for {
			if st, err := procStatus(pid); err == nil {
				r.mu.Lock()
				window = max(window, st["VmRSS"])
				if el := time.Since(start); el >= time.Duration(len(r.timeline)+1)*10*time.Second {
					r.timeline = append(r.timeline, fmt.Sprintf("%v:%dMiB", el.Truncate(10*time.Second), window>>10))
					window = 0
				}
				r.samples++
				r.sumRSS += st["VmRSS"]
				r.lastRSS = st["VmRSS"]
				r.maxRSS = max(r.maxRSS, st["VmRSS"])
				r.maxThreads = max(r.maxThreads, st["Threads"])
				r.mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
			}
		}
	}()
	return r
}

func (r *rssSampler) close() {
	r.stop()
	<-r.done
}

func freeAddr(t *testing.T) string { return servetest.FreeAddr(t) }
