package ugnos

import (
	"context"
	"testing"
)

// BenchmarkQuotaAdmit: what the quota check adds to each write in the
// root's write paths (admitIngest), for a database without a quota and
// for one with an ingest rate (never binding).
//
//	go test -run '^$' -bench BenchmarkQuotaAdmit -benchmem .
func BenchmarkQuotaAdmit(b *testing.B) {
	db, err := Open("")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	for _, name := range []string{"acme", "other"} {
		if err := db.CreateDatabase(name); err != nil {
			b.Fatal(err)
		}
	}
	if err := db.SetQuota("acme", Quota{ConnectionLimit: -1, MaxSeries: 1 << 20, MaxIngestRowsPerSecond: 1 << 40}); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, c := range []struct{ name, tenant string }{{"none", "other"}, {"rate", "acme"}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := db.admitIngest(ctx, c.tenant, 1000); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
