package ugnos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ugnos/ugnos/arrowstore"
	"github.com/ugnos/ugnos/arrowstore/engine"
	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/functions"
)

// Continuous aggregates (CREATE MATERIALIZED VIEW … WITH
// (ugnos.continuous)): a GROUP BY time_bucket(…), tags… query over one raw
// table whose result is kept in a materialization table (an ordinary
// table, _cagg_<name>: time = the bucket, the grouped tags as tags, the
// aggregates as fields) and brought up to date in the background.
//
// State per aggregate: the watermark W (buckets before W are
// materialized) and the invalid spans: bucket-aligned ranges below W whose
// raw rows changed after they were materialized (late writes, deletes).
// The engine's Observer hook adds spans as writes and deletes commit, so
// nothing is scanned to find them. A refresh recomputes whole buckets
// from the raw table: each invalid span (delete its rows from the
// materialization, write the recomputed ones) and [W, now-lag), then
// advances W. Any aggregate can be kept this way, since no partial state
// is merged.
//
// Reading the view is always exact ("real time"): the view's text is
// generated at planning from the state as a UNION ALL of the
// materialization over [-inf, W) less the invalid spans, and the defining
// query over the raw table for each invalid span and [W, +inf). A
// refresh rewrites a span's rows under the aggregate's lock, which a
// reader holds from planning until its scans are open (scans read a
// consistent view from then on), so no reader sees half a rewrite.
//
// Durability: the definitions and state live in caggs.json (written
// atomically). Writes replayed from the WAL at Open invalidate again
// whatever they touch, and before a checkpoint truncates the WAL the
// state is saved, so a crash can only cause extra recomputation. A
// refresh saves after it has written the materialization: a crash in
// between recomputes the same spans again (delete, then write: idempotent).
//
// Raw rows older than the raw table's retention are gone for good:
// spans below that horizon are not recomputed, which keeps downsampled
// history alive after the raw rows expire (the point of downsampling).

const caggFile = "caggs.json"

// caggMatPrefix names materialization tables.
const caggMatPrefix = "_cagg_"

// caggMaxSpans bounds the invalid spans kept per aggregate; past it the
// closest ones merge (recomputing a little more).
const caggMaxSpans = 16

// caggDef is the definition of a continuous aggregate (immutable).
type caggDef struct {
	Tenant string `json:"tenant"`
	Name   string `json:"name"`
	Source string `json:"source"` // the raw table
	Mat    string `json:"materialization"`
	// Query is the defining SELECT as written (deparsed); MatQuery
	// computes the rows kept: Query with its outputs named and, for
	// gap filling, time_bucket in place of time_bucket_gapfill and the
	// locf/interpolate wrappers removed.
	Query    string        `json:"query"`
	MatQuery string        `json:"mat_query"`
	Width    int64         `json:"width"` // bucket width, ns
	Origin   int64         `json:"origin"`
	Columns  []caggColumn  `json:"columns"`
	Gapfill  *caggGapfill  `json:"gapfill,omitempty"`
	Refresh  time.Duration `json:"refresh_interval"`
	Lag      time.Duration `json:"lag"`
	// MaterializedOnly reads only the materialization (TimescaleDB's
	// timescaledb.materialized_only): faster, not real time.
	MaterializedOnly bool      `json:"materialized_only,omitempty"`
	Created          time.Time `json:"created"`
	// Owner is the role that created the aggregate: refreshes read the
	// raw table with its rights (grants.go). "": none, unrestricted
	// (the embedded API, the server's own accounts, files written before
	// owners were kept).
	Owner string `json:"owner,omitempty"`
}

// caggColumn is an output column of the view, in order.
type caggColumn struct {
	Name string `json:"name"`
	Role string `json:"role"` // bucket, tag, field
	Type string `json:"type"` // functions type name of a field
	// Fill is the gap-filling wrapper of a field ("locf(#, …)" as text
	// with # for the value), "" for none.
	Fill string `json:"fill,omitempty"`
}

