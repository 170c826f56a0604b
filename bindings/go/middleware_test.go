package tollgate_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	tollgate "github.com/tollgate/tollgate/bindings/go"
)

// app answers 200 with what the middleware put in the context.
var app = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	d, ok := tollgate.FromContext(r.Context())
	if !ok {
		http.Error(w, "no decision in the context", http.StatusTeapot)
		return
	}
	subject, kind, authenticated := tollgate.PrincipalFromContext(r.Context())
	if authenticated != d.Authenticated || subject != d.Subject || kind != d.Kind {
		http.Error(w, "PrincipalFromContext disagrees", http.StatusTeapot)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(struct {
		Decision *tollgate.Decision `json:"decision"`
		Headers  http.Header        `json:"headers"`
	}{d, r.Header})
})

// TestMiddlewareScenarios sends every table case through Engine.Middleware with an
// httptest.ResponseRecorder: a refusal is answered with the table's status, its challenge and a
// JSON body naming the reason, without reaching the handler; an allowed request reaches it with
// the expected decision in its context.
func TestMiddlewareScenarios(t *testing.T) {
	total, agreeing := 0, 0
	for _, name := range deployments {
		d := loadDeployment(t, name)
		e := newEngine(t, d)
		h := e.Middleware(app, tollgate.WithClock(func() time.Time { return d.Now }))
		for _, c := range d.Cases {
			total++
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httpRequest(c))
			res := w.Result()
			body, _ := io.ReadAll(res.Body)
			var want struct {
				Status          int     `json:"status"`
				Reason          string  `json:"reason"`
				WWWAuthenticate *string `json:"www_authenticate"`
			}
			raw, _ := json.Marshal(c.Expect)
			_ = json.Unmarshal(raw, &want)
			if res.StatusCode != want.Status {
				t.Errorf("%s / %s: status %d, expected %d (%s)", name, c.Name, res.StatusCode, want.Status, body)
				continue
			}
			if want.Status == http.StatusOK {
				var got struct {
					Decision tollgate.Decision `json:"decision"`
				}
				if err := json.Unmarshal(body, &got); err != nil {
					t.Errorf("%s / %s: the handler was not reached: %s", name, c.Name, body)
					continue
				}
				if why := mismatches(got.Decision, c.Expect); len(why) > 0 {
					t.Errorf("%s / %s: decision in the context: %s", name, c.Name, strings.Join(why, "; "))
					continue
				}
			} else {
				var refusal struct{ Error, Message string }
				if err := json.Unmarshal(body, &refusal); err != nil || refusal.Error != want.Reason {
					t.Errorf("%s / %s: body %q, expected error %q", name, c.Name, body, want.Reason)
					continue
				}
				if ct := res.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("%s / %s: Content-Type %q", name, c.Name, ct)
					continue
				}
				if want.WWWAuthenticate != nil && res.Header.Get("WWW-Authenticate") != *want.WWWAuthenticate {
					t.Errorf("%s / %s: WWW-Authenticate %q, expected %q", name, c.Name,
						res.Header.Get("WWW-Authenticate"), *want.WWWAuthenticate)
					continue
				}
				if res.StatusCode == http.StatusUnauthorized && res.Header.Get("WWW-Authenticate") == "" {
					t.Errorf("%s / %s: a 401 without WWW-Authenticate", name, c.Name)
					continue
				}
			}
			agreeing++
		}
		e.Close()
	}
	report("3 middleware", fmt.Sprintf("middleware %-17s %3d of %3d cases agree", "all four", agreeing, total))
}

// sends reports whether case c carries a header named name.
func sends(c *scenarioCase, name string) bool {
	for _, h := range c.Headers {
		if strings.EqualFold(h[0], name) {
			return true
		}
	}
	return false
}

