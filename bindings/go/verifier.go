package tollgate

/*
#include <tollgate.h>
*/
import "C"

import (
	"encoding/json"
	"runtime"
	"sync"
	"time"
	"unsafe"
)

// Verifier is a key set and the rules tokens must satisfy (tg_verifier). It is immutable and
// safe for concurrent use. Build one per key set and reuse it: building parses the keys.
type Verifier struct {
	mu  sync.RWMutex // held shared by every call, exclusively by Close
	ptr *C.tg_verifier
}

// Option sets one verification rule for NewVerifier and Verify.
type Option func(*options)

type options struct {
	Issuers         []string        `json:"issuers,omitempty"`
	Audiences       []string        `json:"audiences,omitempty"`
	Leeway          *uint64         `json:"leeway,omitempty"`
	Typ             string          `json:"typ,omitempty"`
	Required        *[]string       `json:"required,omitempty"`
	MaxLifetime     *uint64         `json:"max_lifetime,omitempty"`
	RejectFutureIat *bool           `json:"reject_future_iat,omitempty"`
	MaxTokenBytes   *uint64         `json:"max_token_bytes,omitempty"`
	MaxJSONDepth    *uint64         `json:"max_json_depth,omitempty"`
	Alg             string          `json:"alg,omitempty"`
	Kid             string          `json:"kid,omitempty"`
	Backend         string          `json:"backend,omitempty"`
	Cache           json.RawMessage `json:"cache,omitempty"`

	raw []byte    // WithOptionsJSON: used as is
	now time.Time // WithTime (Verify only)
	// WithIssuers was given no issuer: refused, since no issuers means "any issuer".
	noIssuers bool
}

func seconds(d time.Duration) *uint64 {
	s := uint64(0)
	if d > 0 {
		s = uint64(d / time.Second)
	}
	return &s
}

// WithIssuers accepts tokens whose iss is one of issuers (exact match). Without it any issuer is
// accepted; with no issuers (an empty list from a configuration, say) it is ErrInvalidOptions,
// not "any issuer".
func WithIssuers(issuers ...string) Option {
	return func(o *options) { o.Issuers, o.noIssuers = issuers, len(issuers) == 0 }
}

// WithAudiences accepts tokens whose aud names one of audiences. Without it a token must carry
// no aud.
func WithAudiences(audiences ...string) Option {
	return func(o *options) { o.Audiences = audiences }
}

// WithLeeway allows clock skew for exp, nbf and iat (whole seconds, at most 10 minutes; the
// default is 60 seconds).
func WithLeeway(d time.Duration) Option { return func(o *options) { o.Leeway = seconds(d) } }

// WithTyp requires the header's typ ("at+jwt").
func WithTyp(typ string) Option { return func(o *options) { o.Typ = typ } }

// WithRequired names the claims a token must carry (the default is exp; none for no
// requirement).
func WithRequired(claims ...string) Option {
	return func(o *options) {
		c := append([]string{}, claims...)
		o.Required = &c
	}
}

// WithMaxLifetime refuses tokens whose exp - iat exceeds d.
func WithMaxLifetime(d time.Duration) Option {
	return func(o *options) { o.MaxLifetime = seconds(d) }
}

// WithRejectFutureIat refuses tokens issued after now (plus leeway).
func WithRejectFutureIat(reject bool) Option {
	return func(o *options) { o.RejectFutureIat = &reject }
}

// WithMaxTokenBytes bounds the token's size (default 8192, at most 65536).
func WithMaxTokenBytes(n int) Option {
	return func(o *options) { v := uint64(n); o.MaxTokenBytes = &v }
}

// WithAlgorithm binds every key to alg ("RS256"): keys without alg take it, keys with another
// are refused. A PEM or DER key needs it.
func WithAlgorithm(alg string) Option { return func(o *options) { o.Alg = alg } }

// WithKeyID names a PEM or DER key.
func WithKeyID(kid string) Option { return func(o *options) { o.Kid = kid } }

// WithBackend prepares the keys for one signature backend, "ring" or "aws-lc" (see Backends);
// without it, the library's preferred one. A backend the library lacks is ErrInvalidOptions.
func WithBackend(name string) Option { return func(o *options) { o.Backend = name } }

// WithCache turns on the verified-token cache (a repeated token skips its signature check until
// the earlier of its exp and ttl; its claims are still checked every time). Zero values take
// the library's defaults.
func WithCache(maxEntries, maxBytes int, ttl time.Duration) Option {
	return func(o *options) {
		c := map[string]uint64{}
		if maxEntries > 0 {
			c["max_entries"] = uint64(maxEntries)
		}
		if maxBytes > 0 {
			c["max_bytes"] = uint64(maxBytes)
		}
		if ttl > 0 {
			c["ttl"] = uint64(ttl / time.Second)
		}
		o.Cache, _ = json.Marshal(c)
	}
}

// WithOptionsJSON passes the library's options document (tg_verifier_new) as is, replacing
// every other Option but WithTime.
func WithOptionsJSON(doc []byte) Option { return func(o *options) { o.raw = doc } }

// WithTime sets the time Verify checks the claims at (default: time.Now()).
func WithTime(now time.Time) Option { return func(o *options) { o.now = now } }

func buildOptions(opts []Option) (options, []byte, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.raw != nil {
		return o, o.raw, nil
	}
	if o.noIssuers {
		return o, nil, errorWith(ErrInvalidOptions, "WithIssuers with no issuer: leave it out to accept any issuer")
	}
	doc, err := json.Marshal(&o)
	if err != nil {
		return o, nil, &Error{Code: ErrInvalidOptions.Code, Number: ErrInvalidOptions.Number,
			HTTPStatus: ErrInvalidOptions.HTTPStatus, Message: err.Error()}
	}
	return o, doc, nil
}

