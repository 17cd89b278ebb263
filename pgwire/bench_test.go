package pgwire_test

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

const benchDDL = `CREATE TABLE cpu (time timestamptz, hostname text, region text, datacenter text, rack text, os text, arch text,
 team text, service text, service_version text, service_environment text, usage_user double precision,
 usage_system double precision, usage_idle double precision, usage_nice double precision, usage_iowait double precision,
 usage_irq double precision, usage_softirq double precision, usage_steal double precision, usage_guest double precision,
 usage_guest_nice double precision)`

// benchCSV is TSBS-shaped CSV: 100 hosts, 10 tags, 10 fields.
func benchCSV(rows int) []byte {
	var b bytes.Buffer
	base := time.Date(2016, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < rows; i++ {
		b.WriteString(base.Add(time.Duration(i/100) * 10 * time.Second).Format(time.RFC3339))
		b.WriteString(",host_")
		b.WriteString(strconv.Itoa(i % 100))
		b.WriteString(",eu-central-1,eu-central-1a,6,Ubuntu15.10,x86,SF,19,1,test")
		for f := 0; f < 10; f++ {
			b.WriteByte(',')
			b.WriteString(strconv.Itoa((i*7 + f*13) % 100))
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// BenchmarkWire measures COPY FROM STDIN (CSV) and SELECT * in binary
// through a pgx client over loopback.
func BenchmarkWire(b *testing.B) {
	ts := startServer(b)
	c, err := pgx.Connect(ctx, ts.connString("postgres"))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(ctx)
	const n = 100000
	csv := benchCSV(n)
	if _, err := c.Exec(ctx, benchDDL); err != nil {
		b.Fatal(err)
	}
	if _, err := c.Exec(ctx, strings.Replace(benchDDL, "TABLE cpu", "TABLE cpu2", 1)); err != nil {
		b.Fatal(err)
	}
	if _, err := c.PgConn().CopyFrom(ctx, bytes.NewReader(csv), "COPY cpu FROM STDIN CSV"); err != nil {
		b.Fatal(err)
	}
	b.Run("copy-csv", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := c.Exec(ctx, "TRUNCATE cpu2"); err != nil {
				b.Fatal(err)
			}
			if _, err := c.PgConn().CopyFrom(ctx, bytes.NewReader(csv), "COPY cpu2 FROM STDIN CSV"); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("select-binary", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			rs, err := c.Query(ctx, "SELECT * FROM cpu", pgx.QueryResultFormats{pgx.BinaryFormatCode})
			if err != nil {
				b.Fatal(err)
			}
			k := 0
			for rs.Next() {
				k++
			}
			if rs.Err() != nil || k != n {
				b.Fatal(k, rs.Err())
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
}