// caggGapfill is what a view with time_bucket_gapfill fills with.
type caggGapfill struct {
	Start  string `json:"start"` // SQL expressions
	Finish string `json:"finish"`
}

type span struct{ lo, hi int64 } // [lo, hi)

type invalidSpan struct {
	span
	seq uint64
}

// cagg is a live continuous aggregate.
type cagg struct {
	def caggDef
	set *caggSet

	// rw: readers hold it shared from planning until their scans are
	// open; a refresh holds it while it rewrites spans below W.
	rw        sync.RWMutex
	refreshMu sync.Mutex // one refresh at a time

	st        sync.Mutex // the state below
	watermark int64
	invalid   []invalidSpan
	seq       uint64
	dirty     bool // invalid changed since the last save
	// effective is max(W, the W a running refresh moves to): the observer
	// invalidates what is below it (read without st on the write path).
	effective   atomic.Int64
	lastRefresh time.Time
	lastErr     string
	refreshes   int64

	// the raw table's newest time, to leave out the raw part of a read
	// when nothing is at or past W: writes since load raise seenMax;
	// a refresh reads what was there before (scanned, once)
	seenMax    atomic.Int64
	scannedMax atomic.Int64
	scanned    atomic.Bool

	stop chan struct{}
	done chan struct{}
}

func (c *cagg) bucket(t int64) int64 {
	return functions.TimeBucket(c.def.Width, clampTime(t), c.def.Origin)
}

// clampTime keeps bucket arithmetic away from overflow.
func clampTime(t int64) int64 {
	const lim = int64(1) << 62
	return max(min(t, lim), -lim)
}

// invalidate marks the buckets holding [minT, maxT] for recomputation if
// they are (or are being) materialized.
func (c *cagg) invalidate(minT, maxT int64) {
	eff := c.effective.Load()
	if minT >= eff {
		return
	}
	lo := c.bucket(minT)
	hi := c.bucket(min(maxT, eff-1)) + c.def.Width
	c.st.Lock()
	c.seq++
	c.invalid = addSpan(c.invalid, invalidSpan{span{lo, hi}, c.seq})
	c.dirty = true
	c.st.Unlock()
}

// addSpan adds s, merging it with spans it overlaps or touches (the merged
// span takes the newest seq) and, past caggMaxSpans, the closest pair.
func addSpan(list []invalidSpan, s invalidSpan) []invalidSpan {
	out := list[:0:0]
	for _, o := range list {
		if o.hi < s.lo || s.hi < o.lo {
			out = append(out, o)
			continue
		}
		s.lo, s.hi, s.seq = min(s.lo, o.lo), max(s.hi, o.hi), max(s.seq, o.seq)
	}
	out = append(out, s)
	sort.Slice(out, func(i, j int) bool { return out[i].lo < out[j].lo })
	for len(out) > caggMaxSpans {
		best := 0
		for i := 1; i+1 < len(out); i++ {
			if out[i+1].lo-out[i].hi < out[best+1].lo-out[best].hi {
				best = i
			}
		}
		a, b := out[best], out[best+1]
		out[best] = invalidSpan{span{a.lo, b.hi}, max(a.seq, b.seq)}
		out = slices.Delete(out, best+1, best+2)
	}
	return out
}

// state returns W and the invalid spans to read from the raw table:
// clipped to below W and to the raw table's retention horizon.
func (c *cagg) state(horizon int64) (int64, []span) {
	c.st.Lock()
	defer c.st.Unlock()
	var out []span
	for _, s := range c.invalid {
		lo, hi := max(s.lo, horizon), min(s.hi, c.watermark)
		if lo < hi {
			out = append(out, span{lo, hi})
		}
	}
	return c.watermark, out
}

// caggSet is a database's continuous aggregates and the engine observer
// that invalidates them.
type caggSet struct {
	db  *DB
	dir string

	mu       sync.Mutex // byName, saving
	byName   map[caggKey]*cagg
	bySource atomic.Pointer[map[caggKey][]*cagg] // (tenant, source table)

	// until load: what replayed writes touched, per (tenant, table)
	loaded  bool
	replays map[caggKey][]span
}

