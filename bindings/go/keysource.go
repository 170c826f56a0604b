package tollgate

/*
#include <stdlib.h>
#include <tollgate.h>
*/
import "C"

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sync"
	"time"
	"unsafe"
)

// KeySource keeps one JWKS URL's key set fresh (tg_refresher, core/src/refresh.rs): it fetches
// the set with net/http when the library says a fetch is due, keeps the last good set through
// failures (backing off exponentially), stops serving a set not refreshed for StaleAfter
// (ErrKeySetStale), and allows at most one early fetch per UnknownKIDInterval however many
// tokens carry kids it does not know.
//
//	ks, err := tollgate.NewKeySource("https://issuer.example/jwks", tollgate.WithSwapInto(engine, "oidc"))
//	go ks.Run(ctx)  // fetches in the background and swaps every good set into engine
//
// It is safe for concurrent use. The library decides when to fetch; KeySource does the IO:
// Refresh fetches once if a fetch is due, Run loops on it. Close frees it after the calls in
// flight and stops Run.
type KeySource struct {
	mu  sync.RWMutex // held shared by every library call, exclusively by Close
	ptr *C.tg_refresher

	url      string
	client   *http.Client
	clock    func() time.Time
	timeout  time.Duration
	maxBody  int64
	engine   *Engine
	provider string

	fetchMu     sync.Mutex    // one fetch (and swap) at a time
	staleServed bool          // under fetchMu: the last swap into the WithSwapInto engine took a stale set out
	wake        chan struct{} // OnUnknownKID wakes Run (buffered: a wake before Run sleeps is kept)
	closed      chan struct{} // closed by Close: stops Run
	closeOnce   sync.Once
}

// RefreshConfig tunes a KeySource's schedule (tg_refresher_new's config; core/src/refresh.rs
// documents each rule). A zero field takes the library's default; durations are whole seconds.
type RefreshConfig struct {
	MinTTL             time.Duration // shortest time between good fetches, whatever max-age says (5 min)
	MaxTTL             time.Duration // longest time between good fetches (24 h)
	DefaultTTL         time.Duration // time to the next fetch without a usable max-age (15 min)
	UnknownKIDInterval time.Duration // least time between two early fetches for unknown kids (30 s)
	RetryInitial       time.Duration // first retry delay after a failure, doubled per failure (5 s)
	RetryMax           time.Duration // longest retry delay (5 min)
	StaleAfter         time.Duration // a set not refreshed for this long is not served (48 h)
	MaxBodyBytes       int           // largest JSON body accepted (1 MiB, also the most)
	Algorithms         []string      // keep only keys of these algorithms ("ES256"); none: any
}

// defaultMaxBodyBytes is the library's default and largest JWKS body (limits::MAX_KEY_SET_BYTES).
const defaultMaxBodyBytes = 1 << 20

// maxDiscoveryBytes is the largest OpenID configuration the library reads
// (discovery::MAX_DISCOVERY_BYTES).
const maxDiscoveryBytes = 64 << 10

func (c *RefreshConfig) document() ([]byte, error) {
	doc := map[string]any{}
	for _, d := range []struct {
		name  string
		value time.Duration
	}{
		{"min_ttl", c.MinTTL}, {"max_ttl", c.MaxTTL}, {"default_ttl", c.DefaultTTL},
		{"unknown_kid_interval", c.UnknownKIDInterval}, {"retry_initial", c.RetryInitial},
		{"retry_max", c.RetryMax}, {"stale_after", c.StaleAfter},
	} {
		if d.value < 0 || (d.value > 0 && d.value%time.Second != 0) {
			return nil, errorWith(ErrInvalidOptions, fmt.Sprintf("%s is %v; it must be whole seconds", d.name, d.value))
		}
		if d.value > 0 {
			doc[d.name] = uint64(d.value / time.Second)
		}
	}
	if c.MaxBodyBytes < 0 {
		return nil, errorWith(ErrInvalidOptions, fmt.Sprintf("max_body_bytes is %d", c.MaxBodyBytes))
	}
	if c.MaxBodyBytes > 0 {
		doc["max_body_bytes"] = c.MaxBodyBytes
	}
	if len(c.Algorithms) > 0 {
		doc["algorithms"] = c.Algorithms
	}
	return json.Marshal(doc)
}

