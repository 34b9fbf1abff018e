package proxy_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"fmt"
	"io"
	"math/big"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"spiral/internal/pgtest"
	"spiral/proxy"
)

// authUsers configures one user per password method and returns a cleanup
// that restores trust for everyone.
func authUsers(t *testing.T) {
	t.Helper()
	c := pgtest.Cluster()
	if c == nil {
		t.Skip("SPIRAL_TEST_DSN is set: the test cannot change that server's pg_hba.conf")
	}
	admin := pgtest.AdminDSN()
	pgtest.Exec(t, admin, `
		DROP ROLE IF EXISTS md5_user; DROP ROLE IF EXISTS scram_user; DROP ROLE IF EXISTS pw_user;
		SET password_encryption = 'md5';
		CREATE ROLE md5_user LOGIN PASSWORD 'md5-secret';
		SET password_encryption = 'scram-sha-256';
		CREATE ROLE scram_user LOGIN PASSWORD 'scram-secret';
		CREATE ROLE pw_user LOGIN PASSWORD 'plain-secret';`)
	err := c.SetHBA(
		"local all all trust",
		"host all md5_user 127.0.0.1/32 md5",
		"host all scram_user 127.0.0.1/32 scram-sha-256",
		"host all pw_user 127.0.0.1/32 password",
		"host all all 127.0.0.1/32 trust",
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.SetHBA("local all all trust", "host all all 127.0.0.1/32 trust"); err != nil {
			t.Errorf("restore pg_hba.conf: %v", err)
		}
	})
}

func TestAuthMethods(t *testing.T) {
	authUsers(t)
	p := startProxy(t, nil)
	cases := []struct{ user, password string }{
		{"md5_user", "md5-secret"}, {"scram_user", "scram-secret"}, {"pw_user", "plain-secret"}, {"postgres", ""},
	}
	for _, c := range cases {
		t.Run(c.user, func(t *testing.T) {
			dsn := fmt.Sprintf("postgres://%s:%s@%s/postgres?sslmode=disable", c.user, c.password, p.addr)
			conn, err := pgx.Connect(ctxT(t), dsn)
			if err != nil {
				t.Fatalf("right password refused: %v", err)
			}
			defer conn.Close(ctxT(t))
			var who string
			if err := conn.QueryRow(ctxT(t), "SELECT current_user").Scan(&who); err != nil || who != c.user {
				t.Fatalf("current_user = %q, %v", who, err)
			}
			if c.password == "" {
				return
			}
			bad := fmt.Sprintf("postgres://%s:wrong@%s/postgres?sslmode=disable", c.user, p.addr)
			_, err = pgx.Connect(ctxT(t), bad)
			if sqlState(err) != "28P01" {
				t.Fatalf("wrong password: %v, want 28P01", err)
			}
		})
	}
}

// TestAuthPsqlPassword checks libpq's SCRAM and md5 through the proxy.
func TestAuthPsqlPassword(t *testing.T) {
	authUsers(t)
	p := startProxy(t, nil)
	host, port := p.hostPort()
	for _, c := range []struct{ user, pw string }{{"scram_user", "scram-secret"}, {"md5_user", "md5-secret"}} {
		cmd := exec.Command("psql", "-X", "-At", "-h", host, "-p", port, "-U", c.user, "-d", "postgres", "-c", "SELECT current_user")
		cmd.Env = append(cmd.Environ(), "PGPASSWORD="+c.pw)
		out, err := cmd.CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != c.user {
			t.Fatalf("psql as %s: %v: %s", c.user, err, out)
		}
		cmd = exec.Command("psql", "-X", "-At", "-h", host, "-p", port, "-U", c.user, "-d", "postgres", "-c", "SELECT 1")
		cmd.Env = append(cmd.Environ(), "PGPASSWORD=wrong")
		out, err = cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "password authentication failed") {
			t.Fatalf("psql with a wrong password as %s: %v: %s", c.user, err, out)
		}
	}
}

// selfSigned makes a throw-away certificate for 127.0.0.1.
func selfSigned(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "spiral-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

func TestTLSToClients(t *testing.T) {
	authUsers(t)
	cfg := selfSigned(t)
	p := startProxy(t, func(c *proxy.Config) { c.TLS = cfg })
	for _, user := range []string{"postgres", "scram_user"} {
		dsn := fmt.Sprintf("postgres://%s:scram-secret@%s/postgres?sslmode=require", user, p.addr)
		conn := connect(t, dsn)
		if _, ok := conn.PgConn().Conn().(*tls.Conn); !ok {
			t.Fatalf("%s: connection is %T, want *tls.Conn", user, conn.PgConn().Conn())
		}
		var one int
		if err := conn.QueryRow(ctxT(t), "SELECT 1").Scan(&one); err != nil {
			t.Fatalf("%s over TLS: %v", user, err)
		}
	}
	host, port := p.hostPort()
	out, err := exec.Command("psql", "-X", "-At", "-c", "SELECT 'tls ok'",
		fmt.Sprintf("host=%s port=%s user=postgres dbname=postgres sslmode=require", host, port)).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "tls ok" {
		t.Fatalf("psql sslmode=require: %v: %s", err, out)
	}
}

func TestNoTLSConfigured(t *testing.T) {
	p := startProxy(t, nil)
	_, err := pgx.Connect(ctxT(t), fmt.Sprintf("postgres://postgres@%s/postgres?sslmode=require", p.addr))
	if err == nil {
		t.Fatal("sslmode=require succeeded against a proxy without a certificate")
	}
	connect(t, fmt.Sprintf("postgres://postgres@%s/postgres?sslmode=prefer", p.addr))
}

// TestPlaintextAfterSSLRequestDiscarded sends a StartupMessage right behind
// the SSLRequest, before the handshake. The proxy must not treat those bytes
// as protocol: the connection fails instead of authenticating in plaintext.
func TestPlaintextAfterSSLRequestDiscarded(t *testing.T) {
	p := startProxy(t, func(c *proxy.Config) { c.TLS = selfSigned(t) })
	conn, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msg := []byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f} // SSLRequest
	msg = append(msg, startupPacket(map[string]string{"user": "postgres", "database": "postgres"})...)
	if _, err := conn.Write(msg); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	b := make([]byte, 1)
	if _, err := io.ReadFull(conn, b); err != nil || b[0] != 'S' {
		t.Fatalf("SSLRequest answer %q, %v", b, err)
	}
	rest, _ := io.ReadAll(conn)
	if len(rest) > 0 && rest[0] == 'R' {
		t.Fatalf("proxy authenticated a plaintext startup sent before the TLS handshake: %q", rest)
	}
}

// startupPacket encodes a protocol 3.0 StartupMessage.
func startupPacket(params map[string]string) []byte {
	body := binary.BigEndian.AppendUint32(nil, 3<<16)
	for k, v := range params {
		body = append(append(append(append(body, k...), 0), v...), 0)
	}
	body = append(body, 0)
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body)+4)), body...)
}
