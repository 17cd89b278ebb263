package tsbs

import (
	"crypto/md5"
	"encoding/hex"
	"math/rand"
	"strconv"
	"testing"
	"time"
)

// day returns the customary TSBS configuration: one day from 2016-01-01 at
// 10 s, seed 123.
func day(hosts int) Config {
	return Config{Hosts: hosts, Start: DefaultStart, End: DefaultStart.Add(24 * time.Hour), Seed: DefaultSeed}
}

// TestCSVChecksum is the exactness check from bench/README.md: scale 100, one
// day, seed 123.
func TestCSVChecksum(t *testing.T) {
	g := New(day(100))
	if got, want := g.Rows(), 864_000; got != want {
		t.Fatalf("Rows() = %d, want %d", got, want)
	}
	h := md5.New()
	n, err := WriteCSV(h, g)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(102_435_666); n != want {
		t.Errorf("WriteCSV wrote %d bytes, want %d", n, want)
	}
	if got, want := hex.EncodeToString(h.Sum(nil)), "7549c88a6cc3d88b224e1d73cba6d591"; got != want {
		t.Errorf("md5 = %s, want %s", got, want)
	}
}

func TestDeterministic(t *testing.T) {
	cfg := Config{Hosts: 17, Start: DefaultStart, End: DefaultStart.Add(time.Hour), Seed: 7}
	a, b := New(cfg), New(cfg)
	var ra, rb Row
	n := 0
	for a.Next(&ra) {
		if !b.Next(&rb) {
			t.Fatalf("second generator ended early at row %d", n)
		}
		if ra.Time != rb.Time || ra.Host != rb.Host || *ra.Tags != *rb.Tags || ra.Fields != rb.Fields {
			t.Fatalf("row %d differs:\n%+v\n%+v", n, ra, rb)
		}
		n++
	}
	if b.Next(&rb) {
		t.Fatalf("second generator has more than %d rows", n)
	}
	if n != a.Rows() {
		t.Fatalf("got %d rows, Rows() = %d", n, a.Rows())
	}

	// A different seed gives different data.
	cfg.Seed = 8
	c := New(cfg)
	a = New(Config{Hosts: 17, Start: DefaultStart, End: DefaultStart.Add(time.Hour), Seed: 7})
	a.Next(&ra)
	c.Next(&rb)
	if ra.Fields == rb.Fields {
		t.Errorf("seeds 7 and 8 give the same first row %v", ra.Fields)
	}
}

