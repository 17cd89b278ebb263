// Package servetest helps tests that run the real ugnos binary: build it
// once for a test binary's run, and find free loopback addresses.
package servetest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Main is a TestMain: it builds the package pkg (the ugnos command) into
// a temporary directory, sets *binary to its path, runs the tests,
// removes the directory and exits with the tests' code.
func Main(m *testing.M, pkg string, binary *string) {
	dir, err := os.MkdirTemp("", "ugnos-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*binary = filepath.Join(dir, "ugnos")
	if out, err := exec.Command("go", "build", "-o", *binary, pkg).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// FreeAddr is a loopback address with a port free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Run starts cmd, stores its exit (cmd.Wait's result) in *exit and then
// closes done; when the test ends, it kills the process if it still runs
// and, if the test failed, logs failLog().
func Run(t testing.TB, cmd *exec.Cmd, done chan struct{}, exit *error, failLog func() string) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { *exit = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Log(failLog())
		}
	})
}