type caggKey struct{ tenant, name string }

var _ engine.CheckpointObserver = (*caggSet)(nil)

func newCaggSet(dir string) *caggSet {
	return &caggSet{dir: dir, byName: map[caggKey]*cagg{}, replays: map[caggKey][]span{}}
}

func (cs *caggSet) sources() map[caggKey][]*cagg {
	if p := cs.bySource.Load(); p != nil {
		return *p
	}
	return nil
}

// Written implements engine.Observer.
func (cs *caggSet) Written(ev *engine.WriteEvent) {
	cs.touched(ev.Tenant, ev.Table, ev.MinT, ev.MaxT, ev.Replay, true)
}

// Deleted implements engine.Observer.
func (cs *caggSet) Deleted(ev engine.DeleteEvent) {
	cs.touched(ev.Tenant, ev.Table, ev.MinT, ev.MaxT, ev.Replay, false)
}

// touched invalidates what rows written or deleted in [minT, maxT]
// change; a write also raises the newest raw time seen.
func (cs *caggSet) touched(tenant, table string, minT, maxT int64, replay, write bool) {
	if replay && !cs.loaded { // Open is replaying: definitions come later
		k := caggKey{tenant, table}
		var l []invalidSpan
		for _, s := range cs.replays[k] {
			l = append(l, invalidSpan{span: s})
		}
		l = addSpan(l, invalidSpan{span: span{clampTime(minT), clampTime(maxT) + 1}})
		spans := make([]span, len(l))
		for i, s := range l {
			spans[i] = s.span
		}
		cs.replays[k] = spans
		return
	}
	for _, c := range cs.sources()[caggKey{tenant, table}] {
		c.invalidate(minT, maxT)
		for write {
			cur := c.seenMax.Load()
			if maxT <= cur || c.seenMax.CompareAndSwap(cur, maxT) {
				break
			}
		}
	}
}

// rawAfter reports whether the raw table may hold rows at or after t.
func (c *cagg) rawAfter(t int64) bool {
	if !c.scanned.Load() {
		return true
	}
	return c.seenMax.Load() >= t || c.scannedMax.Load() >= t
}

// BeforeWALTruncate implements engine.CheckpointObserver: what the WAL
// records going away invalidated must not be lost.
func (cs *caggSet) BeforeWALTruncate() error {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	dirty := false
	for _, c := range cs.byName {
		c.st.Lock()
		dirty = dirty || c.dirty
		c.st.Unlock()
	}
	if !dirty {
		return nil
	}
	return cs.saveLocked()
}

type caggJSON struct {
	caggDef
	Watermark int64      `json:"watermark"`
	Invalid   [][2]int64 `json:"invalid,omitempty"`
}

type caggFileJSON struct {
	Version    int        `json:"version"`
	Aggregates []caggJSON `json:"aggregates"`
}

// saveLocked writes caggs.json (cs.mu held).
func (cs *caggSet) saveLocked() error {
	if cs.dir == "" {
		return nil
	}
	f := caggFileJSON{Version: 1, Aggregates: []caggJSON{}}
	keys := make([]caggKey, 0, len(cs.byName))
	for k := range cs.byName {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].tenant != keys[j].tenant {
			return keys[i].tenant < keys[j].tenant
		}
		return keys[i].name < keys[j].name
	})
	var saved []*cagg
	for _, k := range keys {
		c := cs.byName[k]
		c.st.Lock()
		j := caggJSON{caggDef: c.def, Watermark: c.watermark}
		for _, s := range c.invalid {
			j.Invalid = append(j.Invalid, [2]int64{s.lo, s.hi})
		}
		c.dirty = false
		c.st.Unlock()
		saved = append(saved, c)
		f.Aggregates = append(f.Aggregates, j)
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(cs.dir, caggFile, data); err != nil {
		for _, c := range saved {
			c.st.Lock()
			c.dirty = true
			c.st.Unlock()
		}
		return err
	}
	return nil
}

