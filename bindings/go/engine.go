package tollgate

/*
#include <stdlib.h>
#include <string.h>
#include <tollgate.h>
*/
import "C"

import (
	"encoding/json"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// Engine is a compiled policy and its current key snapshot (tg_engine).
//
// It is safe for concurrent use: any number of goroutines may Check while another calls
// SwapKeys (each check sees one whole snapshot, the old or the new). Close frees it after the
// calls in flight return; later calls fail with ErrNullParameter.
type Engine struct {
	mu  sync.RWMutex // held shared by every call, exclusively by Close
	ptr *C.tg_engine
	// The header names the policy forwards, each once (tg_engine_forwarded_name).
	forwarded []string
}

// NewEngine compiles a policy (JSON, docs/policy.md) into an engine with an empty key snapshot:
// every credential fails until SwapKeys installs keys. A bad policy gives ErrInvalidPolicy with a
// message naming the place.
func NewEngine(policy []byte) (*Engine, error) {
	p, n := bytesArg(policy)
	var ptr *C.tg_engine
	var msg *C.char
	st := C.tg_engine_new(p, n, &ptr, &msg)
	runtime.KeepAlive(policy)
	if st != C.TG_STATUS_OK {
		return nil, newError(st, msg)
	}
	e := &Engine{ptr: ptr}
	for i := C.size_t(0); i < C.tg_engine_forwarded_names_count(ptr); i++ {
		var n C.size_t
		e.forwarded = append(e.forwarded, goString(C.tg_engine_forwarded_name(ptr, i, &n), n))
	}
	runtime.SetFinalizer(e, (*Engine).Close)
	return e, nil
}

// ForwardedNames returns every header name the policy forwards (forward_headers), each once. A
// decision sets only those it has values for; a host passing an allowed request upstream
// removes the others from it, so that a client cannot send one of its own (the middleware's
// WithForwardHeaders does).
func (e *Engine) ForwardedNames() []string {
	return append([]string(nil), e.forwarded...)
}

// Close frees the engine, waiting for calls in flight. It is idempotent and always returns nil.
// Decisions already returned stay valid (they are Go values).
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ptr != nil {
		C.tg_engine_free(e.ptr)
		e.ptr = nil
		runtime.SetFinalizer(e, nil)
	}
	return nil
}

// SwapKeys builds a key snapshot for this engine's policy from its JSON document (keys per
// provider, revoked_jti, users, api_keys, peppers) and swaps it in atomically: checks already
// running finish on the old snapshot. On failure (ErrInvalidSnapshot, ErrWeakKey, …) the engine
// keeps its current snapshot. A provider a KeySource swaps keys into (WithSwapInto) keeps the
// source's keys: the document's keys for it are not used.
func (e *Engine) SwapKeys(snapshot []byte) error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.ptr == nil {
		return errClosed("engine")
	}
	p, n := bytesArg(snapshot)
	var msg *C.char
	st := C.tg_engine_swap_snapshot_json(e.ptr, p, n, &msg)
	runtime.KeepAlive(snapshot)
	if st != C.TG_STATUS_OK {
		return newError(st, msg)
	}
	return nil
}

// ReleaseProviderKeys ends what a KeySource began for provider (WithSwapInto, SwapInto): SwapKeys
// then sets its keys again, and until it does the provider has none (nothing keeps them fresh,
// or makes them stale). KeySource.Close does it for its WithSwapInto engine; call it yourself
// after SwapInto when you stop refreshing. A provider no key source swapped into is left as it
// is; one the policy lacks is ErrInvalidOptions.
func (e *Engine) ReleaseProviderKeys(provider string) error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.ptr == nil {
		return errClosed("engine")
	}
	prov := []byte(provider)
	p, n := bytesArg(prov)
	var msg *C.char
	st := C.tg_engine_release_provider_keys(e.ptr, p, n, &msg)
	runtime.KeepAlive(prov)
	if st != C.TG_STATUS_OK {
		return newError(st, msg)
	}
	return nil
}

// Check decides an HTTP request at time now (a zero now means time.Now()): its method, its
// request URI (path and query, as sent), and its headers (with Host, which net/http keeps apart
// in r.Host). The error is non-nil only when no decision could be made; a refusal is a Decision
// whose Status is not 200.
func (e *Engine) Check(r *http.Request, now time.Time) (Decision, error) {
	path := r.RequestURI
	if !strings.HasPrefix(path, "/") && r.URL != nil {
		// A client-side request, or a proxy's absolute-form target: use the parsed URL.
		path = r.URL.RequestURI()
	}
	return e.CheckHeader(r.Method, path, r.Header, r.Host, now)
}

