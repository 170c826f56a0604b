package tollgate_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tollgate "github.com/tollgate/tollgate/bindings/go"
)

// The key-source tests run against tests/keysource/jwks_server.py (one server per test, so hit
// counts are the test's own) and drive time with a fake clock: the refresher reckons every delay
// from it, so nothing here sleeps for a schedule.

const keysourceDir = "../../tests/keysource"

// The fixtures' kids (their tokens' headers).
const (
	kidA = "tdFfLY-5DjFcgPrixmYq5hL_E0ghRV9v1BbNW5ciX_g"
	kidC = "cykq0Y2DvTL1hZ4Mt8jdJ-sQ-CHAL3FXLeUkpJSxSZ0"
)

type jwksServer struct {
	base string // http://127.0.0.1:<port>
}

func startJWKSServer(t *testing.T) *jwksServer {
	t.Helper()
	cmd := exec.Command("python3", keysourceDir+"/jwks_server.py")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting jwks_server.py: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	var port int
	if err != nil || func() error { _, err := fmt.Sscanf(line, "listening %d", &port); return err }() != nil {
		t.Fatalf("jwks_server.py said %q (%v), not listening <port>", line, err)
	}
	return &jwksServer{base: fmt.Sprintf("http://127.0.0.1:%d", port)}
}

func (s *jwksServer) control(t *testing.T, change map[string]any) {
	t.Helper()
	body, _ := json.Marshal(change)
	resp, err := http.Post(s.base+"/control", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /control %s: HTTP %d", body, resp.StatusCode)
	}
}

type hits struct{ JWKS, Discovery int }

func (s *jwksServer) hits(t *testing.T) hits {
	t.Helper()
	resp, err := http.Get(s.base + "/hits")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h hits
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	return h
}

func (s *jwksServer) wantJWKSHits(t *testing.T, want int) {
	t.Helper()
	if got := s.hits(t).JWKS; got != want {
		t.Fatalf("the JWKS was fetched %d times, want %d", got, want)
	}
}

// fakeClock is the time the key source sees; tests move it by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_800_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// testClient opens a connection per request: Go's transport retries an idempotent request once
// when a reused connection closes without answering ("down"), which would count two hits.
func testClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
}

func fixtureToken(t testing.TB, name string) []byte {
	return bytes.TrimSpace(readFile(t, keysourceDir+"/token-"+name+".txt"))
}

// tokenRules are the claims rules the fixtures' tokens satisfy.
var tokenRules = []tollgate.Option{tollgate.WithIssuers("https://issuer.test"), tollgate.WithAudiences("api")}

func newKeySource(t *testing.T, url string, clock *fakeClock, opts ...tollgate.KeySourceOption) *tollgate.KeySource {
	t.Helper()
	opts = append([]tollgate.KeySourceOption{tollgate.WithHTTPClient(testClient()),
		tollgate.WithKeySourceClock(clock.Now)}, opts...)
	ks, err := tollgate.NewKeySource(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ks.Close() })
	return ks
}

// verify verifies token with a verifier made from the key source's current set.
func verify(t *testing.T, ks *tollgate.KeySource, token []byte, now time.Time) (*tollgate.Token, error) {
	t.Helper()
	v, err := ks.Verifier(tokenRules...)
	if err != nil {
		return nil, err
	}
	defer v.Close()
	return v.Verify(token, now)
}

func wantVerified(t *testing.T, ks *tollgate.KeySource, clock *fakeClock, name string) {
	t.Helper()
	tok, err := verify(t, ks, fixtureToken(t, name), clock.Now())
	if err != nil {
		t.Fatalf("token-%s: %v", name, err)
	}
	if tok.Subject != "user-"+name {
		t.Fatalf("token-%s: subject %q", name, tok.Subject)
	}
}

func wantRefused(t *testing.T, ks *tollgate.KeySource, clock *fakeClock, name string, want *tollgate.Error) {
	t.Helper()
	_, err := verify(t, ks, fixtureToken(t, name), clock.Now())
	if !errors.Is(err, want) {
		t.Fatalf("token-%s: got %v, want %s", name, err, want.Code)
	}
}

