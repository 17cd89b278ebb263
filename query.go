package ugnos

import (
	"context"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/ugnos/ugnos/arrowstore"
	"github.com/ugnos/ugnos/arrowstore/engine"
	"github.com/ugnos/ugnos/errs"
)

// QueryOptions selects and shapes the points Query returns.
type QueryOptions struct {
	// Start and End bound the time range, inclusive, in ns since the
	// epoch. Both zero means all time.
	Start, End int64
	// Tags, when not nil, keeps only series carrying every given value.
	Tags TagSet
	// Aggregation is "" (raw points) or one of avg, sum, min, max, count,
	// first, last.
	Aggregation string
	// Downsample, with an Aggregation, yields one point per series per
	// interval, at the interval's start (intervals are aligned to the
	// epoch). 0 aggregates each series over the whole range into one point
	// stamped with the series' earliest timestamp in the range.
	Downsample time.Duration
}

var aggregations = []string{"avg", "sum", "min", "max", "count", "first", "last"}

// Query returns the points of a table's "value" field. Raw points come
// ordered by time (ties by series); aggregates by time, then series.
// Unknown tenants and tables are ErrNotFound; inverted ranges, unknown
// aggregations and a negative Downsample are ErrInvalidInput.
func (db *DB) Query(ctx context.Context, tenant, series string, q QueryOptions) ([]DataPoint, error) {
	start := time.Now()
	db.queries.running.Add(1)
	pts, scanned, err := db.query(ctx, tenant, series, q)
	db.queries.running.Add(-1)
	db.queries.record(time.Since(start), scanned)
	if err != nil {
		db.queries.errors.add(err)
	}
	return pts, err
}

func (db *DB) query(ctx context.Context, tenant, series string, q QueryOptions) ([]DataPoint, int64, error) {
	if err := checkName("database", tenant); err != nil {
		return nil, 0, err
	}
	if err := checkName("table", series); err != nil {
		return nil, 0, err
	}
	if q.Start > q.End {
		return nil, 0, errs.Invalid("time range is inverted: start %d is after end %d", q.Start, q.End)
	}
	if q.Aggregation != "" && !slices.Contains(aggregations, q.Aggregation) {
		return nil, 0, errs.Invalid("unknown aggregation %q (want one of %s)", q.Aggregation, strings.Join(aggregations, ", "))
	}
	if q.Downsample < 0 {
		return nil, 0, errs.Invalid("downsample interval %v is negative", q.Downsample)
	}
	if q.Downsample > 0 && q.Aggregation == "" {
		return nil, 0, errs.Invalid("downsampling needs an aggregation")
	}
	minT, maxT := q.Start, q.End
	if minT == 0 && maxT == 0 {
		minT, maxT = arrowstore.MinTime, arrowstore.MaxTime
	}
	t, err := db.eng.Table(tenant, series)
	if err != nil {
		return nil, 0, err
	}
	var valueCol *arrowstore.Column
	for _, c := range t.Columns() {
		if c.Name == engine.ValueField && c.Kind == arrowstore.KindField {
			valueCol = &c
			break
		}
	}
	if valueCol == nil || (valueCol.Type != arrowstore.TypeFloat && valueCol.Type != arrowstore.TypeInt) {
		return nil, 0, errs.New(errs.ErrNotFound, errs.CodeUndefinedColumn, "table %q has no numeric field %q", series, engine.ValueField)
	}
	var stats arrowstore.ScanStats
	rd, err := t.Scan(ctx, arrowstore.ScanRequest{
		MinT: minT, MaxT: maxT,
		Columns: []string{arrowstore.TimeColumn, engine.ValueField, arrowstore.SeriesIDColumn},
		Filters: tagFilters(q.Tags),
		Stats:   &stats,
	})
	if err != nil {
		return nil, 0, err
	}
	defer rd.Release()
	st := t.(arrowstore.SeriesTable)
	tagsOf := map[uint32]TagSet{}
	tags := func(sid uint32) TagSet {
		ts, ok := tagsOf[sid]
		if !ok {
			ts = TagSet(st.SeriesTags(sid))
			tagsOf[sid] = ts
		}
		return ts
	}
	var out []DataPoint
	var agg *aggregator
	if q.Aggregation != "" {
		agg = newAggregator(q.Aggregation, int64(q.Downsample))
	}
	var sidOf []uint32 // raw points: series of each output point
	for rd.Next() {
		rec := rd.RecordBatch()
		tsA := rec.Column(0).(*array.Timestamp)
		sids := rec.Column(2).(*array.Uint32).Uint32Values()
		get := valueGetter(rec.Column(1))
		for i := 0; i < int(rec.NumRows()); i++ {
			v, ok := get(i)
			if !ok {
				continue // null
			}
			ts := int64(tsA.Value(i))
			if agg != nil {
				agg.add(sids[i], ts, v)
				continue
			}
			out = append(out, DataPoint{Timestamp: ts, Value: v})
			sidOf = append(sidOf, sids[i])
		}
	}
	if err := rd.Err(); err != nil {
		return nil, stats.RowsScanned.Load(), err
	}
	keys := map[uint32]string{}
	key := func(sid uint32) string {
		k, ok := keys[sid]
		if !ok {
			k = seriesKey(tags(sid))
			keys[sid] = k
		}
		return k
	}
	if agg != nil {
		out, sidOf = agg.result()
	}
	idx := make([]int, len(out))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		pa, pb := &out[idx[a]], &out[idx[b]]
		if pa.Timestamp != pb.Timestamp {
			return pa.Timestamp < pb.Timestamp
		}
		return key(sidOf[idx[a]]) < key(sidOf[idx[b]])
	})
	res := make([]DataPoint, len(out))
	for i, j := range idx {
		res[i] = out[j]
		res[i].Tags = tags(sidOf[j])
	}
	return res, stats.RowsScanned.Load(), nil
}

