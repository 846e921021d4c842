package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sc115/sc115/internal/testphone"
)

// TestAgentOverTLS (issue 12, TLS): an agent's phone registers over SIP
// over TLS and is rung over that same connection (it listens on no port),
// with sc115's Contact on the TLS listener (transport=tls) so that its
// in-dialog requests come back encrypted; caller and agent hear each
// other, the agent's BYE over TLS ends the call with its CDR. A client
// that offers nothing newer than TLS 1.1 gets no connection.
func TestAgentOverTLS(t *testing.T) {
	cfg, certs := tlsTestConfig(t)
	s := startTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tlsTarget := s.sip.TLSAddr().String()

	if c, err := tls.Dial("tcp", tlsTarget, &tls.Config{RootCAs: certs.Pool, MaxVersion: tls.VersionTLS11}); err == nil {
		c.Close()
		t.Error("a TLS 1.1 client got a connection")
	}

	agent, err := testphone.NewTLS("1003", "127.0.0.1", certs.Pool)
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	if res, err := agent.Register(ctx, tlsTarget, "demo1003", 300); err != nil || res.StatusCode != 200 {
		t.Fatalf("register over TLS: %v %v", res, err)
	}
	waitAgent(t, s, "1003", "available")
	caller, call := burgdorfCaller(ctx, t, s.sip.Addr().String())
	defer caller.Close()
	in, err := agent.NextIncoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tr := in.Req.Transport(); !strings.EqualFold(tr, "TLS") {
		t.Errorf("the agent was rung over %s, want TLS", tr)
	}
	if c := in.Req.Contact(); c == nil || c.Address.UriParams.GetOr("transport", "") != "tls" || c.Address.Port != int(s.sip.TLSAddr().Port()) {
		t.Errorf("sc115's Contact toward the TLS agent: %v, want the TLS listener with transport=tls", c)
	}
	talkBothWays(t, call, in, nil)
	if err := in.Bye(ctx); err != nil {
		t.Fatalf("the agent's BYE over TLS: %v", err)
	}
	select {
	case <-call.Ended():
	case <-ctx.Done():
		t.Fatal("the caller's leg did not end with the agent's BYE")
	}
	row := waitCDR(t, cfg.CDR.Dir, call.CallID, time.Minute)
	if row["disposition"] != "answered" || row["agent"] != "1003" || row["hangup_by"] != "agent" {
		t.Errorf("CDR %v, want answered by 1003, hung up by the agent", row)
	}
}

// TestTLSRequiredWhereConfigured: a trunk with require_tls takes calls
// over TLS (answered) and refuses them over UDP (403); an agent with
// require_tls registers over TLS and is refused over UDP (403, after its
// digest: answers to unauthenticated requests stay the same for all).
func TestTLSRequiredWhereConfigured(t *testing.T) {
	cfg, certs := tlsTestConfig(t)
	cfg.SIP.Trunks[0].RequireTLS = true
	for i := range cfg.ACD.Agents {
		if cfg.ACD.Agents[i].ID == "1004" {
			cfg.ACD.Agents[i].RequireTLS = true
		}
	}
	s := startTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	udp, tlsAddr := s.sip.Addr().String(), s.sip.TLSAddr().String()

	plain, err := testphone.New("+495136123456", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	expectCode(t, "a call from the TLS-only trunk over UDP", 403, dialErr(plain.Dial(ctx, udp, "05136115", nil)))
	secure, err := testphone.NewTLS("+495136123456", "127.0.0.1", certs.Pool)
	if err != nil {
		t.Fatal(err)
	}
	defer secure.Close()
	secure.SRTP = true // require_tls also requires SRTP (TestSRTPOnTLSLegs)
	call, err := secure.Dial(ctx, tlsAddr, "05136115", []string{"8 PCMA/8000"})
	if err != nil {
		t.Fatalf("a call from the trunk over TLS: %v", err)
	}
	for deadline := time.Now().Add(20 * time.Second); len(call.RTP.Received()) < 10; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the caller over TLS hears no greeting")
		}
	}
	if err := call.Bye(ctx); err != nil {
		t.Errorf("the caller's BYE over TLS: %v", err)
	}

	udpAgent, err := testphone.New("1004", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer udpAgent.Close()
	if res, err := udpAgent.Register(ctx, udp, "demo1004", 300); err != nil || res.StatusCode != 403 {
		t.Errorf("a TLS-only agent over UDP: %v %v, want 403", res, err)
	}
	tlsAgent, err := testphone.NewTLS("1004", "127.0.0.1", certs.Pool)
	if err != nil {
		t.Fatal(err)
	}
	defer tlsAgent.Close()
	if res, err := tlsAgent.Register(ctx, tlsAddr, "demo1004", 300); err != nil || res.StatusCode != 200 {
		t.Errorf("a TLS-only agent over TLS: %v %v, want 200", res, err)
	}
}

