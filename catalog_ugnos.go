package ugnos

import (
	"context"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/ugnos/ugnos/arrowstore"
	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/functions"
	"github.com/ugnos/ugnos/planner"
)

// ugnos's own system relations, in the schema "ugnos" (always qualified:
// SELECT * FROM ugnos.metrics).
//
// ugnos.metrics has one row per figure of DB.Metrics under its Prometheus
// name (Metrics.Samples): counters and gauges as they are, summaries as
// name_count and name_sum, histograms also as name_bucket rows with the
// label le. Figures of every tenant are shown, whatever the statement's
// tenant; an ordinary role sees only those labelled with a database it
// may connect to.
//
// An ordinary role sees in the others only what is defined on tables it
// holds some privilege on (grants.go: catalogFilter): those continuous
// aggregates and retention policies, the rules it owns or whose reads it
// may run, and their alerts.
var ugnosRelations = map[string][]planner.ScanColumn{
	"metrics": {
		{Name: "name", Kind: planner.KindField, T: functions.TText},
		{Name: "tenant", Kind: planner.KindField, T: functions.TText}, // NULL unless labelled by tenant
		{Name: "labels", Kind: planner.KindField, T: functions.TText}, // Prometheus form: kind="invalid"; '' when none
		{Name: "type", Kind: planner.KindField, T: functions.TText},
		{Name: "value", Kind: planner.KindField, T: functions.TFloat},
		{Name: "help", Kind: planner.KindField, T: functions.TText},
	},
	// the statement's database's rules (rules_sql.go)
	"rules": {
		{Name: "id", Kind: planner.KindField, T: functions.TInt},
		{Name: "name", Kind: planner.KindField, T: functions.TText},
		{Name: "query", Kind: planner.KindField, T: functions.TText},
		{Name: "every", Kind: planner.KindField, T: functions.TInterval},
		{Name: "for", Kind: planner.KindField, T: functions.TInterval},
		{Name: "actions", Kind: planner.KindField, T: functions.TText}, // JSON
		{Name: "state", Kind: planner.KindField, T: functions.TText},   // inactive, pending, firing
		{Name: "last_eval", Kind: planner.KindField, T: functions.TTimestamp},
		{Name: "last_error", Kind: planner.KindField, T: functions.TText},
		{Name: "evaluations", Kind: planner.KindField, T: functions.TInt},
		{Name: "owner", Kind: planner.KindField, T: functions.TText}, // the role it runs as; NULL: none (unrestricted)
	},
	// events of the statement's database's rules, oldest first (the newest 1000 are kept)
	"alerts": {
		{Name: "at", Kind: planner.KindField, T: functions.TTimestamp},
		{Name: "rule_id", Kind: planner.KindField, T: functions.TInt},
		{Name: "rule", Kind: planner.KindField, T: functions.TText},
		{Name: "state", Kind: planner.KindField, T: functions.TText}, // firing, resolved
		{Name: "value", Kind: planner.KindField, T: functions.TFloat},
		{Name: "labels", Kind: planner.KindField, T: functions.TText}, // JSON object
	},
	// the statement's database's continuous aggregates (cagg.go)
	"continuous_aggregates": {
		{Name: "view_name", Kind: planner.KindField, T: functions.TText},
		{Name: "source_table", Kind: planner.KindField, T: functions.TText},
		{Name: "materialization_table", Kind: planner.KindField, T: functions.TText},
		{Name: "bucket_width", Kind: planner.KindField, T: functions.TInterval},
		{Name: "refresh_interval", Kind: planner.KindField, T: functions.TInterval},
		{Name: "lag", Kind: planner.KindField, T: functions.TInterval},
		{Name: "materialized_only", Kind: planner.KindField, T: functions.TBool},
		{Name: "watermark", Kind: planner.KindField, T: functions.TTimestamp}, // buckets before it are materialized; NULL: none yet
		{Name: "invalid_ranges", Kind: planner.KindField, T: functions.TInt},  // spans waiting to be recomputed
		{Name: "last_refresh", Kind: planner.KindField, T: functions.TTimestamp},
		{Name: "refreshes", Kind: planner.KindField, T: functions.TInt},
		{Name: "last_error", Kind: planner.KindField, T: functions.TText},
		{Name: "definition", Kind: planner.KindField, T: functions.TText},
		{Name: "owner", Kind: planner.KindField, T: functions.TText}, // the role it refreshes as; NULL: none (unrestricted)
	},
	// the statement's database's quotas (quota.go): one row per limit;
	// usage NULL where not meaningful
	"quotas": {
		{Name: "database", Kind: planner.KindField, T: functions.TText},
		{Name: "name", Kind: planner.KindField, T: functions.TText},
		{Name: "setting", Kind: planner.KindField, T: functions.TText}, // "0" / "-1": none
		{Name: "usage", Kind: planner.KindField, T: functions.TInt},
		{Name: "rejected", Kind: planner.KindField, T: functions.TInt},
	},
	// the server's API tokens (tokens.go), for superusers (others see
	// none); the secrets are not kept
	"tokens": {
		{Name: "name", Kind: planner.KindField, T: functions.TText},
		{Name: "database", Kind: planner.KindField, T: functions.TText},
		{Name: "scope", Kind: planner.KindField, T: functions.TText},
		{Name: "created", Kind: planner.KindField, T: functions.TTimestamp},
	},
	// the statement's database's retention: a row with table_name NULL
	// for the database's default, one per table with its own policy
	"retention_policies": {
		{Name: "table_name", Kind: planner.KindField, T: functions.TText},
		{Name: "drop_after", Kind: planner.KindField, T: functions.TInterval},
		{Name: "job_id", Kind: planner.KindField, T: functions.TInt},
	},
}