// KeySourceOption configures NewKeySource and DiscoverKeySource.
type KeySourceOption func(*keySourceOptions)

type keySourceOptions struct {
	client   *http.Client
	config   RefreshConfig
	clock    func() time.Time
	timeout  time.Duration
	engine   *Engine
	provider string
}

// WithHTTPClient fetches with client (default http.DefaultClient). Its own Timeout and transport
// apply, besides WithFetchTimeout. Redirects are never followed, whatever its CheckRedirect: a
// redirect could lead where NewKeySource refuses to fetch (plain http, say), so a 3xx answer is
// a failed fetch.
func WithHTTPClient(client *http.Client) KeySourceOption {
	return func(o *keySourceOptions) { o.client = client }
}

// WithRefreshConfig sets the schedule and limits (zero fields: the library's defaults).
func WithRefreshConfig(config RefreshConfig) KeySourceOption {
	return func(o *keySourceOptions) { o.config = config }
}

// WithKeySourceClock replaces time.Now (for tests: the library reckons every delay from it).
func WithKeySourceClock(now func() time.Time) KeySourceOption {
	return func(o *keySourceOptions) { o.clock = now }
}

// WithFetchTimeout bounds each fetch, connection to last body byte (default 10 s).
func WithFetchTimeout(d time.Duration) KeySourceOption {
	return func(o *keySourceOptions) { o.timeout = d }
}

// WithSwapInto swaps the set into engine as provider's keys after every fetch (the rest of the
// engine's snapshot stays). The refresher then keeps only keys of the algorithms the policy
// allows that provider (tg_refresher_new_for_provider), unless RefreshConfig.Algorithms says
// otherwise; an unknown provider fails NewKeySource with ErrInvalidOptions. After a failed
// fetch the last good set stays in the engine until it goes stale; then the provider's keys are
// emptied and its tokens refused (fail closed) until a fetch succeeds.
func WithSwapInto(engine *Engine, provider string) KeySourceOption {
	return func(o *keySourceOptions) { o.engine, o.provider = engine, provider }
}

