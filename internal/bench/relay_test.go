package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

// TestRelayCopiesBothWaysAndStops runs the relay in front of an echo server
// and checks the bytes come back, then that cancelling stops the relay and
// closes its open connections.
func TestRelayCopiesBothWaysAndStops(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Relay(ctx, addr, echo.Addr().String()) }()
	var c net.Conn
	for i := 0; ; i++ {
		if c, err = net.Dial("tcp", addr); err == nil || i == 100 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := []byte("hello through the relay")
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != string(msg) {
		t.Fatalf("read %q, %v; want %q", got, err, msg)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Relay: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Relay did not return after cancel")
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(got); err == nil {
		t.Fatalf("connection still open after the relay stopped: read %d bytes", n)
	}
}