// CheckRequest decides a request given as its method (uppercase), path (optionally with a query
// string) and headers as ordered (name, value) pairs; names are matched case-insensitively and a
// repeated name stays repeated. A zero now means time.Now().
func (e *Engine) CheckRequest(method, path string, headers [][2]string, now time.Time) (Decision, error) {
	d, _, err := e.check(method, path, len(headers), pairsSize(headers), now, pairHeaders(headers), false)
	return d, err
}

func pairHeaders(headers [][2]string) func(add func(name, value string)) {
	return func(add func(name, value string)) {
		for _, h := range headers {
			add(h[0], h[1])
		}
	}
}

func pairsSize(headers [][2]string) int {
	size := 0
	for _, h := range headers {
		size += len(h[0]) + len(h[1])
	}
	return size
}

// CheckHeader is CheckRequest with the headers as an http.Header, plus host (sent as a Host
// header unless header has one; "" for none), as net/http keeps it apart in Request.Host.
func (e *Engine) CheckHeader(method, path string, header http.Header, host string, now time.Time) (Decision, error) {
	d, _, err := e.checkHeader(method, path, header, host, now, false)
	return d, err
}

// Reissue decides r as Check does and, when it is allowed, re-issues the token it carried
// (tg_engine_reissue): the same claims (jti too) with iat = now and exp = now + the provider's
// reissue_ttl, signed with the first key of the provider's current key set, for
// deployments where a valid token may mint a new one (examples/tenant-path).
//
// Decisions are Go values that keep no native handle, so the check and the re-issue are one
// call, on one native decision, at one now. The Decision is returned in every case; the error is
// ErrSigningFailed when it is a refusal (answer it with WriteRefusal) or the provider does not
// re-issue, or the check's own error when no decision could be made.
func (e *Engine) Reissue(r *http.Request, now time.Time) (string, Decision, error) {
	path := r.RequestURI
	if !strings.HasPrefix(path, "/") && r.URL != nil {
		path = r.URL.RequestURI()
	}
	d, token, err := e.checkHeader(r.Method, path, r.Header, r.Host, now, true)
	return token, d, err
}

// ReissueRequest is Reissue for a request given as CheckRequest takes it.
func (e *Engine) ReissueRequest(method, path string, headers [][2]string, now time.Time) (string, Decision, error) {
	d, token, err := e.check(method, path, len(headers), pairsSize(headers), now, pairHeaders(headers), true)
	return token, d, err
}

func (e *Engine) checkHeader(method, path string, header http.Header, host string, now time.Time,
	reissue bool) (Decision, string, error) {
	count, size, each := headerPairs(header, host)
	return e.check(method, path, count, size, now, each, reissue)
}

// headerPairs gives header's (name, value) pairs, plus host as a Host header unless header has
// one: their count, their size in bytes, and a function giving each.
func headerPairs(header http.Header, host string) (int, int, func(add func(name, value string))) {
	count, size := 0, 0
	for name, values := range header {
		count += len(values)
		size += len(values) * len(name)
		for _, v := range values {
			size += len(v)
		}
	}
	addHost := host != "" && header.Get("Host") == ""
	if addHost {
		count++
		size += len("Host") + len(host)
	}
	return count, size, func(add func(name, value string)) {
		for name, values := range header {
			for _, v := range values {
				add(name, v)
			}
		}
		if addHost {
			add("Host", host)
		}
	}
}

// cRequest is a request copied into one C allocation: the tg_header array, then every byte the
// headers, the method and the path point to (cgo forbids C memory holding Go pointers). The
// library copies what it keeps, so it may be freed as soon as the call that reads it returns.
type cRequest struct {
	buf                unsafe.Pointer
	method, path       *C.uint8_t
	methodLen, pathLen C.size_t
	headers            *C.tg_header
	count              C.size_t
}