func wantRefresh(t *testing.T, ks *tollgate.KeySource, want *tollgate.Error) {
	t.Helper()
	err := ks.Refresh(context.Background())
	if want == nil && err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if want != nil && !errors.Is(err, want) {
		t.Fatalf("Refresh: got %v, want %s", err, want.Code)
	}
}

func TestKeySourceFirstFetchVerifies(t *testing.T) {
	srv := startJWKSServer(t)
	clock := newFakeClock()
	ks := newKeySource(t, srv.base+"/jwks", clock)

	wantRefused(t, ks, clock, "a", tollgate.ErrKeySetFetchFailed) // nothing fetched yet
	srv.wantJWKSHits(t, 0)
	wantRefresh(t, ks, nil)
	srv.wantJWKSHits(t, 1)
	wantVerified(t, ks, clock, "a")
	wantRefused(t, ks, clock, "b", tollgate.ErrUnknownKID) // b is not served yet
	wantRefused(t, ks, clock, "c", tollgate.ErrUnknownKID)

	// Not due again until max-age (300 s) has passed.
	clock.Advance(299 * time.Second)
	wantRefresh(t, ks, nil)
	srv.wantJWKSHits(t, 1)
	clock.Advance(time.Second)
	wantRefresh(t, ks, nil)
	srv.wantJWKSHits(t, 2)

	st, err := ks.Status()
	if err != nil || !st.FetchedAt.Equal(clock.Now()) || st.Failures != 0 || st.Stale ||
		st.LastError != nil || len(st.KIDs) != 1 || st.KIDs[0] != kidA ||
		!st.NextFetch.Equal(clock.Now().Add(300*time.Second)) {
		t.Fatalf("Status: %+v, %v", st, err)
	}
	t.Logf("status: %s", st.JSON)
}

// A redirect is a failed fetch: it could lead where NewKeySource would refuse to go.
func TestKeySourceFollowsNoRedirect(t *testing.T) {
	srv := startJWKSServer(t)
	clock := newFakeClock()
	ks := newKeySource(t, srv.base+"/moved", clock)
	wantRefresh(t, ks, tollgate.ErrKeySetFetchFailed)
	srv.wantJWKSHits(t, 0)
	wantRefused(t, ks, clock, "a", tollgate.ErrKeySetFetchFailed)
	// Nor with a client of the caller's that would follow it.
	follows := newKeySource(t, srv.base+"/moved", clock, tollgate.WithHTTPClient(&http.Client{}))
	wantRefresh(t, follows, tollgate.ErrKeySetFetchFailed)
	srv.wantJWKSHits(t, 0)
}

func TestKeySourceRotation(t *testing.T) {
	srv := startJWKSServer(t)
	clock := newFakeClock()
	ks := newKeySource(t, srv.base+"/jwks", clock)

	wantRefresh(t, ks, nil)
	wantVerified(t, ks, clock, "a")
	wantRefused(t, ks, clock, "b", tollgate.ErrUnknownKID)

	// a + b: both verify while both are served.
	srv.control(t, map[string]any{"keys": []string{"a", "b"}})
	clock.Advance(300 * time.Second)
	wantRefresh(t, ks, nil)
	wantVerified(t, ks, clock, "a")
	wantVerified(t, ks, clock, "b")

	// b only: a is gone at the first good fetch that no longer has it.
	srv.control(t, map[string]any{"keys": []string{"b"}})
	clock.Advance(300 * time.Second)
	wantRefresh(t, ks, nil)
	wantRefused(t, ks, clock, "a", tollgate.ErrUnknownKID)
	wantVerified(t, ks, clock, "b")
	srv.wantJWKSHits(t, 3)
}

