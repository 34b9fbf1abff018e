package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// Relay is the proxy benchmark's Go baseline: a TCP relay that copies bytes
// both ways with io.Copy, one goroutine per direction, and decodes nothing.
// It is what any goroutine-per-connection Go proxy costs at least, so
// spiral/relay tells spiral's own overhead apart from the Go runtime's
// network poller. It serves until ctx ends, then closes every connection.
func Relay(ctx context.Context, listen, upstream string) error {
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("relay: %w", err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("relay: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			relayConn(ctx, c, upstream)
		}()
	}
}

// relayConn copies between c and a new upstream connection until either
// side closes or ctx ends.
func relayConn(ctx context.Context, c net.Conn, upstream string) {
	defer c.Close()
	var d net.Dialer
	u, err := d.DialContext(ctx, "tcp", upstream)
	if err != nil {
		return
	}
	defer u.Close()
	stop := context.AfterFunc(ctx, func() { c.Close(); u.Close() })
	defer stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(u, c)
		u.Close()
	}()
	_, _ = io.Copy(c, u)
	c.Close()
	<-done
}

// startRelay runs Relay in a child process of this benchmark binary (see
// cmd/spiral-bench's relay command), so it competes for the CPUs as a
// process of its own, like PgBouncer and spiral.
func startRelay(ctx context.Context, dir string, pgPort int, dbname string) (*daemon, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("start relay: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	d, err := startDaemon(daemonSpec{
		name: "relay", path: self, port: port, logPath: filepath.Join(dir, "relay.log"),
		args: []string{"relay", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--upstream", fmt.Sprintf("127.0.0.1:%d", pgPort)},
	})
	if err != nil {
		return nil, err
	}
	if err := d.waitReady(ctx, dbname); err != nil {
		return nil, errors.Join(err, d.stop(syscall.SIGTERM))
	}
	return d, nil
}