// NewVerifier makes a verifier from keys (a JWKS, a single JWK, or a PEM / DER public key, which
// needs WithAlgorithm) and options. Fails with ErrInvalidOptions, ErrWeakKey,
// ErrInvalidKeySet, ….
func NewVerifier(keys []byte, opts ...Option) (*Verifier, error) {
	_, doc, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	return newVerifier(keys, doc)
}

func newVerifier(keys, doc []byte) (*Verifier, error) {
	k, kn := bytesArg(keys)
	o, on := bytesArg(doc)
	var ptr *C.tg_verifier
	var msg *C.char
	st := C.tg_verifier_new(k, kn, o, on, &ptr, &msg)
	runtime.KeepAlive(keys)
	runtime.KeepAlive(doc)
	if st != C.TG_STATUS_OK {
		return nil, newError(st, msg)
	}
	v := &Verifier{ptr: ptr}
	runtime.SetFinalizer(v, (*Verifier).Close)
	return v, nil
}

// Close frees the verifier, waiting for calls in flight. Idempotent; always returns nil.
func (v *Verifier) Close() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.ptr != nil {
		C.tg_verifier_free(v.ptr)
		v.ptr = nil
		runtime.SetFinalizer(v, nil)
	}
	return nil
}

// Verify verifies a JWT at time now (a zero now means time.Now()): size, form, header, key
// selection, signature, then the claims. The error is a *Error: ErrExpired,
// ErrInvalidSignature, ErrUnknownKID (refresh the keys and retry), ….
func (v *Verifier) Verify(token []byte, now time.Time) (*Token, error) {
	if now.IsZero() {
		now = time.Now()
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.ptr == nil {
		return nil, errClosed("verifier")
	}
	p, n := bytesArg(token)
	var t *C.tg_token
	var msg *C.char
	st := C.tg_verifier_verify(v.ptr, p, n, unixSeconds(now), &t, &msg)
	runtime.KeepAlive(token)
	if st != C.TG_STATUS_OK {
		return nil, newError(st, msg)
	}
	defer C.tg_token_free(t)
	return readToken(t), nil
}

// VerifyJWS verifies only a JWS's form, header and signature (no claims, no time): for signed
// payloads that are not JWTs. The Token's Payload holds the verified bytes; its claim fields are
// empty.
func (v *Verifier) VerifyJWS(token []byte) (*Token, error) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.ptr == nil {
		return nil, errClosed("verifier")
	}
	p, n := bytesArg(token)
	var t *C.tg_token
	var msg *C.char
	st := C.tg_verifier_verify_jws(v.ptr, p, n, &t, &msg)
	runtime.KeepAlive(token)
	if st != C.TG_STATUS_OK {
		return nil, newError(st, msg)
	}
	defer C.tg_token_free(t)
	return readToken(t), nil
}

// Verify verifies one JWT with keys and options in one call (WithTime sets the time; default
// now). It builds a verifier each time: reuse a NewVerifier for more than one token.
func Verify(token []byte, keys []byte, opts ...Option) (*Token, error) {
	o, doc, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	v, err := newVerifier(keys, doc)
	if err != nil {
		return nil, err
	}
	defer v.Close()
	return v.Verify(token, o.now)
}

// Token is a verified token, copied out of the library.
type Token struct {
	HeaderJSON json.RawMessage // the protected header, as signed
	ClaimsJSON json.RawMessage // the claims (nil from VerifyJWS)
	Payload    []byte          // the verified payload bytes (for a JWT, the same bytes as ClaimsJSON)
	Algorithm  string          // the algorithm that verified it ("RS256", "EdDSA", …)
	KeyID      string          // the kid of the key that verified it ("" when it has none)
	Subject    string          // sub, unescaped
	Issuer     string          // iss
	JWTID      string          // jti
	ExpiresAt  time.Time       // exp; zero when absent
	IssuedAt   time.Time       // iat; zero when absent
	NotBefore  time.Time       // nbf; zero when absent
}

// Claims unmarshals the verified claims (or, from VerifyJWS, the payload) into v.
func (t *Token) Claims(v any) error {
	if t.ClaimsJSON != nil {
		return json.Unmarshal(t.ClaimsJSON, v)
	}
	return json.Unmarshal(t.Payload, v)
}

func readToken(t *C.tg_token) *Token {
	var n C.size_t
	str := func(p *C.char) string { return goString(p, n) }
	raw := func(p *C.char) json.RawMessage {
		if p == nil {
			return nil
		}
		return json.RawMessage(goBytes(unsafe.Pointer(p), n))
	}
	out := &Token{}
	out.HeaderJSON = raw(C.tg_token_header_json(t, &n))
	out.ClaimsJSON = raw(C.tg_token_claims_json(t, &n))
	if out.ClaimsJSON != nil {
		out.Payload = []byte(out.ClaimsJSON) // a JWT's payload is its claims: one copy for both
	} else if p := C.tg_token_payload(t, &n); p != nil {
		out.Payload = goBytes(unsafe.Pointer(p), n)
	}
	out.Algorithm = str(C.tg_token_algorithm(t, &n))
	out.KeyID = str(C.tg_token_key_id(t, &n))
	out.Subject = str(C.tg_token_subject(t, &n))
	out.Issuer = str(C.tg_token_issuer(t, &n))
	out.JWTID = str(C.tg_token_jwt_id(t, &n))
	var f C.double
	if C.tg_token_expires_at(t, &f) {
		out.ExpiresAt = fromUnix(float64(f))
	}
	if C.tg_token_issued_at(t, &f) {
		out.IssuedAt = fromUnix(float64(f))
	}
	if C.tg_token_not_before(t, &f) {
		out.NotBefore = fromUnix(float64(f))
	}
	return out
}