func TestKeySourceOutageKeepsLastGoodSetAndBacksOff(t *testing.T) {
	srv := startJWKSServer(t)
	clock := newFakeClock()
	ks := newKeySource(t, srv.base+"/jwks", clock)
	wantRefresh(t, ks, nil)
	srv.wantJWKSHits(t, 1)

	// Each failure keeps the set; the retry delay doubles from 5 s: 5, 10, 20.
	steps := []struct {
		change map[string]any
		delay  time.Duration // since the previous attempt
	}{
		{map[string]any{"mode": "down"}, 300 * time.Second},
		{map[string]any{"mode": "error", "status": 500}, 5 * time.Second},
		{map[string]any{"mode": "garbage"}, 10 * time.Second},
		{map[string]any{"mode": "error", "status": 503}, 20 * time.Second},
	}
	for i, step := range steps {
		srv.control(t, step.change)
		clock.Advance(step.delay - time.Second)
		wantRefresh(t, ks, nil) // not due yet: no fetch
		srv.wantJWKSHits(t, 1+i)
		clock.Advance(time.Second)
		wantRefresh(t, ks, tollgate.ErrKeySetFetchFailed)
		srv.wantJWKSHits(t, 2+i)
		wantVerified(t, ks, clock, "a")
	}
	st, err := ks.Status()
	if err != nil || st.Failures != 4 || st.Stale || !errors.Is(st.LastError, tollgate.ErrKeySetFetchFailed) ||
		len(st.KIDs) != 1 || !st.NextFetch.Equal(clock.Now().Add(40*time.Second)) {
		t.Fatalf("Status after 4 failures: %+v, %v", st, err)
	}
	t.Logf("status after 4 failures: %s", st.JSON)

	// Back up, after the next backoff (40 s): a good fetch, and the normal schedule again.
	srv.control(t, map[string]any{"mode": "ok", "keys": []string{"a", "b"}})
	clock.Advance(39 * time.Second)
	wantRefresh(t, ks, nil)
	srv.wantJWKSHits(t, 5)
	clock.Advance(time.Second)
	wantRefresh(t, ks, nil)
	srv.wantJWKSHits(t, 6)
	wantVerified(t, ks, clock, "b")
	clock.Advance(299 * time.Second)
	wantRefresh(t, ks, nil)
	srv.wantJWKSHits(t, 6)
}

func TestKeySourceBodyCap(t *testing.T) {
	srv := startJWKSServer(t)
	clock := newFakeClock()
	ks := newKeySource(t, srv.base+"/jwks", clock,
		tollgate.WithRefreshConfig(tollgate.RefreshConfig{MaxBodyBytes: 64}))
	wantRefresh(t, ks, tollgate.ErrKeySetFetchFailed)
	wantRefused(t, ks, clock, "a", tollgate.ErrKeySetFetchFailed)
}

func TestKeySourceGoesStale(t *testing.T) {
	srv := startJWKSServer(t)
	clock := newFakeClock()
	ks := newKeySource(t, srv.base+"/jwks", clock, tollgate.WithRefreshConfig(tollgate.RefreshConfig{
		MinTTL: 60 * time.Second, DefaultTTL: 60 * time.Second, MaxTTL: 600 * time.Second,
		RetryMax: 60 * time.Second, StaleAfter: time.Hour,
	}))
	wantRefresh(t, ks, nil)
	srv.control(t, map[string]any{"mode": "down"})

	// Retrying through the outage keeps the set until an hour after the last good fetch.
	for elapsed := time.Duration(0); elapsed < time.Hour-time.Minute; elapsed += time.Minute {
		clock.Advance(time.Minute)
		_ = ks.Refresh(context.Background())
	}
	wantVerified(t, ks, clock, "a")
	clock.Advance(time.Minute)
	wantRefresh(t, ks, tollgate.ErrKeySetFetchFailed)
	wantRefused(t, ks, clock, "a", tollgate.ErrKeySetStale)
	if err := ks.SwapInto(newTestEngine(t), "oidc"); !errors.Is(err, tollgate.ErrKeySetStale) {
		t.Fatalf("SwapInto a stale set: %v", err)
	}
	if st, err := ks.Status(); err != nil || !st.Stale || len(st.KIDs) != 1 {
		t.Fatalf("Status when stale: %+v, %v", st, err)
	} else {
		t.Logf("status when stale: %s", st.JSON)
	}

	// A good fetch makes it fresh again.
	srv.control(t, map[string]any{"mode": "ok"})
	clock.Advance(time.Minute)
	wantRefresh(t, ks, nil)
	wantVerified(t, ks, clock, "a")
}

// forgedToken is token-c with its header's kid replaced: the kid is looked up before the
// signature is checked, so each is an unknown kid, as an attacker's would be.
func forgedToken(t testing.TB, kid string) []byte {
	parts := strings.SplitN(string(fixtureToken(t, "c")), ".", 2)
	header := fmt.Sprintf(`{"alg":"ES256","kid":%q,"typ":"JWT"}`, kid)
	return []byte(base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + parts[1])
}