func (cs *caggSet) save() error {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.saveLocked()
}

// snapshotState is caggs.json as a snapshot carries it: taken before the
// engine's snapshot (so no refresh after it is claimed) and with every
// bucket below W above the raw retention marked for recomputation, since
// the snapshot's data may hold writes whose marks came after.
func (cs *caggSet) snapshotState() ([]byte, error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	f := caggFileJSON{Version: 1, Aggregates: []caggJSON{}}
	for _, c := range cs.listLocked() {
		c.st.Lock()
		j := caggJSON{caggDef: c.def, Watermark: c.watermark}
		c.st.Unlock()
		if j.Watermark > arrowstore.MinTime {
			j.Invalid = [][2]int64{{-(int64(1) << 62), j.Watermark}}
		}
		f.Aggregates = append(f.Aggregates, j)
	}
	return json.MarshalIndent(f, "", "  ")
}

// replace stops every aggregate and loads the ones of a restored
// snapshot (data nil: none).
func (cs *caggSet) replace(data []byte) error {
	cs.close()
	cs.mu.Lock()
	cs.byName = map[caggKey]*cagg{}
	cs.indexLocked()
	cs.mu.Unlock()
	if err := cs.loadFrom(data); err != nil {
		return err
	}
	return cs.save()
}

// load reads caggs.json, applies what the replayed WAL touched and
// starts the refreshers. It runs after the engine is open.
func (cs *caggSet) load(db *DB) error {
	cs.db = db
	var data []byte
	if cs.dir != "" {
		b, err := os.ReadFile(filepath.Join(cs.dir, caggFile))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		data = b
	}
	return cs.loadFrom(data)
}

func (cs *caggSet) loadFrom(data []byte) error {
	f, err := decodeCaggFile(data)
	if err != nil {
		return err
	}
	cs.mu.Lock()
	for _, j := range f.Aggregates {
		c := &cagg{def: j.caggDef, set: cs, watermark: j.Watermark}
		for _, s := range j.Invalid {
			c.seq++
			c.invalid = append(c.invalid, invalidSpan{span{s[0], s[1]}, c.seq})
		}
		c.effective.Store(c.watermark)
		c.seenMax.Store(arrowstore.MinTime)
		cs.byName[caggKey{c.def.Tenant, c.def.Name}] = c
	}
	cs.indexLocked()
	replays := cs.replays
	cs.replays = nil
	cs.loaded = true
	all := cs.listLocked()
	cs.mu.Unlock()
	for k, spans := range replays {
		for _, c := range cs.sources()[k] {
			for _, s := range spans {
				c.invalidate(s.lo, s.hi-1)
			}
		}
	}
	for _, c := range all {
		if err := cs.ensureMat(c); err != nil {
			return err
		}
		cs.start(c)
	}
	return nil
}

// decodeCaggFile decodes caggs.json (nil: none), checking what CREATE
// MATERIALIZED VIEW guarantees and the refreshers rely on: names, a
// positive bucket width and refresh interval.
func decodeCaggFile(data []byte) (caggFileJSON, error) {
	var f caggFileJSON
	if data == nil {
		return f, nil
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return f, errs.Wrap(errs.ErrCorrupt, errs.CodeDataCorrupted, err, "%s is damaged", caggFile)
	}
	for _, j := range f.Aggregates {
		d := j.caggDef
		if d.Tenant == "" || d.Name == "" || d.Source == "" || d.Mat == "" || d.Width <= 0 || d.Refresh <= 0 || d.Lag < 0 {
			return f, errs.New(errs.ErrCorrupt, errs.CodeDataCorrupted, "%s is damaged: continuous aggregate %q is not valid", caggFile, d.Name)
		}
	}
	return f, nil
}

// ensureMat creates a materialization table lost in a crash between
// saving the definition and creating it.
func (cs *caggSet) ensureMat(c *cagg) error {
	if _, err := cs.db.eng.Table(c.def.Tenant, c.def.Mat); err == nil {
		return nil
	}
	if !cs.db.eng.HasTenant(c.def.Tenant) {
		return nil // the database was dropped; the aggregate goes with it at the next DROP
	}
	return cs.db.eng.CreateTable(c.def.Tenant, c.def.Mat, c.def.matColumns(), true)
}

