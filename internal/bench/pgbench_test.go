package bench

import "testing"

// pgbench15Output is what pgbench 15 prints for a select-only run.
const pgbench15Output = `pgbench (15.8 (Debian 15.8-0+deb12u1))
transaction type: <builtin: select only>
scaling factor: 10
query mode: prepared
number of clients: 8
number of threads: 2
maximum number of tries: 1
duration: 10 s
number of transactions actually processed: 301234
number of failed transactions: 0 (0.000%)
latency average = 0.265 ms
initial connection time = 12.345 ms
tps = 30123.456789 (without initial connection time)
`

func TestParsePgbench(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		want    pgbenchResult
		wantErr bool
	}{
		{"pgbench 15", pgbench15Output, pgbenchResult{tps: 30123.456789, latencyMS: 0.265}, false},
		{"no tps", "latency average = 0.265 ms\n", pgbenchResult{}, true},
		{"no latency", "tps = 1.5 (without initial connection time)\n", pgbenchResult{}, true},
		{"empty", "", pgbenchResult{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parsePgbench(tt.out)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parsePgbench err = %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("parsePgbench = %+v, want %+v", got, tt.want)
			}
		})
	}
}