func TestKeySourceUnknownKIDFlood(t *testing.T) {
	srv := startJWKSServer(t)
	clock := newFakeClock()
	ks := newKeySource(t, srv.base+"/jwks", clock)
	wantRefresh(t, ks, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ks.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v", err)
		}
	}()

	tokens := make([][]byte, 1000)
	for i := range tokens {
		tokens[i] = forgedToken(t, fmt.Sprintf("forged-%d", i))
	}
	tokens[0] = fixtureToken(t, "c") // and the real token-c, whose key is never published
	flood := func() int {
		v, err := ks.Verifier(tokenRules...)
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		var fetches, unknown atomic.Int32
		var wg sync.WaitGroup
		for w := 0; w < 50; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := w; i < len(tokens); i += 50 {
					_, err := v.Verify(tokens[i], clock.Now())
					var te *tollgate.Error
					if !errors.As(err, &te) || !errors.Is(err, tollgate.ErrUnknownKID) {
						t.Errorf("token %d: %v", i, err)
						continue
					}
					unknown.Add(1)
					kid := "forged-" + fmt.Sprint(i)
					if i == 0 {
						kid = kidC
					}
					if ks.OnUnknownKID(kid) {
						fetches.Add(1)
					}
				}
			}(w)
		}
		wg.Wait()
		if unknown.Load() != int32(len(tokens)) {
			t.Fatalf("%d of %d tokens were unknown_kid", unknown.Load(), len(tokens))
		}
		return int(fetches.Load())
	}
	// waitHits waits (a few ms at a time, 5 s at most) for Run's fetch to reach the server.
	waitHits := func(want int) {
		deadline := time.Now().Add(5 * time.Second)
		for srv.hits(t).JWKS < want && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond) // and give a second fetch, were there one, time to show
		srv.wantJWKSHits(t, want)
	}

	if n := flood(); n != 1 {
		t.Fatalf("OnUnknownKID asked for %d fetches in one interval, want 1", n)
	}
	waitHits(2) // the first fetch, and Run's one early fetch
	clock.Advance(29 * time.Second)
	if n := flood(); n != 0 {
		t.Fatalf("OnUnknownKID asked for %d fetches 29 s later, want 0", n)
	}
	waitHits(2)
	clock.Advance(time.Second)
	if n := flood(); n != 1 {
		t.Fatalf("OnUnknownKID asked for %d fetches 30 s later, want 1", n)
	}
	waitHits(3)
	// A kid the set has never asks for a fetch.
	clock.Advance(time.Minute)
	if ks.OnUnknownKID(kidA) {
		t.Fatal("OnUnknownKID asked for a fetch for key a's kid, which the set has")
	}
	t.Logf("hits after 3000 unknown-kid tokens in three floods: %+v", srv.hits(t))
}