// matColumns is the materialization table's schema.
func (d *caggDef) matColumns() []arrowstore.Column {
	var cols []arrowstore.Column // time is implicit
	for _, col := range d.Columns {
		switch col.Role {
		case "tag":
			cols = append(cols, arrowstore.Column{Name: col.Name, Kind: arrowstore.KindTag})
		case "field":
			cols = append(cols, arrowstore.Column{Name: col.Name, Kind: arrowstore.KindField, Type: storeType(col.Type)})
		}
	}
	return cols
}

func storeType(name string) arrowstore.FieldType {
	switch name {
	case functions.TFloat.Name():
		return arrowstore.TypeFloat
	case functions.TInt.Name():
		return arrowstore.TypeInt
	case functions.TBool.Name():
		return arrowstore.TypeBool
	}
	return arrowstore.TypeString
}

// indexLocked rebuilds bySource (cs.mu held).
func (cs *caggSet) indexLocked() {
	m := map[caggKey][]*cagg{}
	for _, c := range cs.byName {
		k := caggKey{c.def.Tenant, c.def.Source}
		m[k] = append(m[k], c)
	}
	cs.bySource.Store(&m)
}

func (cs *caggSet) listLocked() []*cagg {
	out := make([]*cagg, 0, len(cs.byName))
	for _, c := range cs.byName {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].def, out[j].def
		if a.Tenant != b.Tenant {
			return a.Tenant < b.Tenant
		}
		return a.Name < b.Name
	})
	return out
}

// list returns a tenant's aggregates ("" for all), by name.
func (cs *caggSet) list(tenant string) []*cagg {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	var out []*cagg
	for _, c := range cs.listLocked() {
		if tenant == "" || c.def.Tenant == tenant {
			out = append(out, c)
		}
	}
	return out
}

func (cs *caggSet) get(tenant, name string) *cagg {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.byName[caggKey{tenant, name}]
}

// bySourceTable returns the aggregates over a table.
func (cs *caggSet) bySourceTable(tenant, table string) []*cagg {
	return cs.sources()[caggKey{tenant, table}]
}

// nameFree refuses a relation name a continuous aggregate has (42P07).
func (cs *caggSet) nameFree(tenant, name string) error {
	if cs.get(tenant, name) != nil {
		return errs.New(errs.ErrInvalidInput, "42P07", "relation %q already exists", name)
	}
	return nil
}

// isMat reports whether a table is some aggregate's materialization.
func (cs *caggSet) isMat(tenant, table string) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for _, c := range cs.byName {
		if c.def.Tenant == tenant && c.def.Mat == table {
			return true
		}
	}
	return false
}

// add registers a new aggregate, saves the definitions and creates its
// materialization table.
func (cs *caggSet) add(c *cagg) error {
	c.set = cs
	c.watermark = arrowstore.MinTime
	c.effective.Store(c.watermark)
	c.seenMax.Store(arrowstore.MinTime)
	cs.mu.Lock()
	k := caggKey{c.def.Tenant, c.def.Name}
	if cs.byName[k] != nil {
		cs.mu.Unlock()
		return errs.New(errs.ErrInvalidInput, "42P07", "relation %q already exists", c.def.Name)
	}
	cs.byName[k] = c
	if err := cs.saveLocked(); err != nil {
		delete(cs.byName, k)
		cs.mu.Unlock()
		return err
	}
	cs.indexLocked()
	cs.mu.Unlock()
	if err := cs.db.eng.CreateTable(c.def.Tenant, c.def.Mat, c.def.matColumns(), false); err != nil {
		cs.remove(c)
		return err
	}
	cs.start(c)
	return nil
}

