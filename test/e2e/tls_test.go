package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/syncd-dev/syncd/test/testenv"
)

// TestTLSEverywhere runs syncd where every server refuses connections
// without TLS: a PostgreSQL source and target whose pg_hba.conf rejects
// syncd's role without SSL, a MariaDB source and target whose syncd user
// REQUIRE SSL, and a NATS server that requires TLS and a client
// certificate. The DSNs and the nats tls block name one private CA
// (sslmode=verify-full with sslrootcert; tls=true with SSL_CERT_FILE for
// MySQL), so each connection also verifies the server. Rows of both
// sources reaching both targets show that every connection (catalog,
// snapshot, replication and binlog, apply, NATS) passes TLS through.
func TestTLSEverywhere(t *testing.T) {
	pki := newTestPKI(t)
	pg := testenv.StartPostgres(t,
		testenv.WithSetting("ssl", "on"),
		testenv.WithSetting("ssl_cert_file", quoteConf(pki.cert)),
		testenv.WithSetting("ssl_key_file", quoteConf(pki.keyFor(t, "postgres"))))
	my := testenv.StartMariaDB(t,
		testenv.WithMariaDBOption("ssl-cert", pki.cert),
		testenv.WithMariaDBOption("ssl-key", pki.keyFor(t, "mysql")))
	ns := testenv.StartNATS(t, func(o *server.Options) {
		o.TLSConfig = pki.serverConfig(t)
		o.TLSVerify = true
	})

	pg.CreateDB(t, "app")
	pg.CreateDB(t, "replica")
	pg.Exec(t, "app", `CREATE ROLE syncd LOGIN SUPERUSER REPLICATION`,
		`CREATE TABLE pgitems (id int PRIMARY KEY, qty int NOT NULL)`,
		`INSERT INTO pgitems VALUES (1, 1)`)
	path := filepath.Join(pg.Dir, "pg_hba.conf")
	writeFile(t, path, "hostnossl all syncd all reject\nhostssl all syncd all trust\n"+readFile(t, path))
	pg.Exec(t, "postgres", `SELECT pg_reload_conf()`)

	my.CreateDB(t, "shop")
	my.CreateDB(t, "copy")
	my.Exec(t, "shop", `CREATE TABLE myitems (id int PRIMARY KEY, qty int NOT NULL)`, `INSERT INTO myitems VALUES (1, 1)`)
	for _, host := range []string{"localhost", "127.0.0.1"} {
		my.Exec(t, "", fmt.Sprintf(`CREATE USER 'syncd'@'%s' REQUIRE SSL`, host),
			fmt.Sprintf(`GRANT ALL ON *.* TO 'syncd'@'%s'`, host))
	}
	pgTLS := func(db string) string {
		return fmt.Sprintf("postgres://syncd@127.0.0.1:%d/%s?sslmode=verify-full&sslrootcert=%s", pg.Port, db, pki.ca)
	}
	myTLS := func(db string) string {
		return fmt.Sprintf("syncd@tcp(127.0.0.1:%d)/%s?tls=true", my.Port, db)
	}
	t.Setenv("SSL_CERT_FILE", pki.ca) // the roots of tls=true, in the syncd process
	d := testenv.NewSyncdExternalNATS(t, syncdBin, strings.Replace(ns.URL, "nats://", "tls://", 1), fmt.Sprintf(`
source "postgres" "app" { dsn = %q }
source "mysql" "shop" {
  dsn       = %q
  server_id = 4001
}
target "postgres" "replica" {
  dsn           = %q
  create_tables = true
}
target "mysql" "copy" {
  dsn           = %q
  create_tables = true
}
scope "pg" {
  source  = "app"
  targets = ["replica", "copy"]
  table "public.pgitems" { target = "copy.pgitems" }
}
scope "my" {
  source  = "shop"
  targets = ["replica", "copy"]
  table "shop.myitems" { target = "public.myitems" }
}`, pgTLS("app"), myTLS("shop"), pgTLS("replica"), myTLS("copy")))
	setBlock(t, d, "nats", fmt.Sprintf(`nats {
  url = %q
  tls {
    ca_file   = %q
    cert_file = %q
    key_file  = %q
  }
}`, d.NATSURL, pki.ca, pki.cert, pki.keyFor(t, "")))
	d.Start()
	pg.Exec(t, "app", `INSERT INTO pgitems VALUES (2, 2)`)
	my.Exec(t, "shop", `INSERT INTO myitems VALUES (2, 2)`)
	testenv.Eventually(t, time.Minute, 200*time.Millisecond, func() error {
		if n, err := mysqlCount(my.DSN("copy"), "pgitems"); err != nil || n != 2 {
			return fmt.Errorf("copy.pgitems at MariaDB holds %d rows (%v), want 2", n, err)
		}
		return nil
	})
	waitPGCount(t, pg.DSN("replica"), "myitems", 2)
}

// testPKI is a private CA and one certificate it signed for 127.0.0.1,
// good for servers and clients, as PEM files in a directory every server
// user can read.
type testPKI struct {
	dir, ca, cert string
	key           []byte // the certificate's private key, PEM
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	// Not under t.TempDir(), whose parent only the test's user can enter.
	dir, err := os.MkdirTemp("", "syncd-pki-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	caKey := newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "syncd test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key := newKey(t)
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	p := &testPKI{
		dir:  dir,
		ca:   filepath.Join(dir, "ca.pem"),
		cert: filepath.Join(dir, "cert.pem"),
		key:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}
	writeFile(t, p.ca, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})))
	writeFile(t, p.cert, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	for _, f := range []string{p.ca, p.cert} {
		if err := os.Chmod(f, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// keyFor writes a copy of the private key that only the system user owner
// can read (when the test runs as root; "" is the test's own user), as
// PostgreSQL and MariaDB require, and returns its path.
func (p *testPKI) keyFor(t *testing.T, owner string) string {
	t.Helper()
	path := filepath.Join(p.dir, "key-"+owner+".pem")
	writeFile(t, path, string(p.key))
	if owner != "" && os.Geteuid() == 0 {
		u, err := user.Lookup(owner)
		if err != nil {
			t.Fatal(err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(path, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// serverConfig is the TLS config of a server that requires client
// certificates signed by the CA.
func (p *testPKI) serverConfig(t *testing.T) *tls.Config {
	t.Helper()
	cert, err := tls.X509KeyPair([]byte(readFile(t, p.cert)), p.key)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM([]byte(readFile(t, p.ca)))
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    roots,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}
}

// quoteConf quotes a postgresql.conf string value.
func quoteConf(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// TestMySQLTLSPreferred reads a MariaDB server without TLS through a DSN
// with tls=preferred, which lets go-sql-driver fall back to plain text:
// the binlog connection must fall back too, not fail for want of TLS.
func TestMySQLTLSPreferred(t *testing.T) {
	my := testenv.StartMariaDB(t)
	dsn := strings.Replace(my.CreateDB(t, "shop"), "?", "?tls=preferred&", 1)
	my.Exec(t, "shop", `CREATE TABLE items (id int PRIMARY KEY)`)
	d := newDaemon(t, fmt.Sprintf(`
source "mysql" "shop" {
  dsn       = %q
  server_id = 4001
}
scope "items" {
  source   = "shop"
  snapshot = "never"
  table "shop.items" {}
}`, dsn))
	d.Start()
	my.Exec(t, "shop", `INSERT INTO items VALUES (1)`)
	waitCount(t, connect(t, d), "items", 1, time.Minute)
}