func TestDiscoverKeySource(t *testing.T) {
	srv := startJWKSServer(t)
	clock := newFakeClock()
	ctx := context.Background()
	opts := []tollgate.KeySourceOption{tollgate.WithHTTPClient(testClient()), tollgate.WithKeySourceClock(clock.Now)}

	ks, err := tollgate.DiscoverKeySource(ctx, srv.base, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	wantRefresh(t, ks, nil)
	wantVerified(t, ks, clock, "a")
	if h := srv.hits(t); h != (hits{JWKS: 1, Discovery: 1}) {
		t.Fatalf("hits %+v", h)
	}

	// The configuration must name the issuer it was fetched for, exactly.
	srv.control(t, map[string]any{"issuer": "https://issuer.test"})
	if _, err := tollgate.DiscoverKeySource(ctx, srv.base, opts...); !errors.Is(err, tollgate.ErrInvalidDiscovery) {
		t.Fatalf("issuer mismatch: %v", err)
	}
	srv.control(t, map[string]any{"issuer": srv.base + "/"})
	if _, err := tollgate.DiscoverKeySource(ctx, srv.base, opts...); !errors.Is(err, tollgate.ErrInvalidDiscovery) {
		t.Fatalf("issuer with a trailing slash: %v", err)
	}
	// Issuers that may not be fetched: plain http off loopback, credentials, not http at all.
	for _, issuer := range []string{"http://issuer.test", "https://user@issuer.test", "ftp://issuer.test", ""} {
		if _, err := tollgate.DiscoverKeySource(ctx, issuer, opts...); !errors.Is(err, tollgate.ErrInvalidDiscovery) {
			t.Fatalf("issuer %q: %v", issuer, err)
		}
	}
	// A configuration that cannot be fetched, or is not JSON.
	srv.control(t, map[string]any{"issuer": nil, "mode": "error"})
	if _, err := tollgate.DiscoverKeySource(ctx, srv.base, opts...); !errors.Is(err, tollgate.ErrKeySetFetchFailed) {
		t.Fatalf("HTTP 500: %v", err)
	}
	srv.control(t, map[string]any{"mode": "garbage"})
	if _, err := tollgate.DiscoverKeySource(ctx, srv.base, opts...); !errors.Is(err, tollgate.ErrInvalidDiscovery) {
		t.Fatalf("not JSON: %v", err)
	}
	t.Logf("hits: %+v", srv.hits(t))
}

const keySourcePolicy = `{
  "version": 1,
  "name": "key-source test",
  "credentials": [{"name": "bearer", "header": "Authorization", "scheme": "Bearer"}],
  "providers": [{"name": "oidc", "credentials": ["bearer"], "issuers": ["https://issuer.test"],
                 "audiences": ["api"], "algorithms": ["ES256"]}],
  "permissions": [],
  "roles": [],
  "routes": [{"method": "GET", "path": "/items"}]
}`

func newTestEngine(t *testing.T) *tollgate.Engine {
	t.Helper()
	engine, err := tollgate.NewEngine([]byte(keySourcePolicy))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { engine.Close() })
	return engine
}