// remove stops and forgets an aggregate (the caller drops its table).
func (cs *caggSet) remove(c *cagg) error {
	cs.mu.Lock()
	k := caggKey{c.def.Tenant, c.def.Name}
	if cs.byName[k] != c {
		cs.mu.Unlock()
		return nil
	}
	delete(cs.byName, k)
	cs.indexLocked()
	err := cs.saveLocked()
	cs.mu.Unlock()
	c.halt()
	return err
}

// drop removes an aggregate and its materialization table.
func (cs *caggSet) drop(c *cagg) error {
	if err := cs.remove(c); err != nil {
		return err
	}
	if err := c.lockWrite(context.Background()); err != nil { // no reader between planning and scanning
		return err
	}
	defer c.rw.Unlock()
	return cs.db.eng.DropTable(c.def.Tenant, c.def.Mat, true)
}

func (cs *caggSet) close() {
	for _, c := range cs.list("") {
		c.halt()
	}
}

// restart starts the refreshers close stopped.
func (cs *caggSet) restart() {
	for _, c := range cs.list("") {
		cs.start(c)
	}
}

// start runs the aggregate's background refresher.
func (cs *caggSet) start(c *cagg) {
	c.stop, c.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(c.done)
		t := time.NewTicker(c.def.Refresh)
		defer t.Stop()
		for {
			select {
			case <-c.stop:
				return
			case <-t.C:
			}
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				select {
				case <-c.stop:
					cancel()
				case <-ctx.Done():
				}
			}()
			if err := c.refresh(ctx); err != nil && ctx.Err() == nil {
				slog.Warn("continuous aggregate refresh failed", "tenant", c.def.Tenant, "view", c.def.Name, "owner", c.def.Owner, "err", err)
			}
			cancel()
		}
	}()
}

func (c *cagg) halt() {
	if c.stop == nil {
		return
	}
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	<-c.done
}

// horizon is the oldest time the raw table still holds (its retention).
func (c *cagg) horizon(now time.Time) int64 {
	d, err := c.set.db.eng.Retention(c.def.Tenant, c.def.Source)
	if err != nil || d <= 0 {
		return arrowstore.MinTime
	}
	h := now.Add(-d).UnixNano()
	b := c.bucket(h)
	if b < h {
		b += c.def.Width // the first whole bucket
	}
	return b
}

// refresh brings the materialization up to date: invalid spans are
// recomputed and W moves to the bucket holding now-lag. It reads the raw
// table with the owner's rights, whoever asks: without SELECT on it the
// refresh fails (42501) and materializes nothing.
func (c *cagg) refresh(ctx context.Context) (err error) {
	ctx = asOwner(ctx, c.def.Owner)
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	defer func() {
		c.st.Lock()
		c.lastRefresh = time.Now()
		c.refreshes++
		c.lastErr = ""
		if err != nil {
			c.lastErr = err.Error()
		}
		c.st.Unlock()
	}()
	now := time.Now()
	target := c.bucket(now.Add(-c.def.Lag).UnixNano())
	horizon := c.horizon(now)

	c.st.Lock()
	w, upTo := c.watermark, c.seq
	var redo []span
	for _, s := range c.invalid {
		if lo, hi := max(s.lo, horizon), min(s.hi, w); lo < hi {
			redo = append(redo, span{lo, hi})
		}
	}
	target = max(target, w)
	c.effective.Store(target) // writes from here on below target invalidate
	c.st.Unlock()

	for _, s := range redo {
		if err := c.materialize(ctx, s, true); err != nil {
			c.effective.Store(w)
			return err
		}
	}
	if target > w {
		if err := c.materialize(ctx, span{max(w, horizon), target}, false); err != nil {
			c.st.Lock()
			c.effective.Store(c.watermark)
			c.st.Unlock()
			return err
		}
	}
	c.st.Lock()
	c.watermark = target
	kept := c.invalid[:0:0]
	for _, s := range c.invalid {
		if s.seq > upTo {
			kept = append(kept, s)
		}
	}
	c.invalid = kept
	c.dirty = true
	c.st.Unlock()
	if !c.scanned.Load() {
		// writes from here on are in seenMax (it is maxed before the
		// scan starts); the scan sees everything before
		m, ok, err := c.rawMax(ctx, target)
		if err != nil {
			return err
		}
		if !ok {
			m = arrowstore.MinTime
		}
		c.scannedMax.Store(m)
		c.scanned.Store(true)
	}
	return c.set.save()
}

