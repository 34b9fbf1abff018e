package proxy_test

import (
	"testing"

	"spiral/internal/pgtest"
	"spiral/proxy"
)

// TestUpstreamSettings: configured upstream settings apply to sessions
// that did not choose the parameter themselves, and never override one a
// client sent in its startup packet.
func TestUpstreamSettings(t *testing.T) {
	p := startProxy(t, func(c *proxy.Config) { c.UpstreamSettings = map[string]string{"jit": "off"} })
	dsn := p.dsn(t, pgtest.NewDB(t))
	var got string
	if err := connect(t, dsn).QueryRow(ctxT(t), "SHOW jit").Scan(&got); err != nil || got != "off" {
		t.Fatalf("SHOW jit = %q (%v), want off", got, err)
	}
	if err := connect(t, dsn+"&jit=on").QueryRow(ctxT(t), "SHOW jit").Scan(&got); err != nil || got != "on" {
		t.Fatalf("client's jit=on: SHOW jit = %q (%v), want on", got, err)
	}
}
