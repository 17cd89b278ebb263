package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ugnos/ugnos/arrowstore"
	"github.com/ugnos/ugnos/internal/fuzzcheck"
)

// dump renders a decoded batch as plain values: table, time, then each
// column's name, kind and values (nil for NULL).
func dump(b *lpBatch) []any {
	var out []any
	for _, t := range b.tables {
		out = append(out, t.name, append([]int64(nil), t.time[:t.n]...))
		for _, c := range t.cols {
			vals := make([]any, t.n)
			for i := range vals {
				if i >= c.n || c.valid != nil && c.valid[i] == 0 {
					continue
				}
				switch {
				case c.tag:
					code := c.codes[i]
					vals[i] = "tag:" + string(c.data[c.offs[code]:c.offs[code+1]])
				case c.typ == arrowstore.TypeFloat:
					vals[i] = math.Float64bits(c.f64[i])
				case c.typ == arrowstore.TypeInt:
					vals[i] = c.i64[i]
				case c.typ == arrowstore.TypeBool:
					vals[i] = c.bools[i] != 0
				default:
					vals[i] = string(c.data[c.offs[i]:c.offs[i+1]])
				}
			}
			out = append(out, c.name, c.tag, c.typ, vals)
		}
	}
	return out
}

// checkSame decodes body with both decoders: where the fast one does not
// give up, both must agree on success and on every value.
func checkSame(t *testing.T, body []byte) (fastUsed bool) {
	t.Helper()
	fast, lib := getBatch(), getBatch()
	fast.mul, lib.mul, fast.now, lib.now = 1, 1, 42, 42
	ferr := fast.decodeFast(body)
	if errors.Is(ferr, errSlow) {
		return false
	}
	lerr := lib.decode(body)
	if (ferr == nil) != (lerr == nil) {
		t.Fatalf("%q: fast %v, library %v", body, ferr, lerr)
	}
	if ferr != nil {
		return true
	}
	if f, l := dump(fast), dump(lib); !reflect.DeepEqual(f, l) {
		t.Fatalf("%q:\nfast    %v\nlibrary %v", body, f, l)
	}
	return true
}

var lpCorpus = []string{
	"cpu,host=a usage=0.5 1700000000",
	"cpu,host=a,dc=b usage=1,idle=2i,n=3u,s=\"x y, z=1\",b=true,c=F,d=false,e=T,f=True,g=FALSE 17",
	"cpu usage=-1.5e3,x=.5,y=-.25,z=1e-3,w=1.,v=-0,u=0u,i=-0i",
	"  cpu v=1\n\n# comment\r\ncpu v=2\r\n",
	"cpu v=1 -5",
	"cpu v=12345678901234567",
	"cpu v=9007199254740993",
	"cpu v=+1",
	"cpu v=1e400",
	"cpu v=NaN",
	"cpu v=-Inf",
	"cpu v=0x10",
	"cpu v=1_0",
	"cpu v=1i,v=2i",
	"cpu,t=1 t=1",
	"cpu v=1  2",
	"cpu  v=1",
	"cpu v=1 ",
	"cpu,a=b",
	"cpu",
	"cpu,=b v=1",
	"cpu,a= v=1",
	"cpu,a=b=c v=1",
	"cpu v=",
	"cpu v=tru",
	"cpu v=\"unterminated",
	"cpu v=\"a\"x",
	"cpu v=1,",
	"cpu v=1 12x",
	"cpu v=1 99999999999999999999",
	"cpu v=99999999999999999999i",
	"cpu v=18446744073709551615u",
	"cpu v=-1u",
	"c\"pu,t\"ag=va\"l fi\"eld=1",
	"cpu,host=a v=1\nmem,host=a v=2i\ncpu,host=b w=true\ncpu,dc=x v=3",
	"cpu v=1\ncpu v=2i",
	"cpu time=1",
	"cpu,a=1,a=2 v=1",
	"cpu v=1\tv",
	"cpu v=1 1\r",
	"cpu\x01 v=1",
	"# only a comment",
	"#bad\x01comment",
	"",
}