// NewKeySource makes a key source for a JWKS URL (https, or http to a loopback host; no
// credentials or fragment). It fetches nothing: call Refresh, or start Run. Fails with
// ErrInvalidOptions (a bad config or URL, an unknown provider).
func NewKeySource(jwksURL string, opts ...KeySourceOption) (*KeySource, error) {
	o := keySourceOptions{client: http.DefaultClient, clock: time.Now, timeout: 10 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	if err := checkFetchURL(jwksURL); err != nil {
		return nil, err
	}
	if o.client == nil {
		o.client = http.DefaultClient
	}
	if o.clock == nil {
		o.clock = time.Now
	}
	if o.timeout <= 0 {
		return nil, errorWith(ErrInvalidOptions, "the fetch timeout must be positive")
	}
	doc, err := o.config.document()
	if err != nil {
		return nil, err
	}
	maxBody := int64(defaultMaxBodyBytes)
	if o.config.MaxBodyBytes > 0 {
		maxBody = int64(o.config.MaxBodyBytes)
	}

	c, cn := bytesArg(doc)
	var ptr *C.tg_refresher
	var msg *C.char
	var st C.tg_status
	if o.engine != nil {
		provider := []byte(o.provider)
		p, pn := bytesArg(provider)
		o.engine.mu.RLock()
		if o.engine.ptr == nil {
			o.engine.mu.RUnlock()
			return nil, errClosed("engine")
		}
		st = C.tg_refresher_new_for_provider(o.engine.ptr, p, pn, c, cn, &ptr, &msg)
		o.engine.mu.RUnlock()
		runtime.KeepAlive(provider)
	} else {
		st = C.tg_refresher_new(c, cn, &ptr, &msg)
	}
	runtime.KeepAlive(doc)
	if st != C.TG_STATUS_OK {
		return nil, newError(st, msg)
	}
	k := &KeySource{
		ptr: ptr, url: jwksURL, client: o.client, clock: o.clock, timeout: o.timeout,
		maxBody: maxBody, engine: o.engine, provider: o.provider,
		wake: make(chan struct{}, 1), closed: make(chan struct{}),
	}
	runtime.SetFinalizer(k, (*KeySource).Close)
	return k, nil
}

// DiscoverKeySource finds issuer's JWKS URL by OpenID Connect Discovery (its
// /.well-known/openid-configuration, whose "issuer" must equal issuer exactly and whose
// "jwks_uri" must be https, or http to a loopback host), then returns NewKeySource for it. A
// document that does not qualify gives ErrInvalidDiscovery; a failed fetch
// ErrKeySetFetchFailed.
func DiscoverKeySource(ctx context.Context, issuer string, opts ...KeySourceOption) (*KeySource, error) {
	o := keySourceOptions{client: http.DefaultClient, timeout: 10 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	if o.client == nil {
		o.client = http.DefaultClient
	}
	iss := []byte(issuer)
	ip, in := bytesArg(iss)
	var out, msg *C.char
	if st := C.tg_discovery_configuration_url(ip, in, &out, &msg); st != C.TG_STATUS_OK {
		return nil, newError(st, msg)
	}
	configURL := takeString(out)

	status, _, body, err := get(ctx, o.client, o.timeout, configURL, maxDiscoveryBytes)
	if err != nil {
		return nil, errorWith(ErrKeySetFetchFailed, fmt.Sprintf("fetching %s failed: %v", configURL, err))
	}
	if status != http.StatusOK {
		return nil, errorWith(ErrKeySetFetchFailed, fmt.Sprintf("%s answered HTTP %d", configURL, status))
	}
	d, dn := bytesArg(body)
	st := C.tg_discovery_jwks_uri(d, dn, ip, in, &out, &msg)
	runtime.KeepAlive(body)
	runtime.KeepAlive(iss)
	if st != C.TG_STATUS_OK {
		return nil, newError(st, msg)
	}
	return NewKeySource(takeString(out), opts...)
}

// checkFetchURL refuses, with ErrInvalidOptions, a URL the library would not fetch keys from
// (tg_discovery_check_url): https, or http to a loopback host; no credentials or fragment.
func checkFetchURL(jwksURL string) error {
	u := []byte(jwksURL)
	p, n := bytesArg(u)
	var msg *C.char
	st := C.tg_discovery_check_url(p, n, &msg)
	runtime.KeepAlive(u)
	if st != C.TG_STATUS_OK {
		return errorWith(ErrInvalidOptions, fmt.Sprintf("the JWKS URL: %s", newError(st, msg).Message))
	}
	return nil
}

// get fetches url with a timeout, reading at most limit+1 bytes of the body (one past the limit,
// so that an oversized body is seen as one). An error is a failure to get a response. Redirects
// are not followed: the 3xx itself is the answer.
func get(ctx context.Context, client *http.Client, timeout time.Duration, url string, limit int64) (int, http.Header, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Accept", "application/json")
	noRedirects := *client
	noRedirects.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noRedirects.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("reading the body: %w", err)
	}
	return resp.StatusCode, resp.Header, body, nil
}

// Close stops Run and frees the key source, waiting for library calls in flight (a fetch in
// flight finishes but is not recorded). Idempotent; always returns nil. The engine of
// WithSwapInto is released (Engine.ReleaseProviderKeys): its provider has no keys until SwapKeys
// sets them, since nothing would keep the last set fresh, or make it stale.
func (k *KeySource) Close() error {
	k.closeOnce.Do(func() { close(k.closed) })
	k.mu.Lock()
	freed := k.ptr != nil
	if freed {
		C.tg_refresher_free(k.ptr)
		k.ptr = nil
		runtime.SetFinalizer(k, nil)
	}
	k.mu.Unlock()
	// After the free: no swap through this source can follow the release.
	if freed && k.engine != nil {
		_ = k.engine.ReleaseProviderKeys(k.provider) // a closed engine needs nothing
	}
	return nil
}

// call runs f on the refresher handle, under the shared lock.
func (k *KeySource) call(f func(p *C.tg_refresher) error) error {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.ptr == nil {
		return errClosed("key source")
	}
	return f(k.ptr)
}

func (k *KeySource) now() C.uint64_t { return unixSeconds(k.clock()) }

// poll asks the library whether a fetch is due, and otherwise until when to wait.
func (k *KeySource) poll() (due bool, until time.Time, err error) {
	err = k.call(func(p *C.tg_refresher) error {
		var u C.uint64_t
		due = bool(C.tg_refresher_poll(p, k.now(), &u))
		until = time.Unix(int64(u), 0)
		return nil
	})
	return due, until, err
}

// Refresh fetches the key set once if a fetch is due (the first call always fetches), records
// the outcome, and after a good fetch swaps the set into the engine of WithSwapInto; with no
// fetch due, a set that has gone stale since leaves that engine (fail closed). It
// returns nil when nothing was due or the fetch was good; otherwise the failure (the last good
// set stays, and the library backs off): ErrKeySetFetchFailed, ctx's error when ctx ended
// (then nothing is recorded), or the swap's error.
func (k *KeySource) Refresh(ctx context.Context) error {
	k.fetchMu.Lock()
	defer k.fetchMu.Unlock()
	due, _, err := k.poll()
	if err != nil {
		return err
	}
	if !due {
		k.swapIfNewlyStale()
		return nil
	}
	status, header, body, err := get(ctx, k.client, k.timeout, k.url, k.maxBody)
	if ctx.Err() != nil {
		return ctx.Err() // the caller gave up: not the key set URL's failure
	}
	if err != nil {
		reason := []byte(err.Error())
		cerr := k.call(func(p *C.tg_refresher) error {
			r, rn := bytesArg(reason)
			C.tg_refresher_on_fetch_failed(p, r, rn, k.now())
			runtime.KeepAlive(reason)
			return nil
		})
		if cerr != nil {
			return cerr
		}
		k.swapAfterFailure()
		return errorWith(ErrKeySetFetchFailed, fmt.Sprintf("fetching the key set failed: %v", err))
	}
	if err := k.onFetched(status, header.Values("Cache-Control"), body); err != nil {
		k.swapAfterFailure()
		return err
	}
	if k.engine != nil {
		return k.swapBound()
	}
	return nil
}

// swapIfNewlyStale empties the WithSwapInto engine's keys for this source once its set has gone
// stale between fetches (fail closed); once, not at every call. The caller holds fetchMu.
func (k *KeySource) swapIfNewlyStale() {
	if k.engine == nil || k.staleServed {
		return
	}
	if st, err := k.Status(); err == nil && st.Stale {
		k.swapAfterFailure()
	}
}

// swapBound swaps the set into the engine of WithSwapInto and records whether that swap took a
// stale set out of it (staleServed). The caller holds fetchMu.
func (k *KeySource) swapBound() error {
	err := k.SwapInto(k.engine, k.provider)
	k.staleServed = errors.Is(err, ErrKeySetStale)
	return err
}

// swapAfterFailure brings a failed fetch's consequence to the engine of WithSwapInto: the last
// good set while it is fresh, no keys once it is stale (the fetch's own error is what Refresh
// returns; this swap's error adds nothing to it).
func (k *KeySource) swapAfterFailure() {
	if k.engine != nil {
		_ = k.swapBound()
	}
}

// onFetched reports a response; only Cache-Control is passed, the one header the library reads.
// The tg_header array and the bytes it points to are one C allocation (cgo forbids C memory
// holding Go pointers).
func (k *KeySource) onFetched(status int, cacheControl []string, body []byte) error {
	const name = "Cache-Control"
	count := len(cacheControl)
	total := count * int(C.sizeof_tg_header)
	for _, v := range cacheControl {
		total += len(name) + len(v)
	}
	var hp *C.tg_header
	if count > 0 {
		buf := C.malloc(C.size_t(total))
		if buf == nil {
			panic("tollgate: out of memory")
		}
		defer C.free(buf)
		headers := unsafe.Slice((*C.tg_header)(buf), count)
		data := unsafe.Slice((*byte)(buf), total)
		off := count * int(C.sizeof_tg_header)
		put := func(s string) (*C.uint8_t, C.size_t) {
			if s == "" {
				return nil, 0
			}
			p := (*C.uint8_t)(unsafe.Pointer(&data[off]))
			off += copy(data[off:], s)
			return p, C.size_t(len(s))
		}
		for i, v := range cacheControl {
			headers[i].name, headers[i].name_len = put(name)
			headers[i].value, headers[i].value_len = put(v)
		}
		hp = &headers[0]
	}
	if status < 0 || status > 0xffff {
		status = 0
	}
	return k.call(func(p *C.tg_refresher) error {
		b, bn := bytesArg(body)
		var msg *C.char
		st := C.tg_refresher_on_fetched(p, C.uint16_t(status), hp, C.size_t(count), b, bn, k.now(), &msg)
		runtime.KeepAlive(body)
		if st != C.TG_STATUS_OK {
			return newError(st, msg)
		}
		return nil
	})
}

// Run keeps the key set fresh until ctx ends or Close: it refreshes when due, then sleeps until
// the next fetch is due, the set goes stale (with WithSwapInto) or OnUnknownKID asks for an
// early one. Failures are recorded (see Status) and retried on the library's backoff. It
// returns ctx.Err(), or ErrNullParameter after Close. Run it in one goroutine.
func (k *KeySource) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-k.closed:
			return errClosed("key source")
		default:
		}
		if err := k.Refresh(ctx); err != nil {
			var e *Error
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.As(err, &e) && e.Number == ErrNullParameter.Number {
				return err
			}
		}
		due, until, err := k.poll()
		if err != nil {
			return err
		}
		if due {
			continue
		}
		if k.engine != nil {
			// Also wake when the set goes stale, so that it leaves the engine on time.
			if st, err := k.Status(); err == nil && !st.Stale && !st.StaleAt.IsZero() && st.StaleAt.Before(until) {
				until = st.StaleAt
			}
		}
		timer := time.NewTimer(until.Sub(k.clock()))
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-k.closed:
			timer.Stop()
			return errClosed("key source")
		case <-k.wake:
			timer.Stop()
		case <-timer.C:
		}
	}
}

