package main

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sc115/sc115/internal/testcert"
)

// httpGetBearer is httpGet with "Authorization: Bearer token" ("" none).
func httpGetBearer(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// waitDraining starts draining s and waits until /readyz says 503.
func waitDraining(t *testing.T, s *service, url string) {
	t.Helper()
	go s.engine.Drain(context.Background())
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if code, _ := httpGetBearer(t, url, ""); code == http.StatusServiceUnavailable {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("/readyz never said 503 while draining")
		}
	}
}

// TestMetricsAndReadinessNeedTheToken (issue 12, 8): with
// http.metrics_token set, /metrics answers 401 without it (or with a
// wrong one) and the metrics with it; /readyz gives anyone its status
// code but the reason only with the token; /healthz stays open.
func TestMetricsAndReadinessNeedTheToken(t *testing.T) {
	cfg := testConfig(t)
	cfg.HTTP.MetricsToken = "s3cret-scrape"
	cfg.ACD.DrainTime = 30 * time.Second
	s := startTest(t, cfg)
	base := "http://" + s.httpLn.Addr().String()
	for _, c := range []struct {
		token string
		want  int
	}{{"", 401}, {"wrong", 401}, {"s3cret-scrape", 200}} {
		code, body := httpGetBearer(t, base+"/metrics", c.token)
		if code != c.want {
			t.Errorf("/metrics with token %q: %d, want %d", c.token, code, c.want)
		}
		if leaked := strings.Contains(body, "sc115_"); leaked != (c.want == 200) {
			t.Errorf("/metrics with token %q: metrics in the body = %v", c.token, leaked)
		}
	}
	if code, _ := httpGetBearer(t, base+"/healthz", ""); code != 200 {
		t.Errorf("/healthz without token: %d", code)
	}
	waitDraining(t, s, base+"/readyz")
	if _, body := httpGetBearer(t, base+"/readyz", ""); strings.Contains(body, "draining") {
		t.Errorf("/readyz tells anyone why: %q", body)
	}
	if code, body := httpGetBearer(t, base+"/readyz", "s3cret-scrape"); code != 503 || !strings.Contains(body, "draining") {
		t.Errorf("/readyz with the token: %d %q, want 503 draining", code, body)
	}
}

// TestMetricsOnTheirOwnListener: with http.metrics_listen, /metrics is
// there (no token) and gone from the main listener, whose /readyz keeps
// its reasons to itself.
func TestMetricsOnTheirOwnListener(t *testing.T) {
	cfg := testConfig(t)
	cfg.HTTP.MetricsListen = "127.0.0.1:0"
	cfg.ACD.DrainTime = 30 * time.Second
	s := startTest(t, cfg)
	base, private := "http://"+s.httpLn.Addr().String(), "http://"+s.metricsLn.Addr().String()
	if code, _ := httpGetBearer(t, base+"/metrics", ""); code != 404 {
		t.Errorf("/metrics on the main listener: %d, want 404", code)
	}
	if code, body := httpGetBearer(t, private+"/metrics", ""); code != 200 || !strings.Contains(body, "sc115_media_sessions") {
		t.Errorf("/metrics on metrics_listen: %d", code)
	}
	waitDraining(t, s, base+"/readyz")
	if _, body := httpGetBearer(t, base+"/readyz", ""); strings.Contains(body, "draining") {
		t.Errorf("main /readyz tells why: %q", body)
	}
	if code, body := httpGetBearer(t, private+"/readyz", ""); code != 503 || !strings.Contains(body, "draining") {
		t.Errorf("/readyz on metrics_listen: %d %q, want 503 draining", code, body)
	}
	if !strings.Contains(s.banner(), "/metrics on http://"+s.metricsLn.Addr().String()) {
		t.Errorf("the banner does not say where /metrics is:\n%s", s.banner())
	}
}

// TestHTTPSWithTheCertificate: with http.cert_file the API and health
// endpoints speak HTTPS (TLS 1.2+) only; a plain HTTP request gets no
// answer it could read.
func TestHTTPSWithTheCertificate(t *testing.T) {
	certs := testcert.Write(t, t.TempDir())
	cfg := testConfig(t)
	cfg.HTTP.CertFile, cfg.HTTP.KeyFile = certs.Cert, certs.Key
	s := startTest(t, cfg)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: certs.Pool}}, Timeout: 20 * time.Second}
	res, err := client.Get("https://" + s.httpLn.Addr().String() + "/healthz")
	if err != nil {
		t.Fatalf("HTTPS: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.TLS == nil || res.TLS.Version < tls.VersionTLS12 {
		t.Errorf("HTTPS /healthz: %d, TLS %+v", res.StatusCode, res.TLS)
	}
	if res, err := (&http.Client{Timeout: 20 * time.Second}).Get("http://" + s.httpLn.Addr().String() + "/healthz"); err == nil && res.StatusCode == 200 {
		t.Error("plain HTTP answered 200")
	}
	if !strings.Contains(s.banner(), "https://"+s.httpLn.Addr().String()) {
		t.Errorf("the banner does not say https:\n%s", s.banner())
	}
}
