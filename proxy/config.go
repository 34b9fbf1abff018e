package proxy

import (
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Config configures a Server. Start from DefaultConfig.
type Config struct {
	// Upstream is the PostgreSQL the proxy connects each session to, as a
	// libpq DSN or URL. Only its address and TLS settings (sslmode and
	// friends) are used; user, database and password come from each client.
	Upstream string
	// TLS, when set, lets clients upgrade with SSLRequest. Nil answers 'N'.
	TLS *tls.Config
	// MaxMessageSize caps the body of any message a client sends, in bytes.
	MaxMessageSize int
	// StartupTimeout bounds a client's startup and authentication exchange.
	StartupTimeout time.Duration
	// ConnectTimeout bounds dialing upstream (and its TLS handshake).
	ConnectTimeout time.Duration
	// Hook sees every statement text; nil relays statements untouched
	// without decoding them.
	Hook Hook
	// UpstreamSettings are run-time parameters sent in every upstream
	// startup packet, unless the client sent the same parameter itself.
	UpstreamSettings map[string]string
}

// DefaultConfig returns the configuration `spiral serve` starts from.
func DefaultConfig() Config {
	return Config{
		MaxMessageSize: 256 << 20,
		StartupTimeout: 60 * time.Second,
		ConnectTimeout: 10 * time.Second,
	}
}

// Validate reports the first problem with c.
func (c Config) Validate() error {
	if c.Upstream == "" {
		return errors.New("proxy: upstream DSN is required")
	}
	if _, err := pgconn.ParseConfig(c.Upstream); err != nil {
		return fmt.Errorf("proxy: upstream DSN: %w", err)
	}
	if c.MaxMessageSize < 1024 {
		return fmt.Errorf("proxy: max message size %d is below the 1024-byte minimum", c.MaxMessageSize)
	}
	if c.StartupTimeout <= 0 || c.ConnectTimeout <= 0 {
		return errors.New("proxy: startup and connect timeouts must be positive")
	}
	return nil
}