// OnUnknownKID tells the key source that a token named kid and the current set lacks it (a
// Verifier's ErrUnknownKID, a Decision's RefreshKid). It returns true when an early fetch is now
// due, and wakes Run to do it; without Run, call Refresh. At most once per UnknownKIDInterval,
// never during a failure backoff, never for a kid the set has: a flood of forged kids costs one
// fetch per interval.
func (k *KeySource) OnUnknownKID(kid string) bool {
	b := []byte(kid)
	var fetch bool
	_ = k.call(func(p *C.tg_refresher) error {
		kp, kn := bytesArg(b)
		fetch = bool(C.tg_refresher_on_unknown_kid(p, kp, kn, k.now()))
		runtime.KeepAlive(b)
		return nil
	})
	if fetch {
		select {
		case k.wake <- struct{}{}:
		default:
		}
	}
	return fetch
}

// Verifier makes a verifier over the source's key set with opts (WithIssuers, WithAudiences, …;
// not WithTime) that follows it: each Verify uses the set of the last good fetch (a rotation
// reaches it at once) and fails with ErrKeySetStale once that set is stale, so a verifier kept
// for the life of a process never trusts keys the identity provider has dropped. It fails with
// ErrKeySetFetchFailed before the first good fetch and ErrKeySetStale once the set has not been
// refreshed for StaleAfter, here and in Verify.
func (k *KeySource) Verifier(opts ...Option) (*KeySourceVerifier, error) {
	_, doc, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	f := &KeySourceVerifier{source: k, options: doc}
	if _, err := f.current(); err != nil { // the options are checked, and the set asked for, now
		return nil, err
	}
	return f, nil
}

