package tsbs

import (
	"math/rand"
	"strconv"
	"time"
)

// TagNames are the cpu tags in TSBS column order (not draw order).
var TagNames = [10]string{
	"hostname", "region", "datacenter", "rack", "os", "arch",
	"team", "service", "service_version", "service_environment",
}

// FieldNames are the cpu fields in TSBS column order, which is also the draw order.
var FieldNames = [10]string{
	"usage_user", "usage_system", "usage_idle", "usage_nice", "usage_iowait",
	"usage_irq", "usage_softirq", "usage_steal", "usage_guest", "usage_guest_nice",
}

// Indexes into a host's tag array (see TagNames).
const (
	TagHostname = iota
	TagRegion
	TagDatacenter
	TagRack
	TagOS
	TagArch
	TagTeam
	TagService
	TagServiceVersion
	TagServiceEnvironment
)

const (
	// DefaultInterval is TSBS's devops sampling interval.
	DefaultInterval = 10 * time.Second
	// DefaultSeed is the seed used for ugnos's published runs.
	DefaultSeed int64 = 123
)

// DefaultStart is the start of TSBS's customary one-day window.
var DefaultStart = time.Date(2016, 1, 1, 0, 0, 0, 0, time.UTC)

type region struct {
	name        string
	datacenters []string
}

// regions in TSBS order; the draw for the datacenter depends on the region's list.
var regions = [9]region{
	{"us-east-1", []string{"us-east-1a", "us-east-1b", "us-east-1c", "us-east-1e"}},
	{"us-west-1", []string{"us-west-1a", "us-west-1b"}},
	{"us-west-2", []string{"us-west-2a", "us-west-2b", "us-west-2c"}},
	{"eu-west-1", []string{"eu-west-1a", "eu-west-1b", "eu-west-1c"}},
	{"eu-central-1", []string{"eu-central-1a", "eu-central-1b"}},
	{"ap-southeast-1", []string{"ap-southeast-1a", "ap-southeast-1b"}},
	{"ap-southeast-2", []string{"ap-southeast-2a", "ap-southeast-2b"}},
	{"ap-northeast-1", []string{"ap-northeast-1a", "ap-northeast-1c"}},
	{"sa-east-1", []string{"sa-east-1a", "sa-east-1b", "sa-east-1c"}},
}

var (
	archs        = [2]string{"x64", "x86"}
	oses         = [3]string{"Ubuntu16.10", "Ubuntu16.04LTS", "Ubuntu15.10"}
	teams        = [4]string{"SF", "NYC", "LON", "CHI"}
	environments = [3]string{"production", "staging", "test"}
)

// Config selects a slice of the workload. The zero Interval means
// DefaultInterval; Seed is used as given (DefaultSeed is 123).
type Config struct {
	Hosts      int           // scale: number of simulated hosts
	Start, End time.Time     // rows at Start, Start+Interval, ... strictly before End
	Interval   time.Duration // between epochs; 0 means DefaultInterval
	Seed       int64         // math/rand seed
}

// Row is one cpu sample. Tags points into the generator's host table and must
// not be modified; it stays valid for the generator's lifetime.
type Row struct {
	Time   int64       // nanoseconds since the Unix epoch
	Host   int         // host index, 0 … Hosts-1
	Tags   *[10]string // in TagNames order
	Fields [10]float64 // in FieldNames order; integer-valued, 0 … 100
}

// Generator produces rows epoch by epoch and, within an epoch, host by host,
// which is TSBS's order. It is not safe for concurrent use.
type Generator struct {
	rng      *rand.Rand
	hosts    [][10]string
	state    [][10]float64
	start    int64 // ns
	interval int64 // ns
	epochs   int

	epoch, host int // position of the next row
}

// New returns a generator positioned at the first row. It draws the hosts'
// initial states and tags immediately.
func New(cfg Config) *Generator {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	n := max(cfg.Hosts, 0)
	g := &Generator{
		rng:      rand.New(rand.NewSource(cfg.Seed)),
		hosts:    make([][10]string, n),
		state:    make([][10]float64, n),
		start:    cfg.Start.UnixNano(),
		interval: int64(cfg.Interval),
	}
	if span := cfg.End.Sub(cfg.Start); span > 0 && n > 0 {
		g.epochs = int((span + cfg.Interval - 1) / cfg.Interval)
	}
	for i := range n {
		g.newHost(i)
	}
	return g
}

// newHost draws host i's initial field states, then its tags, in TSBS order.
func (g *Generator) newHost(i int) {
	r := g.rng
	for f := range g.state[i] {
		g.state[i][f] = r.Float64() * 100
	}
	t := &g.hosts[i]
	reg := &regions[r.Intn(len(regions))]
	t[TagHostname] = "host_" + strconv.Itoa(i)
	t[TagRegion] = reg.name
	t[TagDatacenter] = reg.datacenters[r.Intn(len(reg.datacenters))]
	t[TagRack] = strconv.FormatInt(r.Int63n(100), 10)
	t[TagArch] = archs[r.Intn(len(archs))]
	t[TagOS] = oses[r.Intn(len(oses))]
	t[TagService] = strconv.FormatInt(r.Int63n(20), 10)
	t[TagServiceVersion] = strconv.FormatInt(r.Int63n(2), 10)
	t[TagServiceEnvironment] = environments[r.Intn(len(environments))]
	t[TagTeam] = teams[r.Intn(len(teams))]
}

// step advances every field of every host by one clamped random-walk step.
func (g *Generator) step() {
	r := g.rng
	for i := range g.state {
		s := &g.state[i]
		for f := range s {
			v := s[f] + r.NormFloat64()
			s[f] = min(max(v, 0), 100)
		}
	}
}

// Next fills r with the next row and reports whether there was one.
// It does not allocate.
func (g *Generator) Next(r *Row) bool {
	if g.epoch >= g.epochs {
		return false
	}
	if g.host == 0 && g.epoch > 0 {
		g.step()
	}
	i := g.host
	r.Time = g.start + int64(g.epoch)*g.interval
	r.Host = i
	r.Tags = &g.hosts[i]
	for f, v := range g.state[i] {
		r.Fields[f] = float64(int64(v))
	}
	g.host++
	if g.host == len(g.hosts) {
		g.host = 0
		g.epoch++
	}
	return true
}

// Hosts returns the hosts' tags in TagNames order. The slice is the
// generator's own and must not be modified.
func (g *Generator) Hosts() [][10]string { return g.hosts }

// Epochs returns the number of timestamps the generator covers.
func (g *Generator) Epochs() int { return g.epochs }

// Rows returns the total number of rows the generator produces from the start,
// hosts × epochs.
func (g *Generator) Rows() int { return len(g.hosts) * g.epochs }
