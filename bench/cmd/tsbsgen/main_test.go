package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run([]string{"-hosts", "2", "-duration", "20s"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	const want = "time,hostname,region,datacenter,rack,os,arch,team,service,service_version,service_environment," +
		"usage_user,usage_system,usage_idle,usage_nice,usage_iowait,usage_irq,usage_softirq,usage_steal,usage_guest,usage_guest_nice\n" +
		"2016-01-01T00:00:00Z,host_0,eu-central-1,eu-central-1a,6,Ubuntu15.10,x86,SF,19,1,test,58,2,24,61,22,63,6,44,80,38\n"
	if got := stdout.String(); !strings.HasPrefix(got, want) || strings.Count(got, "\n") != 5 {
		t.Errorf("stdout:\n%s", got)
	}
	if !strings.Contains(stderr.String(), "4 rows, ") {
		t.Errorf("stderr summary: %q", stderr.String())
	}

	out := filepath.Join(t.TempDir(), "cpu.lp")
	stdout.Reset()
	if err := run([]string{"-hosts", "1", "-duration", "10s", "-format", "influx", "-out", out}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout not empty with -out: %q", stdout.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "cpu,hostname=host_0,") || !strings.HasSuffix(string(b), " 1451606400000000000\n") {
		t.Errorf("line protocol file: %q", b)
	}

	for _, args := range [][]string{{"-format", "json"}, {"-start", "yesterday"}, {"-hosts", "-1"}, {"extra"}} {
		if err := run(args, &stdout, &stderr); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}