// ugnosTable is a relation of the schema ugnos behind the scan contract:
// each scan reads the figures anew.
type ugnosTable struct {
	db     *DB
	tenant string // the statement's (relations of one database)
	name   string
	client *Session // the statement's session (what it may see)
}

func (t *ugnosTable) Name() string                                           { return "ugnos." + t.name }
func (t *ugnosTable) Columns() []arrowstore.Column                           { return nil }
func (t *ugnosTable) HandledFilters([]arrowstore.Filter) []arrowstore.Filter { return nil }

func (t *ugnosTable) Schema() *arrow.Schema {
	cols := ugnosRelations[t.name]
	fs := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fs[i] = arrow.Field{Name: c.Name, Type: c.T.Arrow(), Nullable: true}
	}
	return arrow.NewSchema(fs, nil)
}

func (t *ugnosTable) Scan(ctx context.Context, req arrowstore.ScanRequest) (array.RecordReader, error) {
	if len(req.Filters) > 0 {
		return nil, errs.New(errs.ErrInternal, errs.CodeInternal, "BUG: tag filters on system relation %s", t.Name())
	}
	var rec arrow.RecordBatch
	if t.name == "metrics" {
		f := t.db.catalogFilter(t.client)
		var samples []Sample
		for _, s := range t.db.Metrics().Samples() {
			if f == nil || s.Label == "tenant" && f.database(s.LabelValue) {
				samples = append(samples, s)
			}
		}
		rec = metricsRecord(samples)
	} else if t.name == "continuous_aggregates" {
		rec = t.caggRecord()
	} else if t.name == "quotas" {
		rec = t.quotaRecord()
	} else if t.name == "tokens" {
		rec = t.tokenRecord()
	} else {
		r, err := t.ruleRecord()
		if err != nil {
			return nil, err
		}
		rec = r
	}
	defer rec.Release()
	if req.Columns != nil {
		sc := rec.Schema()
		fields := make([]arrow.Field, len(req.Columns))
		arrs := make([]arrow.Array, len(req.Columns))
		for i, name := range req.Columns {
			idx := sc.FieldIndices(name)
			if len(idx) == 0 {
				return nil, errs.New(errs.ErrInternal, errs.CodeInternal, "BUG: no column %q in %s", name, t.Name())
			}
			fields[i], arrs[i] = sc.Field(idx[0]), rec.Column(idx[0])
		}
		rec = array.NewRecordBatch(arrow.NewSchema(fields, nil), arrs, rec.NumRows())
		defer rec.Release()
	}
	return array.NewRecordReader(rec.Schema(), []arrow.RecordBatch{rec})
}

// metricsRecord lays samples out as the rows of ugnos.metrics.
func metricsRecord(samples []Sample) arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, (&ugnosTable{name: "metrics"}).Schema())
	defer b.Release()
	name := b.Field(0).(*array.StringBuilder)
	tenant := b.Field(1).(*array.StringBuilder)
	labels := b.Field(2).(*array.StringBuilder)
	typ := b.Field(3).(*array.StringBuilder)
	value := b.Field(4).(*array.Float64Builder)
	help := b.Field(5).(*array.StringBuilder)
	for _, s := range samples {
		lbl := ""
		if s.Label != "" {
			lbl = s.Label + "=" + strconv.Quote(s.LabelValue)
		}
		row := func(suffix, extra string, v float64) {
			name.Append(s.Name + suffix)
			if s.Label == "tenant" {
				tenant.Append(s.LabelValue)
			} else {
				tenant.AppendNull()
			}
			l := lbl
			if extra != "" && l != "" {
				l += ","
			}
			labels.Append(l + extra)
			typ.Append(s.Type)
			value.Append(v)
			help.Append(s.Help)
		}
		if s.Hist == nil {
			row("", "", s.Value)
			continue
		}
		if s.Type == "histogram" {
			for _, bk := range s.Hist.Buckets {
				row("_bucket", `le="`+strconv.FormatFloat(bk.UpperBound.Seconds(), 'g', -1, 64)+`"`, float64(bk.Count))
			}
			row("_bucket", `le="+Inf"`, float64(s.Hist.Count))
		}
		row("_sum", "", s.Hist.Sum.Seconds())
		row("_count", "", float64(s.Hist.Count))
	}
	return b.NewRecordBatch()
}