// caggChunk is the most buckets one materializing query computes.
const caggChunk = 1024

// materialize recomputes the buckets of s from the raw table. Spans below
// W are rewritten under rw (readers see them whole, before or after);
// spans at or above W are not read from the materialization until W moves.
func (c *cagg) materialize(ctx context.Context, s span, locked bool) error {
	s.lo = max(s.lo, -(int64(1) << 62)) // MinTime: far enough back, and no overflow below
	step := max(c.def.Width*caggChunk, int64(24*time.Hour)/c.def.Width*c.def.Width)
	if (s.hi-s.lo)/step > 64 {
		// a long span (the first refresh, a delete without a time range):
		// start at the raw table's first bucket in it
		first, ok, err := c.firstRaw(ctx, s.lo)
		if err != nil {
			return err
		}
		lo := s.hi
		if ok {
			lo = min(max(s.lo, c.bucket(first)), s.hi)
		}
		if lo > s.lo {
			if err := c.rewrite(ctx, span{s.lo, lo}, locked, false); err != nil {
				return err
			}
			s.lo = lo
		}
	}
	for lo := s.lo; lo < s.hi; lo += step {
		if err := c.rewrite(ctx, span{lo, min(s.hi, lo+step)}, locked, true); err != nil {
			return err
		}
	}
	return nil
}

// firstRaw is the raw table's first time at or after from.
func (c *cagg) firstRaw(ctx context.Context, from int64) (int64, bool, error) {
	return c.rawTime(ctx, "min", from)
}

// rawMax is the raw table's newest time at or after from.
func (c *cagg) rawMax(ctx context.Context, from int64) (int64, bool, error) {
	return c.rawTime(ctx, "max", from)
}

// rawTime is agg(time) over the raw table's rows at or after from (false:
// there are none).
func (c *cagg) rawTime(ctx context.Context, agg string, from int64) (int64, bool, error) {
	q := fmt.Sprintf("SELECT %s(time) FROM %s WHERE time >= %s", agg, quoteIdent(c.def.Source), timeLiteral(from))
	rd, err := c.set.db.SQL(ctx, c.def.Tenant, q)
	if err != nil {
		return 0, false, err
	}
	defer rd.Release()
	for rd.Next() {
		rec := rd.RecordBatch()
		if rec.NumRows() > 0 && rec.Column(0).IsValid(0) {
			v, err := timeValue(rec.Column(0), 0)
			return v, err == nil, err
		}
	}
	return 0, false, rd.Err()
}

// rewrite replaces the materialized rows of s by the recomputed ones
// (compute false: only deletes).
func (c *cagg) rewrite(ctx context.Context, s span, locked, compute bool) error {
	db := c.set.db
	var recs []materialRows
	if compute {
		var err error
		recs, err = c.compute(ctx, s)
		if err != nil {
			return err
		}
		defer func() {
			for _, r := range recs {
				r.release()
			}
		}()
	}
	if locked {
		if err := c.lockWrite(ctx); err != nil {
			return err
		}
		defer c.rw.Unlock()
	}
	if _, err := db.eng.Delete(ctx, c.def.Tenant, c.def.Mat, s.lo, s.hi-1, nil); err != nil {
		return err
	}
	for _, r := range recs {
		if err := db.eng.Write(ctx, c.def.Tenant, c.def.Mat, r.rec); err != nil {
			return err
		}
	}
	return nil
}

// lockWrite takes rw exclusively without blocking new readers while it
// waits (a statement may read several aggregates; a waiting writer must
// not stand between its read locks).
func (c *cagg) lockWrite(ctx context.Context) error {
	for wait := time.Microsecond * 50; !c.rw.TryLock(); wait = min(wait*2, 10*time.Millisecond) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
	return nil
}