// newCRequest copies method, path and the count headers each gives (size: their bytes in all).
func newCRequest(method, path string, count, size int, each func(add func(name, value string))) cRequest {
	headerBytes := count * int(C.sizeof_tg_header)
	total := headerBytes + len(method) + len(path) + size
	buf := C.malloc(C.size_t(total + 1))
	if buf == nil {
		panic("tollgate: out of memory")
	}
	var headers []C.tg_header
	if count > 0 {
		headers = unsafe.Slice((*C.tg_header)(buf), count)
	}
	data := unsafe.Slice((*byte)(buf), total+1)
	off := headerBytes
	put := func(s string) (*C.uint8_t, C.size_t) {
		if len(s) == 0 {
			return nil, 0
		}
		p := (*C.uint8_t)(unsafe.Pointer(&data[off]))
		off += copy(data[off:], s)
		return p, C.size_t(len(s))
	}
	i := 0
	each(func(name, value string) {
		if i >= count {
			return
		}
		h := &headers[i]
		h.name, h.name_len = put(name)
		h.value, h.value_len = put(value)
		i++
	})
	r := cRequest{buf: buf, count: C.size_t(i)}
	r.method, r.methodLen = put(method)
	r.path, r.pathLen = put(path)
	if i > 0 {
		r.headers = &headers[0]
	}
	return r
}

func (r *cRequest) free() {
	if r.buf != nil {
		C.free(r.buf)
		r.buf = nil
	}
}

// check copies the request into C memory (newCRequest), runs tg_engine_check, and copies the
// decision out; with reissue, an allowed decision's token is re-issued before the native
// decision is freed.
func (e *Engine) check(method, path string, count, size int, now time.Time,
	each func(add func(name, value string)), reissue bool) (Decision, string, error) {
	if now.IsZero() {
		now = time.Now()
	}
	req := newCRequest(method, path, count, size, each)
	defer req.free()

	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.ptr == nil {
		return Decision{}, "", errClosed("engine")
	}
	var d *C.tg_decision
	t := unixSeconds(now)
	st := C.tg_engine_check(e.ptr, req.method, req.methodLen, req.path, req.pathLen, req.headers, req.count, t, &d)
	if st != C.TG_STATUS_OK {
		return Decision{}, "", newError(st, nil)
	}
	defer C.tg_decision_free(d)
	decision := readDecision(d)
	if !reissue {
		return decision, "", nil
	}
	var token, msg *C.char
	if st := C.tg_engine_reissue(e.ptr, d, t, &token, &msg); st != C.TG_STATUS_OK {
		return decision, "", newError(st, msg)
	}
	return decision, takeString(token), nil
}

// Decision is the answer to one request, copied out of the library: the HTTP status to answer,
// why, who is calling, and what to send. Status 200 lets the request through; 400, 401, 403 or
// 404 refuse it; a check with records in a store (CheckWithStore) may also decide 500
// (invalid_record: the store holds a record the engine will not use) or 503
// (store_unavailable).
type Decision struct {
	Status  int    `json:"status"`  // 200, 400, 401, 403 or 404 (with a store: 500, 503)
	Reason  string `json:"reason"`  // the stable reason name: "ok", "expired", "not_found", …
	Code    uint32 `json:"code"`    // the reason's stable number (0 when allowed)
	Message string `json:"message"` // for logs ("allowed" when allowed); never holds secrets
	Route   string `json:"route,omitempty"`

	// Authenticated is true when the decision has a principal (Subject, Kind, Provider, …). A
	// refusal after authentication (403, or 404 for a hidden tenant) keeps the principal.
	Authenticated bool            `json:"authenticated"`
	Subject       string          `json:"subject,omitempty"`
	Kind          string          `json:"kind,omitempty"`     // user, service_account or personal_access_token
	Provider      string          `json:"provider,omitempty"` // the policy provider that vouched for it
	Tenant        string          `json:"tenant,omitempty"`   // for tenant-scoped routes
	Roles         []string        `json:"roles,omitempty"`    // effective roles, in policy order
	Permissions   []string        `json:"permissions,omitempty"`
	ExpiresAt     time.Time       `json:"expires_at,omitempty"` // zero when the credential has no exp
	ClaimsJSON    json.RawMessage `json:"claims,omitempty"`     // the verified claims (an API key: its record)

	WWWAuthenticate string      `json:"www_authenticate,omitempty"` // send it with a 401 or 403
	ForwardHeaders  [][2]string `json:"forward_headers,omitempty"`  // to forward upstream (when allowed)
	CorrelationID   string      `json:"correlation_id,omitempty"`

	// RefreshProvider and RefreshKid are the key-refresh hint of an unknown_kid refusal: the
	// host may refetch that provider's keys, SwapKeys, and check again.
	RefreshProvider string `json:"refresh_provider,omitempty"`
	RefreshKid      string `json:"refresh_kid,omitempty"`
}

