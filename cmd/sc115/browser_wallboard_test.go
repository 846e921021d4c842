package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sc115/sc115/internal/interop"
	"github.com/sc115/sc115/internal/testphone"
)

// screenshotDir is where the browser tests leave their screenshots (the
// README names it): $SC115_SCREENSHOTS, else var/screenshots at the top
// of the checkout.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SC115_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "var", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browserContext starts a headless Chromium (ended with the test) at the
// given window size.
func browserContext(t *testing.T, w, h int) context.Context {
	t.Helper()
	chromium := interop.Require(t, "chromium", "chromium")
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(w, h))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(cancelBrowser)
	return bctx
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100: PNG
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(screenshotDir(t), name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestWallboardInChromium (issue 15) in a real headless browser: the
// supervisor signs in on the German sign-in page and lands on the
// wallboard; a caller for Lehrte (nobody logged in) appears as waiting,
// pushed over the event stream; screenshots at wallboard size
// (1920×1080) and desktop size (1280×800).
func TestWallboardInChromium(t *testing.T) {
	ctx := browserContext(t, 1920, 1080)
	cfg := testConfig(t)
	s := startTest(t, cfg)
	base := "http://" + s.httpLn.Addr().String()
	browserSignIn(t, ctx, base+"/", "aufsicht", "demo-aufsicht", "muni-lehrte")
	screenshot(t, ctx, "login-then-wallboard-idle-1920x1080.png")
	caller, err := testphone.New("+495132123456", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close()
	callCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	c, err := caller.Dial(callCtx, s.sip.Addr().String(), "+495132115", nil)
	if err != nil {
		t.Fatal(err)
	}
	shown, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector("#muni-lehrte .big b").textContent === "1"`,
		chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil || !shown {
		t.Fatalf("the waiting caller never showed on the wallboard: %v", err)
	}
	t.Logf("the waiting caller showed on the wallboard %v after the INVITE was answered (the 115 bar: 2 s)", time.Since(start).Round(10*time.Millisecond))
	time.Sleep(1500 * time.Millisecond) // the longest wait ticks up
	screenshot(t, ctx, "wallboard-waiting-1920x1080.png")
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "wallboard-waiting-1280x800.png")
	_ = c.Bye(callCtx)
	// The finished call is a bar in the chart: its quarter hour, one call.
	bar, err := chromedp.Run(ctx, chromedp.Poll[string](`(() => { const r = document.querySelectorAll("#chart rect");
		return r.length === 1 && r[0].querySelector("title").textContent; })()`, chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil || !strings.HasSuffix(bar, "– 1 Anrufe") {
		t.Fatalf("the finished call never showed in the chart: %q %v", bar, err)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1920, 1080)); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "wallboard-after-call-1920x1080.png")
}

// browserSignIn opens url (a page, or /login), signs in on the sign-in
// page it lands on, and waits for the element with id waitFor of the page
// it comes back to.
func browserSignIn(t *testing.T, ctx context.Context, url, user, password, waitFor string) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.ID("user")),
		chromedp.SendKeys(chromedp.ID("user"), user),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.ID(waitFor)),
	)
	if err != nil {
		t.Fatalf("sign-in as %s at %s: %v", user, url, err)
	}
}