// TestSRTPOnTLSLegs (issue 12, SRTP): a trunk call over TLS offering
// RTP/SAVP with an SDES key is answered RTP/SAVP with sc115's own key; the
// agent's phone on TLS is offered RTP/SAVP too. Caller (PCMA) and agent
// (PCMU) hear each other through both encrypted legs, transcoded, and
// every packet either phone got authenticated. A third party's plain RTP
// sprayed at the caller leg's port is dropped and counted, never heard.
func TestSRTPOnTLSLegs(t *testing.T) {
	cfg, certs := tlsTestConfig(t)
	cfg.SIP.Trunks[0].RequireTLS = true // calls must come over TLS with SRTP
	s := startTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tlsAddr := s.sip.TLSAddr().String()
	agent, err := testphone.NewTLS("1003", "127.0.0.1", certs.Pool)
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	if res, err := agent.Register(ctx, tlsAddr, "demo1003", 300); err != nil || res.StatusCode != 200 {
		t.Fatalf("register over TLS: %v %v", res, err)
	}
	waitAgent(t, s, "1003", "available")

	caller, err := testphone.NewTLS("+495136123456", "127.0.0.1", certs.Pool)
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close()
	expectCode(t, "a plain RTP offer from the TLS-only trunk", 488, dialErr(caller.Dial(ctx, tlsAddr, "05136115", []string{"8 PCMA/8000"})))
	caller.SRTP = true
	call, err := caller.Dial(ctx, tlsAddr, "05136115", []string{"8 PCMA/8000"})
	if err != nil {
		t.Fatalf("an SRTP call over TLS: %v", err)
	}
	defer call.Bye(ctx)
	if b := string(call.Res.Body()); !strings.Contains(b, "RTP/SAVP") || !strings.Contains(b, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:") {
		t.Errorf("sc115's answer is not SRTP:\n%s", b)
	}
	in, err := agent.NextIncoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if b := string(in.Req.Body()); !strings.Contains(b, "RTP/SAVP") || !strings.Contains(b, "a=crypto:") {
		t.Errorf("sc115's offer to the TLS agent is not SRTP:\n%s", b)
	}
	legAddr, _, err := testphone.ParseSDP(call.Res.Body())
	if err != nil {
		t.Fatal(err)
	}
	sprayForged(t, "127.0.0.1", legAddr, 20)

	talkBothWays(t, call, in, nil)
	if a, c := in.RTP.Undecryptable(), call.RTP.Undecryptable(); a != 0 || c != 0 {
		t.Errorf("packets that did not authenticate: agent %d, caller %d", a, c)
	}
	if heardForged(in.RTP.Received()) {
		t.Fatal("the agent heard the third party's plain RTP")
	}
	_, body := httpGet(t, "http://"+s.httpLn.Addr().String()+"/metrics")
	if v := metricValue(body, "sc115_media_srtp_failures_total"); v < 20 {
		t.Errorf("sc115_media_srtp_failures_total = %v, want the 20 forged packets counted", v)
	}
}

// TestTLSClientCertificatesRequired: with client_certs: require (a trunk-
// only listener), a TLS peer without a certificate from client_ca_file
// gets no SIP answer; one with such a certificate gets its OPTIONS
// answered.
func TestTLSClientCertificatesRequired(t *testing.T) {
	cfg, certs := tlsTestConfig(t)
	cfg.SIP.TLS.ClientCAFile, cfg.SIP.TLS.ClientCerts = certs.CA, "require"
	s := startTest(t, cfg)
	options := fmt.Sprintf("OPTIONS sip:sc115@%s SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bKcc1\r\nMax-Forwards: 70\r\nFrom: <sip:pbx@127.0.0.1>;tag=1\r\nTo: <sip:sc115@127.0.0.1>\r\nCall-ID: cc1@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n", s.sip.TLSAddr())
	ask := func(conf *tls.Config) (string, error) {
		c, err := tls.Dial("tcp", s.sip.TLSAddr().String(), conf)
		if err != nil {
			return "", err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		if _, err := c.Write([]byte(options)); err != nil {
			return "", err
		}
		buf := make([]byte, 4096)
		n, err := c.Read(buf)
		if err != nil {
			return "", err
		}
		line, _, _ := strings.Cut(string(buf[:n]), "\r\n")
		return line, nil
	}
	if line, err := ask(&tls.Config{RootCAs: certs.Pool}); err == nil {
		t.Errorf("without a client certificate: answered %q", line)
	}
	pair, err := tls.LoadX509KeyPair(certs.Cert, certs.Key)
	if err != nil {
		t.Fatal(err)
	}
	if line, err := ask(&tls.Config{RootCAs: certs.Pool, Certificates: []tls.Certificate{pair}}); err != nil || !strings.HasPrefix(line, "SIP/2.0 200") {
		t.Errorf("with the trunk's certificate: %q %v, want 200", line, err)
	}
}
