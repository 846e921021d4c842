package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-audio/wav"
	"github.com/zaf/g711"

	"github.com/sc115/sc115/acd"
	"github.com/sc115/sc115/internal/interop"
	"github.com/sc115/sc115/internal/testphone"
)

// TestBaresipAgentTalksToCaller: baresip, a real softphone, registers as
// agent 1003 with digest auth and auto-answers; its microphone is a 1 kHz
// tone. A caller dials Burgdorf and speaks a 440 Hz tone. The caller must
// hear 1 kHz from the agent, and baresip's recording of what it heard must
// be 440 Hz: audio crossed sc115 both ways. Then the agent dials *42 on
// baresip and is logged out.
func TestBaresipAgentTalksToCaller(t *testing.T) {
	cfg := testConfig(t)
	s := startTest(t, cfg)
	ctrlPort := interop.FreePort(t, "tcp")
	dir := startBaresipAgent(t, fmt.Sprintf("module ctrl_tcp.so\nctrl_tcp_listen 127.0.0.1:%d\n", ctrlPort),
		fmt.Sprintf("<sip:1003@%s>;auth_pass=demo1003;answermode=auto\n", s.sip.Addr()))
	waitRegistered(t, s, dir, "1003")
	talkThroughBaresip(t, s, cfg, dir)

	// The agent dials *42 on baresip (through its ctrl_tcp remote control):
	// baresip answers sc115's digest challenge, hears the confirmation, and
	// the agent is logged out.
	waitAgent(t, s, "1003", acd.AgentAvailable)
	ctrl, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ctrlPort))
	if err != nil {
		t.Fatalf("baresip ctrl_tcp: %v", err)
	}
	defer ctrl.Close()
	cmd := `{"command":"dial","params":"*42","token":"t1"}`
	if _, err := fmt.Fprintf(ctrl, "%d:%s,", len(cmd), cmd); err != nil {
		t.Fatal(err)
	}
	waitAgent(t, s, "1003", acd.AgentLoggedOut)
}

// TestBaresipOverTLSWithSRTP (issue 12, TLS and SRTP with a real phone):
// baresip registers as agent 1003 over SIP over TLS, checking sc115's
// certificate against the test CA (sip_cafile), with mediaenc=srtp-mand,
// so it takes only an RTP/SAVP offer with SDES keys. A plain-RTP caller
// from the trunk talks with it: sc115 bridges RTP and SRTP both ways
// (440 Hz heard by baresip, its 1 kHz by the caller), nothing failed to
// authenticate, and the CDR says answered by 1003.
func TestBaresipOverTLSWithSRTP(t *testing.T) {
	cfg, certs := tlsTestConfig(t)
	s := startTest(t, cfg)
	// srtp.so before account.so: accounts name its media encryption.
	dir := startBaresipAgent(t, "sip_cafile "+certs.CA+"\nmodule srtp.so\n",
		fmt.Sprintf("<sip:1003@%s;transport=tls>;auth_pass=demo1003;answermode=auto;mediaenc=srtp-mand\n", s.sip.TLSAddr()))
	waitRegistered(t, s, dir, "1003")
	if b := s.sip.Bindings("1003"); len(b) != 1 || !strings.EqualFold(b[0].Transport, "TLS") {
		t.Fatalf("baresip's binding %+v, want one over TLS", b)
	}
	talkThroughBaresip(t, s, cfg, dir)
	_, body := httpGet(t, "http://"+s.httpLn.Addr().String()+"/metrics")
	if v := metricValue(body, "sc115_media_srtp_failures_total"); v != 0 {
		t.Errorf("%v SRTP packets from baresip did not authenticate", v)
	}
}

// startBaresipAgent starts baresip (bounded: it quits after 30 s) with a
// 1 kHz microphone, recording what it hears, with extra config lines and
// the accounts file; it returns baresip's folder (its log is baresip.log).
func startBaresipAgent(t *testing.T, extraConf, accounts string) string {
	t.Helper()
	baresip := interop.Require(t, "baresip", "baresip-core")
	dir := t.TempDir()
	mic := filepath.Join(dir, "mic.wav")
	writeToneWAV(t, mic, 1000, 30*time.Second)
	sipPort := interop.FreeUDPTCPPort(t) // baresip listens on UDP and TCP
	conf := fmt.Sprintf(`sip_listen 127.0.0.1:%d
net_interface 127.0.0.1
module_path /usr/lib/baresip/modules
module g711.so
%smodule account.so
module menu.so
module aufile.so
module sndfile.so
audio_source aufile,%s
audio_player aufile,%s
snd_path %s
`, sipPort, extraConf, mic, filepath.Join(dir, "speaker.wav"), dir)
	if err := os.WriteFile(filepath.Join(dir, "config"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "accounts"), []byte(accounts), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	t.Cleanup(cancel)
	bs := exec.CommandContext(ctx, baresip, "-f", dir, "-t", "30")
	out, _ := os.Create(filepath.Join(dir, "baresip.log"))
	t.Cleanup(func() { out.Close() })
	bs.Stdout, bs.Stderr = out, out
	if err := bs.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bs.Process.Kill(); _ = bs.Wait() })
	return dir
}

