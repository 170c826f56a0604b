package tollgate_test

import (
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	tollgate "github.com/tollgate/tollgate/bindings/go"
)

// TestErrorType: every failure is a *tollgate.Error, readable with errors.As, comparable with
// the sentinels through errors.Is, wrapped or not.
func TestErrorType(t *testing.T) {
	_, err := tollgate.NewEngine([]byte(`{"not": "a policy"}`))
	var te *tollgate.Error
	if !errors.As(err, &te) {
		t.Fatalf("NewEngine: %T %v is not a *tollgate.Error", err, err)
	}
	if te.Code != "invalid_policy" || te.Number != 800 || te.HTTPStatus == 0 {
		t.Errorf("NewEngine: %+v", te)
	}
	if te.Message == "" || !strings.HasPrefix(err.Error(), "tollgate: invalid_policy: ") {
		t.Errorf("NewEngine: message %q, Error() %q", te.Message, err.Error())
	}
	if !errors.Is(err, tollgate.ErrInvalidPolicy) || errors.Is(err, tollgate.ErrInvalidSnapshot) {
		t.Errorf("errors.Is against the sentinels")
	}
	wrapped := fmt.Errorf("loading: %w", err)
	if !errors.Is(wrapped, tollgate.ErrInvalidPolicy) || !errors.As(wrapped, &te) || te.Number != 800 {
		t.Errorf("a wrapped *Error: %v", wrapped)
	}

	// A bad snapshot leaves the engine working with its current keys.
	d := loadDeployment(t, "tenant-path")
	e := newEngine(t, d)
	defer e.Close()
	err = e.SwapKeys([]byte(`{"providers": 7}`))
	if !errors.As(err, &te) || !errors.Is(err, tollgate.ErrInvalidSnapshot) {
		t.Errorf("SwapKeys: %v", err)
	}
	c := d.Cases[0]
	if got, err := e.CheckRequest(c.Method, c.Path, c.Headers, d.Now); err != nil || len(mismatches(got, c.Expect)) > 0 {
		t.Errorf("after a refused swap: %+v %v", got, err)
	}

	// A token's verdict.
	keys := []byte(`{"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow","alg":"HS256"}`)
	token := []byte("eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
	_, err = tollgate.Verify(token, keys, tollgate.WithTime(time.Unix(1300819380+60, 0)))
	if !errors.Is(err, tollgate.ErrExpired) || !errors.As(err, &te) || te.HTTPStatus != http.StatusUnauthorized {
		t.Errorf("expired: %v", err)
	}
	tok, err := tollgate.Verify(token, keys, tollgate.WithTime(time.Unix(1300819000, 0)))
	if err != nil || tok.Issuer != "joe" || tok.Algorithm != "HS256" || !tok.ExpiresAt.Equal(time.Unix(1300819380, 0)) {
		t.Fatalf("valid: %+v %v", tok, err)
	}
	var claims struct {
		Root bool `json:"http://example.com/is_root"`
	}
	if err := tok.Claims(&claims); err != nil || !claims.Root {
		t.Errorf("Claims: %+v %v", claims, err)
	}
	_, err = tollgate.Verify(token, keys, tollgate.WithAlgorithm("RS256"))
	if !errors.As(err, &te) || te.Number < 500 || te.Number > 507 {
		t.Errorf("a key bound to another algorithm: %v", err)
	}
	_, err = tollgate.NewVerifier(keys, tollgate.WithOptionsJSON([]byte(`{"colour":"red"}`)))
	if !errors.Is(err, tollgate.ErrInvalidOptions) {
		t.Errorf("unknown option: %v", err)
	}
	// An empty issuer list (a configuration left empty) is refused, not "any issuer".
	var none []string
	if _, err := tollgate.NewVerifier(keys, tollgate.WithIssuers(none...)); !errors.Is(err, tollgate.ErrInvalidOptions) {
		t.Errorf("no issuers: %v", err)
	}
	if _, err := tollgate.Verify(token, keys, tollgate.WithIssuers()); !errors.Is(err, tollgate.ErrInvalidOptions) {
		t.Errorf("no issuers in Verify: %v", err)
	}
	v, err := tollgate.NewVerifier(keys, tollgate.WithIssuers("someone-else"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(token, time.Unix(1300819000, 0)); !errors.Is(err, tollgate.ErrInvalidIssuer) {
		t.Errorf("issuer: %v", err)
	}
	v.Close()
	if _, err := v.Verify(token, time.Unix(1300819000, 0)); !errors.Is(err, tollgate.ErrNullParameter) {
		t.Errorf("after Close: %v", err)
	}

	// A refusal as an error.
	for _, c := range d.Cases {
		got, err := e.CheckRequest(c.Method, c.Path, c.Headers, d.Now)
		if err != nil {
			t.Fatal(err)
		}
		derr := got.Err()
		if got.Allowed() != (derr == nil) {
			t.Errorf("%s: Err() %v for status %d", c.Name, derr, got.Status)
		}
		if derr != nil && (!errors.As(derr, &te) || te.Code != got.Reason || te.HTTPStatus != got.Status ||
			tollgate.ErrorHTTPStatus(te.Number) != got.Status) {
			t.Errorf("%s: Err() %+v for %+v", c.Name, te, got)
		}
	}
}

// TestSentinelsMatchLibrary: each Err… sentinel's number has the sentinel's name in the
// library, and every number the library names below 2100 has a sentinel.
func TestSentinelsMatchLibrary(t *testing.T) {
	names := map[uint32]bool{}
	for _, s := range allSentinels() {
		if got := tollgate.ErrorName(s.Number); got != s.Code {
			t.Errorf("sentinel %d is %q, the library says %q", s.Number, s.Code, got)
		}
		if s.Message == "" || s.HTTPStatus == 0 {
			t.Errorf("sentinel %s: %+v", s.Code, s)
		}
		names[s.Number] = true
	}
	for n := uint32(1); n < 2100; n++ {
		if tollgate.ErrorName(n) != "unknown" && !names[n] {
			t.Errorf("no sentinel for %d (%s)", n, tollgate.ErrorName(n))
		}
	}
	if tollgate.ErrorName(0) != "ok" || tollgate.Version() == "" {
		t.Errorf("ErrorName(0) %q, Version %q", tollgate.ErrorName(0), tollgate.Version())
	}
}

// allSentinels lists the package's exported *Error variables.
func allSentinels() []*tollgate.Error {
	return tollgate.AllErrors
}

// TestDecisionFields reads a whole allowed decision (roles, permissions, expiry, claims) and a
// key-refresh hint.
func TestDecisionFields(t *testing.T) {
	for _, name := range deployments {
		d := loadDeployment(t, name)
		e := newEngine(t, d)
		for _, c := range d.Cases {
			got, err := e.CheckRequest(c.Method, c.Path, c.Headers, d.Now)
			if err != nil {
				t.Fatal(err)
			}
			if got.Authenticated {
				if got.Provider == "" || got.ClaimsJSON == nil {
					t.Errorf("%s / %s: principal without provider or claims: %+v", name, c.Name, got)
				}
				var claims map[string]any
				if err := got.Claims(&claims); err != nil {
					t.Errorf("%s / %s: Claims: %v", name, c.Name, err)
				}
				for _, p := range got.Permissions {
					if !got.HasPermission(p) {
						t.Errorf("HasPermission(%q)", p)
					}
				}
				if !got.ExpiresAt.IsZero() && got.ExpiresAt.Before(time.Unix(0, 0)) {
					t.Errorf("%s / %s: ExpiresAt %v", name, c.Name, got.ExpiresAt)
				}
			} else if got.Subject != "" || got.Roles != nil || got.ClaimsJSON != nil {
				t.Errorf("%s / %s: principal fields without a principal: %+v", name, c.Name, got)
			}
			if got.Reason == "unknown_kid" && (got.RefreshKid == "" || got.RefreshProvider == "") {
				t.Errorf("%s / %s: unknown_kid without a refresh hint: %+v", name, c.Name, got)
			}
			if got.Allowed() && got.Route == "" && got.Status == 200 && got.Reason != "ok" {
				t.Errorf("%s / %s: %+v", name, c.Name, got)
			}
		}
		e.Close()
	}
	// A zero time means now; an empty request is a decision (400 or 404), not an error.
	d := loadDeployment(t, "tenant-path")
	e := newEngine(t, d)
	defer e.Close()
	got, err := e.CheckRequest("", "", nil, time.Time{})
	if err != nil || got.Allowed() {
		t.Errorf("empty request: %+v %v", got, err)
	}
	got, err = e.CheckHeader("GET", "/api/health", http.Header{"X-Bytes": {"\xff\xfe"}}, "", time.Time{})
	if err != nil || got.Status == 0 {
		t.Errorf("non-UTF-8 header: %+v %v", got, err)
	}
}

// TestFinalizers drops engines and verifiers without Close: the finalizers free them (run under
// -race and, in tests/c, under Valgrind for the library itself); nothing crashes.
func TestFinalizers(t *testing.T) {
	d := loadDeployment(t, "service-accounts")
	for i := 0; i < 20; i++ {
		e := newEngine(t, d)
		c := d.Cases[i%len(d.Cases)]
		if _, err := e.CheckRequest(c.Method, c.Path, c.Headers, d.Now); err != nil {
			t.Fatal(err)
		}
		if _, err := tollgate.NewVerifier([]byte(dummyHS256Key)); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.GC()
	time.Sleep(10 * time.Millisecond)
}