// KeySourceVerifier verifies tokens against a KeySource's current set (see KeySource.Verifier).
// It is safe for concurrent use. Each call asks the source which set it serves (one cheap
// native call) and makes a new native verifier when a good fetch has brought another.
type KeySourceVerifier struct {
	source  *KeySource
	options []byte
	mu      sync.Mutex
	held    *Verifier
	heldGen uint64
}

// current is the native verifier over the set the source serves now, made anew when that set
// changed. The one it replaces is left to its finalizer: another goroutine may be using it.
func (f *KeySourceVerifier) current() (*Verifier, error) {
	gen, err := f.source.generation()
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.held != nil && f.heldGen == gen {
		return f.held, nil
	}
	v, err := f.source.verifierNow(f.options)
	if err != nil {
		return nil, err
	}
	f.held, f.heldGen = v, gen
	return v, nil
}

// Verify verifies token with the source's current set, its claims at now (see
// Verifier.Verify); the set's freshness is judged by the source's clock.
func (f *KeySourceVerifier) Verify(token []byte, now time.Time) (*Token, error) {
	v, err := f.current()
	if err != nil {
		return nil, err
	}
	return v.Verify(token, now)
}

// VerifyJWS verifies only token's form, header and signature with the source's current set.
func (f *KeySourceVerifier) VerifyJWS(token []byte) (*Token, error) {
	v, err := f.current()
	if err != nil {
		return nil, err
	}
	return v.VerifyJWS(token)
}