func TestFastMatchesLibrary(t *testing.T) {
	used := 0
	for _, s := range lpCorpus {
		if checkSame(t, []byte(s)) {
			used++
		}
	}
	if used < len(lpCorpus)/3 { // most of the corpus is bad lines
		t.Errorf("the fast decoder took only %d of %d cases", used, len(lpCorpus))
	}
	// the fast decoder takes ordinary TSBS lines
	if !checkSame(t, tsbsLines(100)) {
		t.Error("the fast decoder gave up on TSBS lines")
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range lpCorpus {
		f.Add([]byte(s))
	}
	for _, s := range []string{
		"cpu,host=\xff\xfe v=1 1", "cpu v=\"\xc3\x28\" 1", "\xef\xbb\xbfcpu v=1",
		"cpu,host=a\\ b\\,c\\=d v=1", "cpu v=\"esc \\\" quote\\\\\"", "cpu\\ x,t=1 v=1\\",
		"cpu v=1 9223372036854775807", "cpu v=1 -9223372036854775808", "cpu v=-9223372036854775808i", "cpu v=9223372036854775808i",
		"cpu v=1\ncpu v=\"s\"\ncpu v=true\ncpu v=2i", "a v=1\nb v=1\nc v=1\nd v=1\na w=2",
		"cpu," + strings.Repeat("t=1,", 200) + "v=1 x=1", "cpu " + strings.Repeat("f=1,", 300) + "g=1",
		strings.Repeat("cpu,host=h v=1 1\n", 500), "cpu v=1\x00", "\n\n\r\n", "cpu,host=a v=1 1\r\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		defer fuzzcheck.Start(t, 10*time.Second)()
		checkSame(t, body)
		// What a request does (the fast decoder, then the library's on the
		// same batch if it gives up), in a batch that decoded another body
		// before, agrees with the library's alone in a fresh batch.
		prev := []byte(lpCorpus[len(body)%len(lpCorpus)])
		used, lib := newBatch(), newBatch()
		_ = used.decodeBody(prev)
		used.reset()
		uerr, lerr := used.decodeBody(body), lib.decode(body)
		if (uerr == nil) != (lerr == nil) {
			t.Fatalf("%q after %q: request %v, library %v", body, prev, uerr, lerr)
		}
		if uerr == nil {
			if u, l := dump(used), dump(lib); !reflect.DeepEqual(u, l) {
				t.Fatalf("%q after %q:\nrequest %v\nlibrary %v", body, prev, u, l)
			}
		}
	})
}

// newBatch is a batch that no request used before (getBatch may hand
// out a pooled one).
func newBatch() *lpBatch {
	b := batchPool.New().(*lpBatch)
	b.reset()
	b.mul, b.now = 1, 42
	return b
}

// tsbsLines are lines shaped like TSBS cpu-only (10 tags, 10 fields).
func tsbsLines(n int) []byte {
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "cpu,hostname=host_%d,region=eu-central-1,datacenter=eu-central-1a,rack=6,os=Ubuntu15.10,"+
			"arch=x86,team=SF,service=19,service_version=1,service_environment=test ", i%100)
		for f := 0; f < 10; f++ {
			sep := ","
			if f == 0 {
				sep = ""
			}
			fmt.Fprintf(&b, "%susage_%s%d=%d", sep, strings.Repeat("x", f%6), f, (i*7+f*13)%100)
		}
		fmt.Fprintf(&b, " %d\n", 1451606400000000000+int64(i/100)*1e10)
	}
	return b.Bytes()
}

// BenchmarkDecode compares the decoders on 5,000 TSBS-shaped lines:
//
//	go test -run '^$' -bench Decode -benchmem ./httpapi/
func BenchmarkDecode(b *testing.B) {
	body := tsbsLines(5000)
	for _, tc := range []struct {
		name string
		fn   func(*lpBatch, []byte) error
	}{
		{"library", (*lpBatch).decode},
		{"fast", (*lpBatch).decodeFast},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				bt := getBatch()
				bt.mul = 1
				if err := tc.fn(bt, body); err != nil {
					b.Fatal(err)
				}
				putBatch(bt)
			}
			b.ReportMetric(float64(b.N)*5000/b.Elapsed().Seconds(), "lines/s")
		})
	}
}
