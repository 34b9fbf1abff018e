package bench

import (
	"bytes"
	"strings"
	"testing"
)

func TestWriteIngestTable(t *testing.T) {
	opts := IngestOptions{Rows: 1_000_000, Tenants: 100, Rounds: 3, ViaProxy: true}
	samples := make([]ingestSample, 3)
	samples[0].rate[untrackedDirect] = []float64{100, 110, 90}
	samples[0].rate[trackedDirect] = []float64{85, 88, 72}
	samples[0].rate[trackedProxy] = []float64{70, 80, 60}
	samples[0].marks = []int64{100, 300, 200}
	samples[1].rate[untrackedDirect] = []float64{100, 100, 100}
	samples[1].rate[trackedDirect] = []float64{79, 79, 79}
	var buf bytes.Buffer
	if err := writeIngestTable(&buf, []string{"header"}, opts.modes(), opts.targets(), samples); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"header\n", "tracked via proxy rows/s", "COPY 1M rows/stmt",
		"0.85x", "0.85 0.80 0.80", ">= 0.80x met", // medians 85/100; by round
		"0.79x", ">= 0.80x MISSED", " 200 ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	opts.ViaProxy = false
	buf.Reset()
	if err := writeIngestTable(&buf, nil, opts.modes(), opts.targets(), samples); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "via proxy") {
		t.Errorf("table without the proxy target has its column:\n%s", buf.String())
	}
}

func TestIngestOptionsValidate(t *testing.T) {
	if err := DefaultIngestOptions().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	for _, o := range []IngestOptions{{Rows: 0, Tenants: 1, Rounds: 1}, {Rows: 1, Tenants: 0, Rounds: 1}, {Rows: 1, Tenants: 1}} {
		if o.Validate() == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}