// Close frees the native verifier it holds; a later call makes a new one. A Verify running on
// another goroutine then may fail with ErrNullParameter: close it when none is.
func (f *KeySourceVerifier) Close() error {
	f.mu.Lock()
	held := f.held
	f.held = nil
	f.mu.Unlock()
	if held != nil {
		return held.Close()
	}
	return nil
}

// generation is the count of good fetches of the set served now (tg_refresher_generation).
func (k *KeySource) generation() (uint64, error) {
	var gen uint64
	err := k.call(func(p *C.tg_refresher) error {
		var g C.uint64_t
		var msg *C.char
		if st := C.tg_refresher_generation(p, k.now(), &g, &msg); st != C.TG_STATUS_OK {
			return newError(st, msg)
		}
		gen = uint64(g)
		return nil
	})
	return gen, err
}

// verifierNow is a plain Verifier over the set served now, with the options document doc.
func (k *KeySource) verifierNow(doc []byte) (*Verifier, error) {
	var v *Verifier
	err := k.call(func(p *C.tg_refresher) error {
		o, on := bytesArg(doc)
		var ptr *C.tg_verifier
		var msg *C.char
		st := C.tg_refresher_verifier(p, o, on, k.now(), &ptr, &msg)
		runtime.KeepAlive(doc)
		if st != C.TG_STATUS_OK {
			return newError(st, msg)
		}
		v = &Verifier{ptr: ptr}
		runtime.SetFinalizer(v, (*Verifier).Close)
		return nil
	})
	return v, err
}