func TestKeySourceSwapsIntoEngine(t *testing.T) {
	srv := startJWKSServer(t)
	clock := newFakeClock()
	engine := newTestEngine(t)
	check := func(name string) tollgate.Decision {
		t.Helper()
		d, err := engine.CheckRequest("GET", "/items",
			[][2]string{{"Authorization", "Bearer " + string(fixtureToken(t, name))}}, clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := check("a"); d.Allowed() {
		t.Fatalf("allowed before any keys: %+v", d)
	}

	if _, err := tollgate.NewKeySource(srv.base+"/jwks", tollgate.WithSwapInto(engine, "nope")); !errors.Is(err, tollgate.ErrInvalidOptions) {
		t.Fatalf("an unknown provider: %v", err)
	}
	ks := newKeySource(t, srv.base+"/jwks", clock, tollgate.WithSwapInto(engine, "oidc"))
	wantRefresh(t, ks, nil)
	d := check("a")
	if !d.Allowed() || d.Subject != "user-a" || d.Provider != "oidc" {
		t.Fatalf("token-a after the fetch: %+v", d)
	}

	// Rotation reaches the engine on the next good fetch.
	srv.control(t, map[string]any{"keys": []string{"b"}})
	clock.Advance(300 * time.Second)
	wantRefresh(t, ks, nil)
	if d := check("a"); d.Allowed() || d.Reason != "unknown_kid" {
		t.Fatalf("token-a once a is gone: %+v", d)
	}
	if d := check("b"); !d.Allowed() {
		t.Fatalf("token-b: %+v", d)
	}
	// An unknown kid's refusal carries the hint a host passes on.
	d = check("c")
	if d.Allowed() || d.RefreshProvider != "oidc" || d.RefreshKid == "" {
		t.Fatalf("token-c: %+v", d)
	}
	if !ks.OnUnknownKID(d.RefreshKid) {
		t.Fatal("the first unknown kid did not ask for a fetch")
	}
	wantRefresh(t, ks, nil)
	srv.wantJWKSHits(t, 3)

	// An outage: the last good set stays in the engine until it goes stale (two days after the
	// last good fetch), then the provider's keys are emptied, until a fetch succeeds again.
	srv.control(t, map[string]any{"mode": "error", "status": 503})
	clock.Advance(24 * time.Hour)
	wantRefresh(t, ks, tollgate.ErrKeySetFetchFailed)
	if d := check("b"); !d.Allowed() {
		t.Fatalf("token-b during the outage: %+v", d)
	}
	clock.Advance(24 * time.Hour)
	wantRefresh(t, ks, tollgate.ErrKeySetFetchFailed)
	if d := check("b"); d.Allowed() {
		t.Fatalf("token-b once the set is stale: %+v", d)
	}
	srv.control(t, map[string]any{"mode": "ok"})
	clock.Advance(10 * time.Minute)
	wantRefresh(t, ks, nil)
	if d := check("b"); !d.Allowed() {
		t.Fatalf("token-b after recovery: %+v", d)
	}

	// SwapKeys (for revoked jtis, say) keeps the source's keys; Close releases them: no keys
	// until SwapKeys sets them, since nothing would keep them fresh or make them stale.
	if err := engine.SwapKeys([]byte(`{"revoked_jti": ["x"]}`)); err != nil {
		t.Fatal(err)
	}
	if d := check("b"); !d.Allowed() {
		t.Fatalf("token-b after SwapKeys without keys: %+v", d)
	}
	ks.Close()
	if d := check("b"); d.Allowed() {
		t.Fatalf("token-b after Close: %+v", d)
	}
	doc := `{"keys": {"oidc": ` + string(readFile(t, keysourceDir+"/key-b.pub.jwk")) + `}}`
	if err := engine.SwapKeys([]byte(doc)); err != nil {
		t.Fatal(err)
	}
	if d := check("b"); !d.Allowed() {
		t.Fatalf("token-b from SwapKeys after Close: %+v", d)
	}
}

// A failure backs off past the moment the set goes stale: the set leaves the engine then, at
// a Refresh with no fetch due, not at the next fetch.
func TestKeySourceStaleSetLeavesTheEngineInsideABackoff(t *testing.T) {
	srv := startJWKSServer(t)
	clock := newFakeClock()
	engine := newTestEngine(t)
	allowed := func() bool {
		t.Helper()
		d, err := engine.CheckRequest("GET", "/items",
			[][2]string{{"Authorization", "Bearer " + string(fixtureToken(t, "a"))}}, clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		return d.Allowed()
	}
	ks := newKeySource(t, srv.base+"/jwks", clock, tollgate.WithSwapInto(engine, "oidc"),
		tollgate.WithRefreshConfig(tollgate.RefreshConfig{MinTTL: 60 * time.Second,
			DefaultTTL: 300 * time.Second, MaxTTL: 600 * time.Second, StaleAfter: 1000 * time.Second,
			RetryInitial: 900 * time.Second, RetryMax: 900 * time.Second}))
	start := clock.Now()
	wantRefresh(t, ks, nil)
	srv.control(t, map[string]any{"mode": "down"})
	clock.Advance(300 * time.Second)
	wantRefresh(t, ks, tollgate.ErrKeySetFetchFailed)
	st, err := ks.Status()
	if err != nil || !st.NextFetch.Equal(start.Add(1200*time.Second)) || !st.StaleAt.Equal(start.Add(1000*time.Second)) {
		t.Fatalf("status after the failure: %+v, %v", st, err)
	}
	clock.Advance(699 * time.Second)
	wantRefresh(t, ks, nil)
	if !allowed() {
		t.Fatal("refused before the set went stale")
	}
	clock.Advance(time.Second)
	wantRefresh(t, ks, nil) // no fetch due
	if allowed() {
		t.Fatal("the stale set is still in the engine")
	}
	srv.control(t, map[string]any{"mode": "ok"})
	clock.Advance(200 * time.Second)
	wantRefresh(t, ks, nil)
	if !allowed() {
		t.Fatal("refused after the set came back")
	}
}

func TestKeySourceRunStops(t *testing.T) {
	srv := startJWKSServer(t)
	clock := newFakeClock()
	ks := newKeySource(t, srv.base+"/jwks", clock)

	// A context already cancelled: Run returns at once, having fetched nothing.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ks.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run with a cancelled context: %v", err)
	}
	srv.wantJWKSHits(t, 0)

	// Cancelled while it waits for the next fetch.
	wait := func(done chan error, want error) {
		t.Helper()
		select {
		case err := <-done:
			if !errors.Is(err, want) {
				t.Fatalf("Run returned %v, want %v", err, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not stop")
		}
	}
	ctx, cancel = context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ks.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for srv.hits(t).JWKS < 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	wait(done, context.Canceled)
	srv.wantJWKSHits(t, 1)
	wantVerified(t, ks, clock, "a")

	// Close stops it too, and later calls fail.
	go func() { done <- ks.Run(context.Background()) }()
	time.Sleep(5 * time.Millisecond)
	ks.Close()
	wait(done, tollgate.ErrNullParameter)
	if _, err := ks.Verifier(); !errors.Is(err, tollgate.ErrNullParameter) {
		t.Fatalf("Verifier after Close: %v", err)
	}
	if ks.OnUnknownKID("x") {
		t.Fatal("OnUnknownKID after Close asked for a fetch")
	}
	if err := ks.Refresh(context.Background()); !errors.Is(err, tollgate.ErrNullParameter) {
		t.Fatalf("Refresh after Close: %v", err)
	}
}

func TestNewKeySourceRefusesBadSettings(t *testing.T) {
	for _, c := range []struct {
		url    string
		config tollgate.RefreshConfig
	}{
		{"not a url", tollgate.RefreshConfig{}},
		{"ftp://127.0.0.1/jwks", tollgate.RefreshConfig{}},
		{"http://issuer.test/jwks", tollgate.RefreshConfig{}}, // plain http beyond loopback
		{"https://user:secret@issuer.test/jwks", tollgate.RefreshConfig{}},
		{"http://127.0.0.1/jwks", tollgate.RefreshConfig{MinTTL: 1500 * time.Millisecond}},
		{"http://127.0.0.1/jwks", tollgate.RefreshConfig{MinTTL: time.Hour, MaxTTL: time.Minute}},
		{"http://127.0.0.1/jwks", tollgate.RefreshConfig{MaxTTL: 48 * time.Hour}}, // stale before refresh
		{"http://127.0.0.1/jwks", tollgate.RefreshConfig{MaxBodyBytes: 2 << 20}},
		{"http://127.0.0.1/jwks", tollgate.RefreshConfig{Algorithms: []string{"XS999"}}},
	} {
		if _, err := tollgate.NewKeySource(c.url, tollgate.WithRefreshConfig(c.config)); !errors.Is(err, tollgate.ErrInvalidOptions) {
			t.Errorf("%s %+v: %v", c.url, c.config, err)
		}
	}
}

// A verifier kept for good follows the source: a rotation reaches it at once, a key the server
// drops is gone from it, and once the set is stale it refuses.
func TestAKeptVerifierFollowsRotationsAndGoesStale(t *testing.T) {
	srv := startJWKSServer(t)
	clock := newFakeClock()
	ks := newKeySource(t, srv.base+"/jwks", clock, tollgate.WithRefreshConfig(tollgate.RefreshConfig{
		MinTTL: 60 * time.Second, DefaultTTL: 600 * time.Second, MaxTTL: 600 * time.Second,
		StaleAfter: 1000 * time.Second}))
	wantRefresh(t, ks, nil)
	kept, err := ks.Verifier(tokenRules...)
	if err != nil {
		t.Fatal(err)
	}
	defer kept.Close()
	if _, err := kept.Verify(fixtureToken(t, "a"), clock.Now()); err != nil {
		t.Fatalf("token-a: %v", err)
	}
	srv.control(t, map[string]any{"keys": []string{"b"}})
	clock.Advance(600 * time.Second)
	wantRefresh(t, ks, nil)
	if tok, err := kept.Verify(fixtureToken(t, "b"), clock.Now()); err != nil || tok.Subject != "user-b" {
		t.Fatalf("token-b after the rotation: %v", err)
	}
	if _, err := kept.Verify(fixtureToken(t, "a"), clock.Now()); !errors.Is(err, tollgate.ErrUnknownKID) {
		t.Fatalf("token-a once a is gone: %v", err)
	}
	srv.control(t, map[string]any{"mode": "down"})
	clock.Advance(1000 * time.Second)
	if _, err := kept.Verify(fixtureToken(t, "b"), clock.Now()); !errors.Is(err, tollgate.ErrKeySetStale) {
		t.Fatalf("a stale set: %v", err)
	}
}
