package nats

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	nc "github.com/nats-io/nats.go"
)

// ServerConfig configures the NATS server a driver embeds.
type ServerConfig struct {
	// Listen is HOST:PORT for clients; PORT 0 picks a free port. An empty
	// Listen means 127.0.0.1:0. Listening beyond loopback requires
	// credentials in Security.
	Listen string
	// StoreDir is where JetStream keeps its streams (the run directory).
	StoreDir string
	// Security configures authentication and TLS.
	Security Security
	// Log receives the server's warnings and errors (refused logins among
	// them); nil discards them.
	Log io.Writer
}

// Server is a NATS server with JetStream running inside this process.
type Server struct {
	srv *server.Server
	sec Security
}

// StartServer starts an embedded NATS server with JetStream and waits until
// it accepts connections.
func StartServer(cfg ServerConfig) (*Server, error) {
	listen := cfg.Listen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	host, portStr, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("-nats-listen %q: want HOST:PORT: %w", listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("-nats-listen %q: bad port %q", listen, portStr)
	}
	if err := checkListen(host, cfg.Security); err != nil {
		return nil, err
	}
	if cfg.StoreDir == "" {
		return nil, errors.New("the embedded NATS server needs a storage directory")
	}
	if err := os.MkdirAll(cfg.StoreDir, 0o700); err != nil {
		return nil, fmt.Errorf("NATS storage: %w", err)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	opts := &server.Options{
		ServerName:  "sparknet-driver",
		Host:        host,
		Port:        port,
		JetStream:   true,
		StoreDir:    cfg.StoreDir,
		NoSigs:      true,
		HTTPPort:    0,
		AuthTimeout: 5,
		// Clients ping every 2 minutes by default; a worker that vanishes
		// without closing its socket is noticed by the work queue's ack
		// wait, not by this.
		MaxPayload: 8 << 20,
	}
	if err := cfg.Security.serverAuth(opts); err != nil {
		return nil, err
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("NATS server: %w", err)
	}
	log := cfg.Log
	if log == nil {
		log = io.Discard
	}
	srv.SetLoggerV2(&serverLogger{w: log}, false, false, false)
	go srv.Start()
	if !srv.ReadyForConnections(15 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("the embedded NATS server did not start listening on %s within 15 s", listen)
	}
	return &Server{srv: srv, sec: cfg.Security}, nil
}

// URL returns the URL clients dial: nats:// (tls:// with TLS) and the bound
// address; a wildcard listen host is replaced by this machine's host name.
func (s *Server) URL() string {
	addr, ok := s.srv.Addr().(*net.TCPAddr)
	if !ok {
		return s.srv.ClientURL()
	}
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		if h, err := os.Hostname(); err == nil {
			host = h
		} else {
			host = "127.0.0.1"
		}
	}
	scheme := "nats"
	if s.sec.TLSCert != "" {
		scheme = "tls"
	}
	return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(addr.Port))
}

// LocalURL returns a URL that reaches the server from this machine.
func (s *Server) LocalURL() string {
	addr, ok := s.srv.Addr().(*net.TCPAddr)
	if !ok {
		return s.srv.ClientURL()
	}
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1"
		if addr.IP.To4() == nil {
			host = "::1"
		}
	}
	scheme := "nats"
	if s.sec.TLSCert != "" {
		scheme = "tls"
	}
	return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(addr.Port))
}

// Connect opens a client connection to the server from this process, with
// the server's own credentials.
func (s *Server) Connect(name string) (*nc.Conn, error) {
	if s.sec.TLSCert != "" {
		// In process, without TLS: the server's certificate need not be
		// valid as a client certificate.
		sec := s.sec
		sec.TLSCert, sec.TLSKey, sec.TLSCA = "", "", ""
		opts, err := sec.clientOptions(name)
		if err != nil {
			return nil, err
		}
		return nc.Connect("", append(opts, nc.InProcessServer(s.srv))...)
	}
	opts, err := s.sec.clientOptions(name)
	if err != nil {
		return nil, err
	}
	// TCP through loopback: faster for megabyte objects than an in-process
	// pipe.
	return nc.Connect(s.LocalURL(), opts...)
}

// Close shuts the server down and waits for it.
func (s *Server) Close() {
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
}

// serverLogger forwards the server's warnings and errors, one line each,
// prefixed "nats-server: ".
type serverLogger struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *serverLogger) logf(level, format string, v ...any) {
	msg := strings.TrimSpace(fmt.Sprintf(format, v...))
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "nats-server: %s%s\n", level, msg)
}

func (l *serverLogger) Noticef(string, ...any)         {}
func (l *serverLogger) Debugf(string, ...any)          {}
func (l *serverLogger) Tracef(string, ...any)          {}
func (l *serverLogger) Warnf(format string, v ...any)  { l.logf("warning: ", format, v...) }
func (l *serverLogger) Errorf(format string, v ...any) { l.logf("", format, v...) }
func (l *serverLogger) Fatalf(format string, v ...any) { l.logf("fatal: ", format, v...) }