// SwapInto installs the current key set as provider's keys in engine, keeping the rest of its
// snapshot. With no set to serve it empties them and fails with ErrKeySetFetchFailed (before the
// first good fetch) or ErrKeySetStale; ErrInvalidSnapshot for an unknown provider. From then on
// SwapKeys keeps the provider's keys, until engine.ReleaseProviderKeys(provider): call it when
// you stop swapping (Close does for the WithSwapInto engine).
func (k *KeySource) SwapInto(engine *Engine, provider string) error {
	prov := []byte(provider)
	return k.call(func(p *C.tg_refresher) error {
		engine.mu.RLock()
		defer engine.mu.RUnlock()
		if engine.ptr == nil {
			return errClosed("engine")
		}
		pp, pn := bytesArg(prov)
		var msg *C.char
		st := C.tg_refresher_swap_into(p, engine.ptr, pp, pn, k.now(), &msg)
		runtime.KeepAlive(prov)
		if st != C.TG_STATUS_OK {
			return newError(st, msg)
		}
		return nil
	})
}

// KeySourceStatus is a key source's state (tg_refresher_status_json), for health checks and logs.
type KeySourceStatus struct {
	FetchedAt time.Time    // the last good fetch; zero before the first
	NextFetch time.Time    // when the next fetch is due (zero: now, before the first)
	Failures  int          // consecutive failures since the last good fetch
	Stale     bool         // the set is older than StaleAfter (or dated after the clock's now) and no longer served
	StaleAt   time.Time    // when the last good set stops being served; zero before the first
	LastError *Error       // the last failure since the last good fetch, or nil
	KIDs      []string     // the kids of the last good set (stale or not)
	Skipped   []SkippedKey // the keys the last good fetch left out, and why

	JSON json.RawMessage // the library's whole document
}

// SkippedKey is a key the refresher left out of a set (an unsupported algorithm or key type, an
// encryption key, a weak key, an HMAC secret, a repeated kid): not fatal to the set.
type SkippedKey struct {
	Index  int    `json:"index"`  // its place in the JWKS's "keys"
	KID    string `json:"kid"`    // "" when it has none
	Code   string `json:"code"`   // the error name ("weak_key", "unsupported_key_algorithm", …)
	Reason string `json:"reason"` // for logs
}

// Status reports the key source's state at the clock's now.
func (k *KeySource) Status() (KeySourceStatus, error) {
	var raw json.RawMessage
	err := k.call(func(p *C.tg_refresher) error {
		var out *C.char
		if st := C.tg_refresher_status_json(p, k.now(), &out); st != C.TG_STATUS_OK {
			return newError(st, nil)
		}
		raw = json.RawMessage(takeString(out))
		return nil
	})
	if err != nil {
		return KeySourceStatus{}, err
	}
	var doc struct {
		FetchedAt *int64 `json:"fetched_at"`
		NextFetch int64  `json:"next_fetch"`
		Failures  int    `json:"failures"`
		Stale     bool   `json:"stale"`
		StaleAt   *int64 `json:"stale_at"`
		LastError *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"last_error"`
		KIDs    []string     `json:"kids"`
		Skipped []SkippedKey `json:"skipped"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return KeySourceStatus{}, errorWith(ErrInternalError, "the status document: "+err.Error())
	}
	s := KeySourceStatus{Failures: doc.Failures, Stale: doc.Stale, KIDs: doc.KIDs,
		Skipped: doc.Skipped, JSON: raw}
	if doc.FetchedAt != nil {
		s.FetchedAt = time.Unix(*doc.FetchedAt, 0)
	}
	if doc.NextFetch > 0 {
		s.NextFetch = time.Unix(doc.NextFetch, 0)
	}
	if doc.StaleAt != nil {
		s.StaleAt = time.Unix(*doc.StaleAt, 0)
	}
	if e := doc.LastError; e != nil {
		s.LastError = &Error{Code: e.Code, Message: e.Message}
		for _, known := range allErrors {
			if known.Code == e.Code {
				s.LastError.Number, s.LastError.HTTPStatus = known.Number, known.HTTPStatus
			}
		}
	}
	return s, nil
}

// takeString copies a library-allocated string and frees it.
func takeString(s *C.char) string {
	if s == nil {
		return ""
	}
	defer C.tg_string_free(s)
	return C.GoString(s)
}
