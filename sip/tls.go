package sip

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/sc115/sc115/internal/cfgerr"
)

// TLSConfig is sip.tls: SIP over TLS (RFC 3261 §26, TLS 1.2 or newer) for
// agents' phones and trunks, on a listener of its own.
type TLSConfig struct {
	// Listen is the host:port for SIP over TLS; empty: no TLS.
	Listen string `yaml:"listen"`
	// CertFile and KeyFile are the server certificate (chain) and key, PEM.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ClientCAFile, if set, verifies client certificates against these
	// CAs (PEM): a trunk may then authenticate with its certificate.
	ClientCAFile string `yaml:"client_ca_file"`
	// ClientCerts: none, verify_if_given (with client_ca_file, default) or
	// require (every TLS peer needs a valid certificate: a trunk-only
	// listener).
	ClientCerts string `yaml:"client_certs"`
}

// Validate checks the section (files are read by ServerConfig).
func (c *TLSConfig) Validate() error {
	if c.Listen == "" {
		return nil
	}
	if _, err := netip.ParseAddrPort(c.Listen); err != nil {
		return cfgerr.New("sip.tls.listen", "want IP:port, got %q", c.Listen)
	}
	if c.CertFile == "" || c.KeyFile == "" {
		return cfgerr.New("sip.tls.cert_file", "cert_file and key_file are needed with sip.tls.listen")
	}
	switch c.ClientCerts {
	case "", "none", "verify_if_given", "require":
	default:
		return cfgerr.New("sip.tls.client_certs", "want none, verify_if_given or require, got %q", c.ClientCerts)
	}
	if c.ClientCerts == "require" && c.ClientCAFile == "" {
		return cfgerr.New("sip.tls.client_ca_file", "client_certs: require needs client_ca_file")
	}
	return nil
}

// ServerConfig loads the certificate and builds the listener's TLS
// configuration: TLS 1.2 at least, client certificates as configured.
func (c *TLSConfig) ServerConfig() (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, cfgerr.New("sip.tls.cert_file", "%v", err)
	}
	conf := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if c.ClientCAFile != "" {
		pem, err := os.ReadFile(c.ClientCAFile)
		if err != nil {
			return nil, cfgerr.New("sip.tls.client_ca_file", "%v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, cfgerr.New("sip.tls.client_ca_file", "%s holds no PEM certificate", c.ClientCAFile)
		}
		conf.ClientCAs = pool
		conf.ClientAuth = tls.VerifyClientCertIfGiven
		switch c.ClientCerts {
		case "none":
			conf.ClientAuth = tls.NoClientCert
		case "require":
			conf.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	return conf, nil
}

// listenTLS opens the TLS listener (idle connections close like TCP's).
func (s *Server) listenTLS() error {
	if s.cfg.TLS.Listen == "" {
		return nil
	}
	conf, err := s.cfg.TLS.ServerConfig()
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", s.cfg.TLS.Listen)
	if err != nil {
		return fmt.Errorf("sip tls listen %s: %w", s.cfg.TLS.Listen, err)
	}
	s.tlsAddr = l.Addr().(*net.TCPAddr).AddrPort()
	s.tlsLn = tls.NewListener(idleListener{Listener: l, idle: s.cfg.Limits.TCPIdleTimeout}, conf)
	return nil
}

// contactFor is sc115's Contact for a dialog over transport: on TLS legs
// the TLS listener with transport=tls, so the peer's in-dialog requests
// come back encrypted (the default Contact is the UDP listener).
func (s *Server) contactFor(transport string) *sip.ContactHeader {
	c := sip.HeaderClone(&s.dua.ContactHDR).(*sip.ContactHeader)
	if sip.NetworkToLower(transport) == "tls" && s.tlsLn != nil {
		c.Address.Port = int(s.tlsAddr.Port())
		c.Address.UriParams = sip.NewParams()
		c.Address.UriParams.Add("transport", "tls")
	}
	return c
}

// duaFor is the dialog UA for a dialog over transport.
func (s *Server) duaFor(transport string) *sipgo.DialogUA {
	if sip.NetworkToLower(transport) == "tls" && s.tlsDUA != nil {
		return s.tlsDUA
	}
	return s.dua
}

// TLSAddr is where SIP over TLS listens (invalid without sip.tls).
func (s *Server) TLSAddr() netip.AddrPort { return s.tlsAddr }
