package tollgate

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

type contextKey struct{}

// NewContext returns a copy of ctx carrying d (what the middleware does for each allowed
// request).
func NewContext(ctx context.Context, d *Decision) context.Context {
	return context.WithValue(ctx, contextKey{}, d)
}

// FromContext returns the decision the middleware stored in a request's context.
func FromContext(ctx context.Context) (*Decision, bool) {
	d, ok := ctx.Value(contextKey{}).(*Decision)
	return d, ok && d != nil
}

// PrincipalFromContext returns the authenticated subject and kind of the request, if any.
func PrincipalFromContext(ctx context.Context) (subject, kind string, ok bool) {
	d, found := FromContext(ctx)
	if !found || !d.Authenticated {
		return "", "", false
	}
	return d.Subject, d.Kind, true
}

// MiddlewareOption configures Middleware.
type MiddlewareOption func(*middleware)

type middleware struct {
	engine         *Engine
	next           http.Handler
	clock          func() time.Time
	deny           func(http.ResponseWriter, *http.Request, *Decision)
	failure        func(http.ResponseWriter, *http.Request, error)
	forwardHeaders bool
	store          Store
}

// WithClock sets the clock decisions are made at (default time.Now).
func WithClock(clock func() time.Time) MiddlewareOption {
	return func(m *middleware) { m.clock = clock }
}

// WithDenyHandler replaces the default refusal (WriteRefusal) with yours; d.Status is 400, 401,
// 403 or 404 (with WithStore also 500 or 503).
func WithDenyHandler(deny func(w http.ResponseWriter, r *http.Request, d *Decision)) MiddlewareOption {
	return func(m *middleware) { m.deny = deny }
}

// WithErrorHandler handles a request no decision could be made for (a *Error; the default
// answers 500).
func WithErrorHandler(h func(w http.ResponseWriter, r *http.Request, err error)) MiddlewareOption {
	return func(m *middleware) { m.failure = h }
}

// WithForwardHeaders(true) sets the decision's ForwardHeaders on the request the next handler
// sees, as a gateway would forward them upstream, and removes whatever the client sent under
// any name the policy forwards (Engine.ForwardedNames), set by this decision or not. Off by
// default: the decision in the context carries them either way.
func WithForwardHeaders(on bool) MiddlewareOption {
	return func(m *middleware) { m.forwardHeaders = on }
}

// Middleware decides every request with the engine. An allowed request goes to next with its
// *Decision in the context (FromContext); a refused one is answered with the decision's status
// (400, 401, 403 or 404; with WithStore also 500 invalid_record or 503 store_unavailable), its
// WWW-Authenticate challenge, and a small JSON body {"error": reason, "message": …}.
func (e *Engine) Middleware(next http.Handler, opts ...MiddlewareOption) http.Handler {
	m := &middleware{engine: e, next: next, clock: time.Now, deny: func(w http.ResponseWriter, _ *http.Request, d *Decision) {
		WriteRefusal(w, d)
	}, failure: func(w http.ResponseWriter, _ *http.Request, _ error) {
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
	}}
	for _, opt := range opts {
		opt(m)
	}
	return m
}

func (m *middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var d Decision
	var err error
	if m.store != nil {
		d, err = m.engine.CheckHTTPWithStore(r, m.store, m.clock())
	} else {
		d, err = m.engine.Check(r, m.clock())
	}
	if err != nil {
		m.failure(w, r, err)
		return
	}
	if !d.Allowed() {
		m.deny(w, r, &d)
		return
	}
	if m.forwardHeaders && len(m.engine.forwarded) > 0 {
		r = r.Clone(r.Context())
		for _, name := range m.engine.forwarded {
			r.Header.Del(name)
		}
		for _, h := range d.ForwardHeaders {
			r.Header.Add(h[0], h[1])
		}
	}
	m.next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), &d)))
}

// WriteRefusal answers a refused request: the decision's status (500 if it has none), its
// WWW-Authenticate challenge when it has one, Cache-Control: no-store, and
// {"error": reason, "message": message} as JSON.
func WriteRefusal(w http.ResponseWriter, d *Decision) {
	status := d.Status
	if status < 400 || status > 599 {
		status = http.StatusInternalServerError
	}
	h := w.Header()
	if d.WWWAuthenticate != "" {
		h.Set("WWW-Authenticate", d.WWWAuthenticate)
	}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	body, _ := json.Marshal(struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}{d.Reason, d.Message})
	_, _ = w.Write(append(body, '\n'))
}