// TestReplay checks the generator against an independent replay of the
// math/rand draws stated in bench/README.md, for 3 hosts and 2 epochs, and
// against hand-copied values for seed 123.
func TestReplay(t *testing.T) {
	type host struct {
		tags  [10]string // hostname, region, datacenter, rack, os, arch, team, service, version, env
		state [10]float64
	}
	dcs := map[string][]string{
		"us-east-1":      {"us-east-1a", "us-east-1b", "us-east-1c", "us-east-1e"},
		"us-west-1":      {"us-west-1a", "us-west-1b"},
		"us-west-2":      {"us-west-2a", "us-west-2b", "us-west-2c"},
		"eu-west-1":      {"eu-west-1a", "eu-west-1b", "eu-west-1c"},
		"eu-central-1":   {"eu-central-1a", "eu-central-1b"},
		"ap-southeast-1": {"ap-southeast-1a", "ap-southeast-1b"},
		"ap-southeast-2": {"ap-southeast-2a", "ap-southeast-2b"},
		"ap-northeast-1": {"ap-northeast-1a", "ap-northeast-1c"},
		"sa-east-1":      {"sa-east-1a", "sa-east-1b", "sa-east-1c"},
	}
	regionNames := []string{"us-east-1", "us-west-1", "us-west-2", "eu-west-1", "eu-central-1",
		"ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "sa-east-1"}

	rng := rand.New(rand.NewSource(123))
	want := make([]host, 3)
	for i := range want {
		h := &want[i]
		for f := range h.state {
			h.state[f] = rng.Float64() * 100
		}
		region := regionNames[rng.Intn(9)]
		dc := dcs[region][rng.Intn(len(dcs[region]))]
		rack := rng.Int63n(100)
		arch := []string{"x64", "x86"}[rng.Intn(2)]
		os := []string{"Ubuntu16.10", "Ubuntu16.04LTS", "Ubuntu15.10"}[rng.Intn(3)]
		service := rng.Int63n(20)
		version := rng.Int63n(2)
		env := []string{"production", "staging", "test"}[rng.Intn(3)]
		team := []string{"SF", "NYC", "LON", "CHI"}[rng.Intn(4)]
		h.tags = [10]string{"host_" + strconv.Itoa(i), region, dc, strconv.FormatInt(rack, 10), os, arch,
			team, strconv.FormatInt(service, 10), strconv.FormatInt(version, 10), env}
	}

	// Hand-copied seed-123 values, so a change in math/rand itself shows up here.
	hand := [][10]string{
		{"host_0", "eu-central-1", "eu-central-1a", "6", "Ubuntu15.10", "x86", "SF", "19", "1", "test"},
		{"host_1", "us-west-1", "us-west-1a", "41", "Ubuntu15.10", "x64", "NYC", "9", "1", "staging"},
		{"host_2", "sa-east-1", "sa-east-1a", "89", "Ubuntu16.04LTS", "x86", "LON", "13", "0", "staging"},
	}
	for i := range hand {
		if want[i].tags != hand[i] {
			t.Fatalf("replayed tags of host %d = %q, hand-copied %q", i, want[i].tags, hand[i])
		}
	}

	g := New(Config{Hosts: 3, Start: DefaultStart, End: DefaultStart.Add(20 * time.Second), Seed: 123})
	if got := g.Hosts(); len(got) != 3 || got[0] != hand[0] || got[1] != hand[1] || got[2] != hand[2] {
		t.Fatalf("Hosts() = %q, want %q", got, hand)
	}
	var r Row
	for e := range 2 {
		if e > 0 {
			for i := range want {
				for f := range want[i].state {
					want[i].state[f] = min(max(want[i].state[f]+rng.NormFloat64(), 0), 100)
				}
			}
		}
		for i := range want {
			if !g.Next(&r) {
				t.Fatalf("epoch %d host %d: no row", e, i)
			}
			wantTime := DefaultStart.Add(time.Duration(e) * 10 * time.Second).UnixNano()
			if r.Time != wantTime || r.Host != i || *r.Tags != want[i].tags {
				t.Fatalf("epoch %d host %d: got time %d host %d tags %q", e, i, r.Time, r.Host, *r.Tags)
			}
			var fields [10]float64
			for f, v := range want[i].state {
				fields[f] = float64(int64(v))
			}
			if r.Fields != fields {
				t.Errorf("epoch %d host %d: fields %v, want %v", e, i, r.Fields, fields)
			}
			if e == 0 && i == 0 {
				if hf := [10]float64{58, 2, 24, 61, 22, 63, 6, 44, 80, 38}; r.Fields != hf {
					t.Errorf("host_0 first row fields %v, hand-copied %v", r.Fields, hf)
				}
			}
		}
	}
	if g.Next(&r) {
		t.Fatalf("extra row %+v", r)
	}
}

func TestRows(t *testing.T) {
	f := func(hosts int, span, interval time.Duration, want int) {
		t.Helper()
		g := New(Config{Hosts: hosts, Start: DefaultStart, End: DefaultStart.Add(span), Interval: interval, Seed: 1})
		if got := g.Rows(); got != want {
			t.Errorf("hosts %d span %v interval %v: Rows() = %d, want %d", hosts, span, interval, got, want)
		}
		n := 0
		var r Row
		for g.Next(&r) {
			n++
		}
		if n != want {
			t.Errorf("hosts %d span %v interval %v: Next gave %d rows, want %d", hosts, span, interval, n, want)
		}
	}
	f(100, 24*time.Hour, 0, 864_000)
	f(4, time.Hour, 10*time.Second, 4*360)
	f(4, time.Hour+time.Second, 0, 4*361) // timestamps strictly before End
	f(1, 10*time.Second, 0, 1)
	f(3, time.Minute, time.Minute, 3)
	f(0, time.Hour, 0, 0)
	f(5, 0, 0, 0)
	f(5, -time.Hour, 0, 0)
}

func TestNextNoAlloc(t *testing.T) {
	g := New(Config{Hosts: 10, Start: DefaultStart, End: DefaultStart.Add(24 * time.Hour), Seed: DefaultSeed})
	var r Row
	if n := testing.AllocsPerRun(1000, func() { g.Next(&r) }); n != 0 {
		t.Errorf("Next allocates %v times per row", n)
	}
}

// BenchmarkNext measures rows/s of Generator.Next at scale 100.
//
//	cd bench && go test -run '^$' -bench Next -count 10 ./tsbs > new.txt && benchstat old.txt new.txt
func BenchmarkNext(b *testing.B) {
	b.ReportAllocs()
	cfg := Config{Hosts: 100, Start: DefaultStart, End: DefaultStart.Add(24 * time.Hour), Seed: DefaultSeed}
	g := New(cfg)
	var r Row
	rows := 0
	for b.Loop() {
		if !g.Next(&r) {
			g = New(cfg)
			g.Next(&r)
		}
		rows++
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}
