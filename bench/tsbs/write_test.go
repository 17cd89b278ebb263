package tsbs

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestWriteLineProtocol(t *testing.T) {
	g := New(Config{Hosts: 3, Start: DefaultStart, End: DefaultStart.Add(20 * time.Second), Seed: DefaultSeed})
	var buf bytes.Buffer
	n, err := WriteLineProtocol(&buf, g)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Errorf("WriteLineProtocol returned %d bytes, wrote %d", n, buf.Len())
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 6 {
		t.Fatalf("got %d lines, want 6", len(lines))
	}
	const first = "cpu,hostname=host_0,region=eu-central-1,datacenter=eu-central-1a,rack=6,os=Ubuntu15.10," +
		"arch=x86,team=SF,service=19,service_version=1,service_environment=test " +
		"usage_user=58,usage_system=2,usage_idle=24,usage_nice=61,usage_iowait=22,usage_irq=63," +
		"usage_softirq=6,usage_steal=44,usage_guest=80,usage_guest_nice=38 1451606400000000000"
	if lines[0] != first {
		t.Errorf("first line:\n got %s\nwant %s", lines[0], first)
	}
	if !strings.HasSuffix(lines[3], " 1451606410000000000") || !strings.HasPrefix(lines[3], "cpu,hostname=host_0,") {
		t.Errorf("fourth line is not host_0 at 00:00:10: %s", lines[3])
	}
}

func TestWriteCSVHead(t *testing.T) {
	g := New(Config{Hosts: 2, Start: DefaultStart, End: DefaultStart.Add(20 * time.Second), Seed: DefaultSeed})
	var buf bytes.Buffer
	n, err := WriteCSV(&buf, g)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Errorf("WriteCSV returned %d bytes, wrote %d", n, buf.Len())
	}
	const want = "time,hostname,region,datacenter,rack,os,arch,team,service,service_version,service_environment," +
		"usage_user,usage_system,usage_idle,usage_nice,usage_iowait,usage_irq,usage_softirq,usage_steal,usage_guest,usage_guest_nice\n" +
		"2016-01-01T00:00:00Z,host_0,eu-central-1,eu-central-1a,6,Ubuntu15.10,x86,SF,19,1,test,58,2,24,61,22,63,6,44,80,38\n" +
		"2016-01-01T00:00:00Z,host_1,us-west-1,us-west-1a,41,Ubuntu15.10,x64,NYC,9,1,staging,84,11,53,87,29,20,54,77,53,74\n"
	if got := buf.String(); !strings.HasPrefix(got, want) || strings.Count(got, "\n") != 5 {
		t.Errorf("CSV:\n%s\nwant prefix\n%s(5 lines in all)", got, want)
	}
}

// errWriter fails after limit bytes.
type errWriter struct{ limit int }

func (w *errWriter) Write(p []byte) (int, error) {
	if len(p) > w.limit {
		n := w.limit
		w.limit = 0
		return n, io.ErrShortWrite
	}
	w.limit -= len(p)
	return len(p), nil
}

func TestWriteError(t *testing.T) {
	for name, write := range map[string]func(io.Writer, *Generator) (int64, error){
		"csv": WriteCSV, "influx": WriteLineProtocol,
	} {
		g := New(day(10))
		if _, err := write(&errWriter{limit: 1000}, g); err == nil {
			t.Errorf("%s: no error from a failing writer", name)
		}
	}
}

// BenchmarkWriteCSV measures CSV throughput at scale 100 for one day.
//
//	cd bench && go test -run '^$' -bench Write -count 10 ./tsbs > new.txt && benchstat old.txt new.txt
func BenchmarkWriteCSV(b *testing.B) {
	benchWrite(b, WriteCSV)
}

// BenchmarkWriteLineProtocol is BenchmarkWriteCSV for line protocol.
func BenchmarkWriteLineProtocol(b *testing.B) {
	benchWrite(b, WriteLineProtocol)
}

func benchWrite(b *testing.B, write func(io.Writer, *Generator) (int64, error)) {
	b.ReportAllocs()
	var rows int
	for b.Loop() {
		g := New(day(100))
		n, err := write(io.Discard, g)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(n)
		rows += g.Rows()
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

func TestAppendFloat(t *testing.T) {
	for _, v := range []float64{0, 1, 58, 100, -3, 0.5, 99.25, 1e20, -1e-7, 1 << 53, 1<<53 + 2} {
		if got, want := string(appendFloat(nil, v)), strconv.FormatFloat(v, 'f', -1, 64); got != want {
			t.Errorf("appendFloat(%v) = %s, want %s", v, got, want)
		}
	}
}
