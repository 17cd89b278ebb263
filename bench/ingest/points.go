package ingest

import (
	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/bench/tsbs"
)

// PointBatch is one InsertBatch call: points of one field (table).
type PointBatch struct {
	Table  string
	Points []ugnos.Point
}

// Points turns the workload into single-value points: every row yields one
// point per field, written to a table named after the field, tagged with
// the host's 10 tags (one shared TagSet per host, as an application
// would keep it). Batches hold up to batch points of one field.
func Points(cfg tsbs.Config, batch int) []PointBatch {
	g := tsbs.New(cfg)
	hostTags := make([]ugnos.TagSet, 0)
	for _, h := range g.Hosts() {
		ts := ugnos.TagSet{}
		for i, v := range h {
			ts[tsbs.TagNames[i]] = v
		}
		hostTags = append(hostTags, ts)
	}
	var out []PointBatch
	cur := make([][]ugnos.Point, len(tsbs.FieldNames))
	var r tsbs.Row
	for g.Next(&r) {
		for f, v := range r.Fields {
			cur[f] = append(cur[f], ugnos.Point{Timestamp: r.Time, Value: v, Tags: hostTags[r.Host]})
			if len(cur[f]) == batch {
				out = append(out, PointBatch{Table: tsbs.FieldNames[f], Points: cur[f]})
				cur[f] = nil
			}
		}
	}
	for f, pts := range cur {
		if len(pts) > 0 {
			out = append(out, PointBatch{Table: tsbs.FieldNames[f], Points: pts})
		}
	}
	return out
}