// waitRegistered waits for user's registration (baresip's log if none).
func waitRegistered(t *testing.T, s *service, dir, user string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !s.sip.Registered(user); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "baresip.log"))
			t.Fatalf("baresip did not register:\n%s", log)
		}
	}
}

// talkThroughBaresip calls Burgdorf from a plain caller speaking 440 Hz;
// the baresip agent in dir answers: the caller must hear its 1 kHz and
// baresip's recording must be 440 Hz; the CDR says answered by 1003.
func talkThroughBaresip(t *testing.T, s *service, cfg Config, dir string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	caller, err := testphone.New("+495136555444", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close()
	call, err := caller.Dial(ctx, s.sip.Addr().String(), "05136115", []string{"8 PCMA/8000"})
	if err != nil {
		t.Fatal(err)
	}
	tone := alawTone(440, 150)
	for i := 0; i < len(tone); i++ {
		if err := call.RTP.Send(8, tone[i], 1); err != nil {
			t.Fatal(err)
		}
	}
	heard := call.RTP.Received()
	if len(heard) < 60 {
		log, _ := os.ReadFile(filepath.Join(dir, "baresip.log"))
		t.Fatalf("caller received %d packets; baresip:\n%s", len(heard), log)
	}
	var pcm []int16
	for _, p := range heard[len(heard)-50:] { // the last second: the agent's voice
		for _, b := range p.Payload {
			pcm = append(pcm, g711.DecodeAlawFrame(b))
		}
	}
	if f := dominantHz(pcm, 8000); math.Abs(f-1000) > 50 {
		t.Errorf("caller heard %.0f Hz, want the agent's 1000 Hz", f)
	}
	if err := call.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	row := waitCDR(t, cfg.CDR.Dir, call.CallID, 5*time.Second)
	if row["disposition"] != "answered" || row["agent"] != "1003" {
		t.Errorf("cdr %v", row)
	}

	// baresip's sndfile module records what it decoded: our 440 Hz.
	var dec []string
	for deadline := time.Now().Add(30 * time.Second); len(dec) == 0 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		dec, _ = filepath.Glob(filepath.Join(dir, "dump-*-dec.wav"))
	}
	if len(dec) == 0 {
		t.Fatal("baresip wrote no recording")
	}
	// Let baresip finish the file: wait until its size stops changing.
	for prev, deadline := int64(-1), time.Now().Add(30*time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		st, err := os.Stat(dec[0])
		if err == nil && st.Size() == prev && st.Size() > 44 {
			break
		}
		if err == nil {
			prev = st.Size()
		}
	}
	samples, rate := readWAV(t, dec[0])
	if len(samples) < rate {
		t.Fatalf("baresip recorded %d samples", len(samples))
	}
	if f := dominantHz(samples[len(samples)-rate:], rate); math.Abs(f-440) > 30 {
		t.Errorf("baresip heard %.0f Hz, want the caller's 440 Hz", f)
	}
}

func waitAgent(t *testing.T, s *service, id string, want acd.AgentState) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); s.engine.AgentStates()[id] != want; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("agent %s is %s, want %s", id, s.engine.AgentStates()[id], want)
		}
	}
}

// alawTone returns n 20 ms A-law frames of a sine at hz.
func alawTone(hz float64, n int) [][]byte {
	frames := make([][]byte, n)
	for f := range frames {
		frames[f] = make([]byte, 160)
		for i := range frames[f] {
			x := float64(f*160 + i)
			frames[f][i] = g711.EncodeAlawFrame(int16(8000 * math.Sin(2*math.Pi*hz*x/8000)))
		}
	}
	return frames
}

// dominantHz estimates a pure tone's frequency from zero crossings.
func dominantHz(pcm []int16, rate int) float64 {
	crossings := 0
	for i := 1; i < len(pcm); i++ {
		if (pcm[i-1] < 0) != (pcm[i] < 0) {
			crossings++
		}
	}
	return float64(crossings) / 2 / (float64(len(pcm)) / float64(rate))
}

func writeToneWAV(t *testing.T, path string, hz float64, d time.Duration) {
	t.Helper()
	n := int(d.Seconds() * 8000)
	data := make([]byte, 44+2*n)
	copy(data, "RIFF")
	binary.LittleEndian.PutUint32(data[4:], uint32(36+2*n))
	copy(data[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(data[16:], 16)
	binary.LittleEndian.PutUint16(data[20:], 1)
	binary.LittleEndian.PutUint16(data[22:], 1)
	binary.LittleEndian.PutUint32(data[24:], 8000)
	binary.LittleEndian.PutUint32(data[28:], 16000)
	binary.LittleEndian.PutUint16(data[32:], 2)
	binary.LittleEndian.PutUint16(data[34:], 16)
	copy(data[36:], "data")
	binary.LittleEndian.PutUint32(data[40:], uint32(2*n))
	for i := 0; i < n; i++ {
		binary.LittleEndian.PutUint16(data[44+2*i:], uint16(int16(8000*math.Sin(2*math.Pi*hz*float64(i)/8000))))
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readWAV(t *testing.T, path string) ([]int16, int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := wav.NewDecoder(f)
	buf, err := d.FullPCMBuffer()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := make([]int16, len(buf.Data)/int(d.NumChans))
	for i := range out {
		out[i] = int16(buf.Data[i*int(d.NumChans)])
	}
	return out, int(d.SampleRate)
}
