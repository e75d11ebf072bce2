package nats

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/sparknet/sparknet/parallel"
)

func TestListenBeyondLoopbackNeedsCredentials(t *testing.T) {
	dir := t.TempDir()
	_, err := StartServer(ServerConfig{Listen: "0.0.0.0:0", StoreDir: dir})
	if err == nil || !strings.Contains(err.Error(), "refusing to listen on 0.0.0.0 without credentials") {
		t.Fatalf("listening on all interfaces without credentials: %v", err)
	}
	for _, host := range []string{"127.0.0.1", "localhost", "[::1]"} {
		if err := checkListen(strings.Trim(host, "[]"), Security{}); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
	if err := checkListen("", Security{Token: "x"}); err != nil {
		t.Errorf("all interfaces with a token: %v", err)
	}
	if err := checkListen("10.0.0.1", Security{TLSCert: "c", TLSKey: "k"}); err == nil {
		t.Error("TLS without client verification counted as credentials")
	}
	srv, err := StartServer(ServerConfig{Listen: "0.0.0.0:0", StoreDir: dir, Security: Security{Token: "t0ken"}})
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
}

// TestTokenAuth: the right token connects, a wrong or missing one is
// refused, and the refusal is logged.
func TestTokenAuth(t *testing.T) {
	log := &syncBuffer{}
	srv, err := StartServer(ServerConfig{StoreDir: t.TempDir(), Security: Security{Token: "right"}, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, err := Connect(srv.URL(), "test", Security{Token: "right"})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	for _, sec := range []Security{{Token: "wrong"}, {}} {
		if c, err := Connect(srv.URL(), "test", sec); err == nil {
			c.Close()
			t.Errorf("connected with %+v", sec)
		} else if !strings.Contains(err.Error(), "Authorization Violation") {
			t.Errorf("refusal of %+v: %v", sec, err)
		}
	}
	if !strings.Contains(log.String(), "authentication error") {
		t.Errorf("the refused logins are not logged:\n%s", log.String())
	}
}

// TestNKeyAuth: a worker with the seed connects, one with another seed is
// refused; a file of public keys authorizes them on the server.
func TestNKeyAuth(t *testing.T) {
	dir := t.TempDir()
	seedFile := func(name string) (string, string) {
		kp, err := nkeys.CreateUser()
		if err != nil {
			t.Fatal(err)
		}
		seed, _ := kp.Seed()
		pub, _ := kp.PublicKey()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, append([]byte("# a user nkey\n"), seed...), 0o600); err != nil {
			t.Fatal(err)
		}
		return path, pub
	}
	good, goodPub := seedFile("good.nk")
	other, _ := seedFile("other.nk")
	for _, serverFile := range []string{good, filepath.Join(dir, "pubs")} {
		if err := os.WriteFile(filepath.Join(dir, "pubs"), []byte(goodPub+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		srv, err := StartServer(ServerConfig{StoreDir: t.TempDir(), Security: Security{NKeyFile: serverFile}})
		if err != nil {
			t.Fatal(err)
		}
		c, err := Connect(srv.URL(), "test", Security{NKeyFile: good})
		if err != nil {
			t.Errorf("server %s: the right seed: %v", serverFile, err)
		} else {
			c.Close()
		}
		if c, err := Connect(srv.URL(), "test", Security{NKeyFile: other}); err == nil {
			c.Close()
			t.Errorf("server %s: another seed connected", serverFile)
		}
		srv.Close()
	}
	if _, err := Connect("nats://127.0.0.1:1", "test", Security{NKeyFile: filepath.Join(dir, "pubs")}); err == nil ||
		!strings.Contains(err.Error(), "needs a user nkey seed") {
		t.Errorf("a client with only public keys: %v", err)
	}
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("SUnotakey\n"), 0o600)
	if _, err := readNKeyFile(bad); err == nil || !strings.Contains(err.Error(), "bad:1") {
		t.Errorf("a malformed seed: %v", err)
	}
}

// TestTLSClientCertificates: with a CA the embedded server requires client
// certificates signed by it; a client without one, or with one from another
// CA, is refused; an unverified server is refused by the client.
func TestTLSClientCertificates(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "sparknet test CA")
	otherCA := newCA(t, "other CA")
	caFile := ca.writeCert(t, dir, "ca.pem")
	otherCAFile := otherCA.writeCert(t, dir, "other-ca.pem")
	srvCert, srvKey := ca.issue(t, dir, "server", true)
	cliCert, cliKey := ca.issue(t, dir, "client", false)
	strangerCert, strangerKey := otherCA.issue(t, dir, "stranger", false)

	log := &syncBuffer{}
	srv, err := StartServer(ServerConfig{Listen: "127.0.0.1:0", StoreDir: t.TempDir(), Log: log,
		Security: Security{TLSCert: srvCert, TLSKey: srvKey, TLSCA: caFile}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	url := srv.URL()
	if !strings.HasPrefix(url, "tls://") {
		t.Errorf("URL %s", url)
	}
	c, err := Connect(url, "test", Security{TLSCert: cliCert, TLSKey: cliKey, TLSCA: caFile})
	if err != nil {
		t.Fatalf("a client with a certificate from the CA: %v", err)
	}
	c.Close()
	for name, sec := range map[string]Security{
		"no client certificate":              {TLSCA: caFile},
		"a certificate from another CA":      {TLSCert: strangerCert, TLSKey: strangerKey, TLSCA: caFile},
		"a server the client does not trust": {TLSCert: cliCert, TLSKey: cliKey, TLSCA: otherCAFile},
	} {
		if c, err := Connect(url, "test", sec); err == nil {
			c.Close()
			t.Errorf("connected with %s", name)
		}
	}
	// Mutual TLS counts as credentials for listening beyond loopback.
	if err := checkListen("0.0.0.0", Security{TLSCert: srvCert, TLSKey: srvKey, TLSCA: caFile}); err != nil {
		t.Error(err)
	}
}

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	der  []byte
}

func newCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, der: der}
}

func (ca *testCA) writeCert(t *testing.T, dir, name string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// issue makes a certificate for 127.0.0.1 and localhost (server) or a
// client, and returns the certificate and key files.
func (ca *testCA) issue(t *testing.T, dir, name string, server bool) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		tmpl.DNSNames = []string{"localhost"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}

// TestEngineOverMutualTLS runs a short training on the embedded server with
// client certificates required: the driver connects in process, the worker
// with its certificate.
func TestEngineOverMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "sparknet test CA")
	caFile := ca.writeCert(t, dir, "ca.pem")
	srvCert, srvKey := ca.issue(t, dir, "server", true)
	cliCert, cliKey := ca.issue(t, dir, "client", false)
	log := &syncBuffer{}
	eng := New(Config{StoreDir: filepath.Join(dir, "nats"), Log: log,
		Security: Security{TLSCert: srvCert, TLSKey: srvKey, TLSCA: caFile}})
	started := make(chan string, 1)
	eng.started = started
	stopped := make(chan func(), 1)
	go func() {
		url := <-started
		stopped <- startWorkers(t, url, Security{TLSCert: cliCert, TLSKey: cliKey, TLSCA: caFile}, 1, log, "")
	}()
	param := tinySolver(t, dir, 8)
	_, err := parallel.Train(context.Background(), parallel.Config{Solver: param, Workers: 2, Tau: 4}, eng)
	(<-stopped)()
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
}
