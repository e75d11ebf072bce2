package nats

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	nc "github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// Security is how the processes of a run authenticate to the NATS server and
// protect the link: a shared token or a user nkey, and TLS. The driver and
// the workers of a run use the same values; the embedded server is
// configured from the driver's.
type Security struct {
	// Token is a shared secret (nats://...; the server's authorization
	// token). Prefer NKeyFile or TLS client certificates on untrusted
	// networks: a token crosses the link, in clear without TLS.
	Token string
	// NKeyFile is a file holding a user nkey seed ("SU..."), as written
	// by `nk -gen user`. Clients sign the server's nonce with it; the
	// embedded server accepts its public key. For the embedded server the
	// file may instead list public user keys ("U...", one a line), which
	// are all accepted (the driver then needs a seed too: give it a file
	// whose first line is the seed).
	NKeyFile string
	// TLSCert and TLSKey are a PEM certificate and key: the server's on
	// the embedded server, a client certificate on a client.
	TLSCert, TLSKey string
	// TLSCA is a PEM file of CA certificates: clients verify the server
	// with it; the embedded server requires and verifies client
	// certificates signed by it (mutual TLS).
	TLSCA string
}

// HasCredentials reports whether clients must prove who they are: a token,
// an nkey, or a client certificate verified against a CA.
func (s Security) HasCredentials() bool {
	return s.Token != "" || s.NKeyFile != "" || (s.TLSCA != "" && s.TLSCert != "")
}

// check validates combinations that cannot work.
func (s Security) check() error {
	if s.Token != "" && s.NKeyFile != "" {
		return errors.New("give a token or an nkey file, not both")
	}
	if (s.TLSCert == "") != (s.TLSKey == "") {
		return errors.New("a TLS certificate needs its key and a key its certificate (-tls-cert with -tls-key)")
	}
	return nil
}

// nkeyFile is a parsed nkey file: an optional user seed and the public keys
// it names.
type nkeyFile struct {
	seed    []byte
	publics []string
}

// readNKeyFile reads a seed ("SU...") and/or public user keys ("U...").
// Blank lines and lines starting with # or // are ignored, so the output of
// `nk -gen user -pubout` works as it is.
func readNKeyFile(path string) (nkeyFile, error) {
	var f nkeyFile
	raw, err := os.ReadFile(path)
	if err != nil {
		return f, fmt.Errorf("nkey file: %w", err)
	}
	for n, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "", strings.HasPrefix(line, "#"), strings.HasPrefix(line, "//"):
			continue
		case strings.HasPrefix(line, "SU"):
			kp, err := nkeys.FromSeed([]byte(line))
			if err != nil {
				return f, fmt.Errorf("%s:%d: not a valid user nkey seed: %w", path, n+1, err)
			}
			pub, err := kp.PublicKey()
			if err != nil {
				return f, fmt.Errorf("%s:%d: %w", path, n+1, err)
			}
			if f.seed == nil {
				f.seed = []byte(line)
			}
			f.publics = append(f.publics, pub)
		case strings.HasPrefix(line, "U"):
			if !nkeys.IsValidPublicUserKey(line) {
				return f, fmt.Errorf("%s:%d: not a valid public user nkey", path, n+1)
			}
			f.publics = append(f.publics, line)
		default:
			return f, fmt.Errorf("%s:%d: expected a user nkey seed (SU...) or public key (U...)", path, n+1)
		}
	}
	if len(f.publics) == 0 {
		return f, fmt.Errorf("%s: no nkey in the file", path)
	}
	return f, nil
}

// clientOptions returns the nats.go options that present s's credentials
// and TLS settings; name names the connection (shown by the server).
func (s Security) clientOptions(name string) ([]nc.Option, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	opts := []nc.Option{
		nc.Name(name),
		nc.MaxReconnects(-1),
		nc.ReconnectWait(250 * time.Millisecond),
		nc.Timeout(10 * time.Second),
	}
	if s.Token != "" {
		opts = append(opts, nc.Token(s.Token))
	}
	if s.NKeyFile != "" {
		f, err := readNKeyFile(s.NKeyFile)
		if err != nil {
			return nil, err
		}
		if f.seed == nil {
			return nil, fmt.Errorf("%s: a client needs a user nkey seed (SU...), the file has only public keys", s.NKeyFile)
		}
		kp, err := nkeys.FromSeed(f.seed)
		if err != nil {
			return nil, err
		}
		pub, _ := kp.PublicKey()
		opts = append(opts, nc.Nkey(pub, func(nonce []byte) ([]byte, error) { return kp.Sign(nonce) }))
	}
	if s.TLSCert != "" {
		opts = append(opts, nc.ClientCert(s.TLSCert, s.TLSKey))
	}
	if s.TLSCA != "" {
		opts = append(opts, nc.RootCAs(s.TLSCA))
	}
	return opts, nil
}

// Connect dials url with s's credentials. The connection reconnects
// forever; close it when done.
func Connect(url, name string, s Security) (*nc.Conn, error) {
	opts, err := s.clientOptions(name)
	if err != nil {
		return nil, err
	}
	conn, err := nc.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", RedactURL(url), err)
	}
	return conn, nil
}

// RedactURL hides a password or token embedded in a NATS URL, for logs.
func RedactURL(u string) string {
	at := strings.LastIndex(u, "@")
	scheme := strings.Index(u, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return u
	}
	return u[:scheme+3] + "***" + u[at:]
}

// serverAuth configures the embedded server's authentication and TLS from
// s.
func (s Security) serverAuth(opts *server.Options) error {
	if err := s.check(); err != nil {
		return err
	}
	if s.Token != "" {
		opts.Authorization = s.Token
	}
	if s.NKeyFile != "" {
		f, err := readNKeyFile(s.NKeyFile)
		if err != nil {
			return err
		}
		for _, pub := range f.publics {
			opts.Nkeys = append(opts.Nkeys, &server.NkeyUser{Nkey: pub})
		}
	}
	if s.TLSCert != "" {
		cfg, err := server.GenTLSConfig(&server.TLSConfigOpts{
			CertFile: s.TLSCert,
			KeyFile:  s.TLSKey,
			CaFile:   s.TLSCA,
			Verify:   s.TLSCA != "",
		})
		if err != nil {
			return fmt.Errorf("TLS: %w", err)
		}
		opts.TLSConfig = cfg
		opts.TLS = true
		opts.TLSVerify = s.TLSCA != ""
		opts.TLSTimeout = 5
	} else if s.TLSCA != "" {
		return errors.New("-tls-ca on the embedded server requires client certificates and needs the server's own -tls-cert and -tls-key")
	}
	return nil
}

// isLoopback reports whether host (a listen host, "" meaning all
// interfaces) only accepts connections from this machine.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// checkListen refuses to listen beyond loopback without credentials: anyone
// who can reach the port could otherwise read the model, inject results and
// run the workers' compute.
func checkListen(host string, s Security) error {
	if isLoopback(host) || s.HasCredentials() {
		return nil
	}
	where := host
	if where == "" {
		where = "all interfaces"
	}
	return fmt.Errorf("refusing to listen on %s without credentials: anyone who can reach the port could read the model "+
		"and send the driver results; give -nats-token T (or -nats-nkey FILE, or -tls-cert/-tls-key with -tls-ca for client "+
		"certificates), or listen on loopback (-nats-listen 127.0.0.1:PORT)", where)
}