// TestMiddlewareOverHTTP runs the middleware in a real server (httptest.NewServer): a refusal
// with its challenge, an allowed request with forwarded headers set on the request, and a custom
// deny handler.
func TestMiddlewareOverHTTP(t *testing.T) {
	d := loadDeployment(t, "workspace-api")
	e := newEngine(t, d)
	defer e.Close()
	clock := tollgate.WithClock(func() time.Time { return d.Now })
	mux := http.NewServeMux()
	mux.Handle("/", e.Middleware(app, clock, tollgate.WithForwardHeaders(true)))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	var allowed, refused *scenarioCase
	for i := range d.Cases {
		c := &d.Cases[i]
		if _, ok := c.Expect["forward_headers"]; ok && allowed == nil {
			allowed = c
		}
		if _, ok := c.Expect["www_authenticate"]; ok && refused == nil {
			refused = c
		}
	}
	if allowed == nil || refused == nil {
		t.Fatal("workspace-api's table lost its forward_headers or www_authenticate case")
	}
	send := func(c *scenarioCase) (*http.Response, []byte) {
		req, err := http.NewRequest(c.Method, srv.URL+c.Path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range c.Headers {
			req.Header.Add(h[0], h[1])
		}
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res, body
	}

	res, body := send(refused)
	var wantChallenge string
	_ = json.Unmarshal(refused.Expect["www_authenticate"], &wantChallenge)
	var wantStatus int
	_ = json.Unmarshal(refused.Expect["status"], &wantStatus)
	if res.StatusCode != wantStatus || res.Header.Get("WWW-Authenticate") != wantChallenge {
		t.Errorf("%s: %d %q, expected %d %q", refused.Name, res.StatusCode, res.Header.Get("WWW-Authenticate"), wantStatus, wantChallenge)
	}
	if res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("%s: Cache-Control %q", refused.Name, res.Header.Get("Cache-Control"))
	}

	res, body = send(allowed)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d %s", allowed.Name, res.StatusCode, body)
	}
	var got struct {
		Decision tollgate.Decision `json:"decision"`
		Headers  http.Header       `json:"headers"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	var fwd map[string]string
	_ = json.Unmarshal(allowed.Expect["forward_headers"], &fwd)
	for name, value := range fwd {
		if got.Headers.Get(name) != value {
			t.Errorf("%s: forwarded %s = %q, expected %q", allowed.Name, name, got.Headers.Get(name), value)
		}
	}
	if !got.Decision.Authenticated || got.Decision.Subject == "" {
		t.Errorf("%s: no principal in the context: %+v", allowed.Name, got.Decision)
	}

	// What a client sends under a forwarded name never reaches the handler: on a public route
	// (the decision sets no header) and on /v1/me (no tenant), as on the allowed case (where
	// the tenant header is the request's own: a second one would be refused).
	names := e.ForwardedNames()
	if strings.Join(names, ",") != "x-user-id,x-workspace-id,x-roles,x-principal-kind" {
		t.Fatalf("ForwardedNames: %q", names)
	}
	for _, path := range []string{"/v1/public/templates", "/v1/me", allowed.Path} {
		c := *allowed
		if path != allowed.Path {
			c.Method, c.Path = "GET", path
		}
		c.Headers = append([][2]string(nil), allowed.Headers...)
		for _, name := range names {
			if path != allowed.Path || !sends(allowed, name) {
				c.Headers = append(c.Headers, [2]string{strings.ToUpper(name), "spoofed"})
			}
		}
		res, body = send(&c)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", path, res.StatusCode, body)
		}
		got.Headers = nil
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			for _, v := range got.Headers.Values(name) {
				if v == "spoofed" {
					t.Errorf("%s: the client's %s reached the handler", path, name)
				}
			}
		}
		if path == "/v1/me" && (got.Headers.Get("x-user-id") == "" || got.Headers.Get("x-workspace-id") != "") {
			t.Errorf("/v1/me: forwarded %v", got.Headers)
		}
	}

	// A custom refusal.
	custom := httptest.NewServer(e.Middleware(app, clock, tollgate.WithDenyHandler(
		func(w http.ResponseWriter, r *http.Request, d *tollgate.Decision) {
			w.Header().Set("X-Reason", d.Reason)
			w.WriteHeader(d.Status)
		})))
	defer custom.Close()
	req, _ := http.NewRequest(refused.Method, custom.URL+refused.Path, nil)
	for _, h := range refused.Headers {
		req.Header.Add(h[0], h[1])
	}
	res, err := custom.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	var wantReason string
	_ = json.Unmarshal(refused.Expect["reason"], &wantReason)
	if res.StatusCode != wantStatus || res.Header.Get("X-Reason") != wantReason {
		t.Errorf("custom deny handler: %d %q", res.StatusCode, res.Header.Get("X-Reason"))
	}
}

// TestMiddlewareClosedEngine: a request no decision can be made for goes to the error handler
// (500 by default).
func TestMiddlewareClosedEngine(t *testing.T) {
	d := loadDeployment(t, "tenant-path")
	e := newEngine(t, d)
	e.Close()
	w := httptest.NewRecorder()
	e.Middleware(app).ServeHTTP(w, httptest.NewRequest("GET", "/api/health", nil))
	if w.Code != http.StatusInternalServerError {
		t.Errorf("closed engine: %d", w.Code)
	}
	var seen error
	w = httptest.NewRecorder()
	e.Middleware(app, tollgate.WithErrorHandler(func(w http.ResponseWriter, _ *http.Request, err error) {
		seen = err
		w.WriteHeader(http.StatusServiceUnavailable)
	})).ServeHTTP(w, httptest.NewRequest("GET", "/api/health", nil))
	var te *tollgate.Error
	if w.Code != http.StatusServiceUnavailable || !asError(seen, &te) || te.Code != "null_parameter" {
		t.Errorf("error handler: %d %v", w.Code, seen)
	}
}