func valueGetter(a interface{ IsValid(int) bool }) func(int) (float64, bool) {
	switch a := a.(type) {
	case *array.Float64:
		vals := a.Float64Values()
		return func(i int) (float64, bool) { return vals[i], a.IsValid(i) }
	case *array.Int64:
		vals := a.Int64Values()
		return func(i int) (float64, bool) { return float64(vals[i]), a.IsValid(i) }
	}
	return func(int) (float64, bool) { return 0, false }
}

func seriesKey(t TagSet) string {
	ks := make([]string, 0, len(t))
	for k := range t {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	var b strings.Builder
	for _, k := range ks {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(t[k])
		b.WriteByte(',')
	}
	return b.String()
}

type aggKey struct {
	sid    uint32
	bucket int64
}

type aggState struct {
	count         int64
	sum           float64
	min, max      float64
	firstT, lastT int64
	firstV, lastV float64
	earliest      int64
}

type aggregator struct {
	fn     string
	every  int64
	states map[aggKey]*aggState
}

func newAggregator(fn string, every int64) *aggregator {
	return &aggregator{fn: fn, every: every, states: map[aggKey]*aggState{}}
}

// floorDiv rounds toward negative infinity.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func (a *aggregator) add(sid uint32, ts int64, v float64) {
	k := aggKey{sid: sid}
	if a.every > 0 {
		k.bucket = floorDiv(ts, a.every)
	}
	s := a.states[k]
	if s == nil {
		s = &aggState{min: math.Inf(1), max: math.Inf(-1), firstT: ts, lastT: ts, firstV: v, lastV: v, earliest: ts}
		a.states[k] = s
	}
	s.count++
	s.sum += v
	s.min = math.Min(s.min, v)
	s.max = math.Max(s.max, v)
	if ts < s.firstT {
		s.firstT, s.firstV = ts, v
	}
	if ts >= s.lastT { // ties: the later write wins
		s.lastT, s.lastV = ts, v
	}
	s.earliest = min(s.earliest, ts)
}

func (a *aggregator) result() ([]DataPoint, []uint32) {
	out := make([]DataPoint, 0, len(a.states))
	sids := make([]uint32, 0, len(a.states))
	for k, s := range a.states {
		p := DataPoint{Timestamp: s.earliest}
		if a.every > 0 {
			p.Timestamp = k.bucket * a.every
		}
		switch a.fn {
		case "avg":
			p.Value = s.sum / float64(s.count)
		case "sum":
			p.Value = s.sum
		case "min":
			p.Value = s.min
		case "max":
			p.Value = s.max
		case "count":
			p.Value = float64(s.count)
		case "first":
			p.Value = s.firstV
		case "last":
			p.Value = s.lastV
		}
		out = append(out, p)
		sids = append(sids, k.sid)
	}
	return out, sids
}