// Allowed reports whether the request may pass (Status 200).
func (d *Decision) Allowed() bool { return d.Status == http.StatusOK }

// HasPermission reports whether the principal holds permission.
func (d *Decision) HasPermission(permission string) bool {
	for _, p := range d.Permissions {
		if p == permission {
			return true
		}
	}
	return false
}

// HasRole reports whether the principal holds role (effective roles, after the hierarchy).
func (d *Decision) HasRole(role string) bool {
	for _, r := range d.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// Err is nil when the request is allowed, else the refusal as a *Error (Code = Reason, Number =
// Code, HTTPStatus = Status), for callers that handle refusals as errors.
func (d *Decision) Err() error {
	if d.Allowed() {
		return nil
	}
	return &Error{Code: d.Reason, Number: d.Code, HTTPStatus: d.Status, Message: d.Message}
}

// Claims unmarshals the verified claims into v.
func (d *Decision) Claims(v any) error {
	if d.ClaimsJSON == nil {
		return &Error{Code: ErrorName(uint32(C.TG_STATUS_MISSING_CREDENTIALS)),
			Number: uint32(C.TG_STATUS_MISSING_CREDENTIALS), HTTPStatus: http.StatusUnauthorized,
			Message: "the decision has no principal"}
	}
	return json.Unmarshal(d.ClaimsJSON, v)
}

// readDecision copies every field of a decision into Go memory.
func readDecision(d *C.tg_decision) Decision {
	var n C.size_t
	str := func(p *C.char) string { return goString(p, n) }
	out := Decision{
		Status: int(C.tg_decision_status(d)),
		Code:   uint32(C.tg_decision_reason(d)),
	}
	out.Reason = str(C.tg_decision_reason_name(d, &n))
	out.Message = str(C.tg_decision_message(d, &n))
	out.Route = str(C.tg_decision_route(d, &n))
	if kind := C.tg_decision_kind(d, &n); kind != nil {
		out.Authenticated = true
		out.Kind = str(kind)
	}
	out.Subject = str(C.tg_decision_subject(d, &n))
	out.Provider = str(C.tg_decision_provider(d, &n))
	out.Tenant = str(C.tg_decision_tenant(d, &n))
	if count := int(C.tg_decision_roles_count(d)); count > 0 {
		out.Roles = make([]string, count)
		for i := range out.Roles {
			out.Roles[i] = str(C.tg_decision_role(d, C.size_t(i), &n))
		}
	}
	if count := int(C.tg_decision_permissions_count(d)); count > 0 {
		out.Permissions = make([]string, count)
		for i := range out.Permissions {
			out.Permissions[i] = str(C.tg_decision_permission(d, C.size_t(i), &n))
		}
	}
	var exp C.double
	if C.tg_decision_expires_at(d, &exp) {
		out.ExpiresAt = fromUnix(float64(exp))
	}
	if p := C.tg_decision_claims_json(d, &n); p != nil {
		out.ClaimsJSON = json.RawMessage(goBytes(unsafe.Pointer(p), n))
	}
	out.WWWAuthenticate = str(C.tg_decision_www_authenticate(d, &n))
	if count := int(C.tg_decision_forward_headers_count(d)); count > 0 {
		out.ForwardHeaders = make([][2]string, 0, count)
		for i := 0; i < count; i++ {
			var h C.tg_header
			if C.tg_decision_forward_header(d, C.size_t(i), &h) != C.TG_STATUS_OK {
				continue
			}
			out.ForwardHeaders = append(out.ForwardHeaders, [2]string{
				goString((*C.char)(unsafe.Pointer(h.name)), h.name_len),
				goString((*C.char)(unsafe.Pointer(h.value)), h.value_len),
			})
		}
	}
	out.CorrelationID = str(C.tg_decision_correlation_id(d, &n))
	out.RefreshProvider = str(C.tg_decision_refresh_provider(d, &n))
	out.RefreshKid = str(C.tg_decision_refresh_kid(d, &n))
	return out
}
