package tollgate

/*
#include <stdlib.h>
#include <tollgate.h>
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"time"
	"unsafe"
)

// WebhookConfig says which deliveries a WebhookVerifier accepts (Standard Webhooks). At most 8
// keys in all, from Keys, Secrets and PublicKeys together.
type WebhookConfig struct {
	// Keys carry their prefix: "whsec_…" secrets (v1, HMAC-SHA256) and "whpk_…" public keys
	// (v1a, Ed25519). A "whsk_" signing key is refused: it belongs to the sender.
	Keys []string
	// Secrets are v1 secrets, the "whsec_" prefix optional.
	Secrets []string
	// PublicKeys are v1a public keys, the "whpk_" prefix optional.
	PublicKeys []string
	// Tolerance bounds |now - webhook-timestamp| (whole seconds, at most 24 h; a fraction is
	// dropped); zero: 5 minutes. A negative tolerance, or one under a second, is ErrInvalidOptions.
	Tolerance time.Duration
	// MaxBodyBytes bounds the body; zero: 1 MiB.
	MaxBodyBytes int
	// ReplayGuard, when not nil, records every verified delivery by its id and body, so that
	// the same delivery again within the window is ErrWebhookReplayed. One guard may serve
	// several verifiers (of several senders too); it must stay open while they verify.
	ReplayGuard *ReplayGuard
}

// WebhookVerifier verifies webhook deliveries (tg_webhook_verifier). It is immutable and safe for
// concurrent use by any number of goroutines (its replay guard takes a short lock). Close frees
// it after the calls in flight return; a finalizer frees a forgotten one.
type WebhookVerifier struct {
	mu    sync.RWMutex // held shared by every call, exclusively by Close
	ptr   *C.tg_webhook_verifier
	guard *ReplayGuard
}

// NewWebhookVerifier makes a verifier from cfg. Fails with ErrInvalidWebhookSecret for a
// malformed key or one of the wrong size, ErrInvalidOptions for limits out of range or no key at
// all.
func NewWebhookVerifier(cfg WebhookConfig) (*WebhookVerifier, error) {
	doc := struct {
		Keys         []string `json:"keys,omitempty"`
		Secrets      []string `json:"secrets,omitempty"`
		PublicKeys   []string `json:"public_keys,omitempty"`
		Tolerance    *uint64  `json:"tolerance,omitempty"`
		MaxBodyBytes *uint64  `json:"max_body_bytes,omitempty"`
	}{Keys: cfg.Keys, Secrets: cfg.Secrets, PublicKeys: cfg.PublicKeys}
	if cfg.Tolerance < 0 || (cfg.Tolerance > 0 && cfg.Tolerance < time.Second) {
		return nil, errorWith(ErrInvalidOptions, fmt.Sprintf("webhook tolerance %v is not a whole number of seconds of at least 1 (zero: the default)", cfg.Tolerance))
	}
	if cfg.Tolerance > 0 {
		doc.Tolerance = seconds(cfg.Tolerance)
	}
	if cfg.MaxBodyBytes > 0 {
		n := uint64(cfg.MaxBodyBytes)
		doc.MaxBodyBytes = &n
	}
	config, err := json.Marshal(doc)
	if err != nil {
		return nil, errorWith(ErrInvalidOptions, err.Error())
	}
	p, n := bytesArg(config)
	var ptr *C.tg_webhook_verifier
	var msg *C.char
	st := C.tg_webhook_verifier_new(p, n, &ptr, &msg)
	runtime.KeepAlive(config)
	if st != C.TG_STATUS_OK {
		return nil, newError(st, msg)
	}
	v := &WebhookVerifier{ptr: ptr, guard: cfg.ReplayGuard}
	runtime.SetFinalizer(v, (*WebhookVerifier).Close)
	return v, nil
}

// Close frees the verifier, waiting for calls in flight. It is idempotent and always returns
// nil; it does not close the replay guard.
func (v *WebhookVerifier) Close() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.ptr != nil {
		C.tg_webhook_verifier_free(v.ptr)
		v.ptr = nil
		runtime.SetFinalizer(v, nil)
	}
	return nil
}

// Verify checks one delivery at now (zero: time.Now()): header must hold webhook-id,
// webhook-timestamp and webhook-signature once each (names case-insensitive; others are
// ignored), body is the raw body, byte for byte. nil means verified (and, with a replay guard,
// recorded). Otherwise ErrWebhookMalformed, ErrWebhookTimestampOutOfTolerance,
// ErrWebhookSignatureInvalid, ErrWebhookBodyTooLarge, ErrWebhookReplayed or
// ErrWebhookReplayGuardFull (answer 503: the sender retries later).
func (v *WebhookVerifier) Verify(header http.Header, body []byte, now time.Time) error {
	hs := newCHeaders(header)
	defer hs.free()
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.ptr == nil {
		return errClosed("webhook verifier")
	}
	var guard *C.tg_replay_guard
	if v.guard != nil {
		v.guard.mu.RLock()
		defer v.guard.mu.RUnlock()
		if v.guard.ptr == nil {
			return errClosed("replay guard")
		}
		guard = v.guard.ptr
	}
	b, bn := bytesArg(body)
	var msg *C.char
	st := C.tg_webhook_verifier_verify(v.ptr, guard, hs.ptr, hs.count, b, bn, webhookNow(now), &msg)
	runtime.KeepAlive(body)
	if st != C.TG_STATUS_OK {
		return newError(st, msg)
	}
	return nil
}

// VerifyWebhook checks one delivery with a single key ("whsec_…" or "whpk_…", prefix required)
// and the default tolerance (5 minutes), without replay detection: WebhookVerifier.Verify with a
// one-key verifier, plus ErrInvalidWebhookSecret for a bad key. A receiver that verifies many
// deliveries should keep a WebhookVerifier instead (the key is parsed once).
func VerifyWebhook(key string, header http.Header, body []byte, now time.Time) error {
	hs := newCHeaders(header)
	defer hs.free()
	k, kn := bytesArg([]byte(key))
	b, bn := bytesArg(body)
	var msg *C.char
	st := C.tg_webhook_verify(k, kn, hs.ptr, hs.count, b, bn, webhookNow(now), &msg)
	runtime.KeepAlive(body)
	if st != C.TG_STATUS_OK {
		return newError(st, msg)
	}
	return nil
}

// SignWebhook signs a delivery: the webhook-signature value ("v1,<base64>" with a "whsec_"
// secret, "v1a,<base64>" with a "whsk_" signing key; prefix required) for id (1–256 visible
// ASCII characters, no "."), timestamp (send timestamp.Unix() as webhook-timestamp) and the raw
// body. Fails with ErrInvalidWebhookSecret or ErrSigningFailed.
func SignWebhook(key, id string, timestamp time.Time, body []byte) (string, error) {
	k, kn := bytesArg([]byte(key))
	i, in := bytesArg([]byte(id))
	b, bn := bytesArg(body)
	var sig, msg *C.char
	st := C.tg_webhook_sign(k, kn, i, in, unixSeconds(timestamp), b, bn, &sig, &msg)
	runtime.KeepAlive(body)
	if st != C.TG_STATUS_OK {
		return "", newError(st, msg)
	}
	return takeString(sig), nil
}

// GenerateWebhookSecret makes a "whsec_" secret (32 random bytes from the operating system) for
// v1 signatures; sender and receiver both hold it.
func GenerateWebhookSecret() (string, error) {
	var secret *C.char
	if st := C.tg_webhook_secret_generate(&secret); st != C.TG_STATUS_OK {
		return "", newError(st, nil)
	}
	return takeString(secret), nil
}

// GenerateWebhookKeyPair makes an Ed25519 pair for v1a signatures: the "whsk_" signing key (the
// sender keeps it secret) and its "whpk_" public key (for receivers).
func GenerateWebhookKeyPair() (signingKey, publicKey string, err error) {
	var sk, pk *C.char
	if st := C.tg_webhook_key_pair_generate(&sk, &pk); st != C.TG_STATUS_OK {
		return "", "", newError(st, nil)
	}
	return takeString(sk), takeString(pk), nil
}

// ReplayGuard remembers verified deliveries (each by its id and body) so that a replay inside the
// window is refused with ErrWebhookReplayed (tg_replay_guard). It is bounded: when full of entries still inside
// their window it refuses new deliveries (ErrWebhookReplayGuardFull) rather than forget one. It
// is safe for concurrent use (a short internal lock); give it to WebhookConfig.ReplayGuard.
type ReplayGuard struct {
	mu  sync.RWMutex // held shared by every verification using it, exclusively by Close
	ptr *C.tg_replay_guard
}

// NewReplayGuard makes a guard holding at most capacity ids (1 to 16777216; size it above the
// deliveries one window brings), each remembered for window (whole seconds, at most 24 h; zero:
// 5 minutes; a verifier uses the larger of its tolerance and this window).
func NewReplayGuard(capacity int, window time.Duration) (*ReplayGuard, error) {
	if capacity < 0 {
		capacity = 0 // refused by the library as out of range
	}
	var w C.uint64_t
	if window > 0 {
		w = C.uint64_t(window / time.Second)
	}
	var ptr *C.tg_replay_guard
	var msg *C.char
	if st := C.tg_replay_guard_new(C.size_t(capacity), w, &ptr, &msg); st != C.TG_STATUS_OK {
		return nil, newError(st, msg)
	}
	g := &ReplayGuard{ptr: ptr}
	runtime.SetFinalizer(g, (*ReplayGuard).Close)
	return g, nil
}

// Close frees the guard, waiting for verifications in flight; verifiers using it then fail with
// ErrNullParameter. It is idempotent and always returns nil.
func (g *ReplayGuard) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ptr != nil {
		C.tg_replay_guard_free(g.ptr)
		g.ptr = nil
		runtime.SetFinalizer(g, nil)
	}
	return nil
}

func webhookNow(now time.Time) C.uint64_t {
	if now.IsZero() {
		now = time.Now()
	}
	return unixSeconds(now)
}

// cHeaders is an http.Header copied into one C allocation: the tg_header array, then the bytes
// it points to (cgo forbids C memory holding Go pointers).
type cHeaders struct {
	buf   unsafe.Pointer
	ptr   *C.tg_header
	count C.size_t
}

func newCHeaders(header http.Header) cHeaders {
	count, size := 0, 0
	for name, values := range header {
		count += len(values)
		for _, v := range values {
			size += len(name) + len(v)
		}
	}
	if count == 0 {
		return cHeaders{}
	}
	headerBytes := count * int(C.sizeof_tg_header)
	total := headerBytes + size
	buf := C.malloc(C.size_t(total))
	if buf == nil {
		panic("tollgate: out of memory")
	}
	headers := unsafe.Slice((*C.tg_header)(buf), count)
	data := unsafe.Slice((*byte)(buf), total)
	off := headerBytes
	put := func(s string) (*C.uint8_t, C.size_t) {
		if s == "" {
			return nil, 0
		}
		p := (*C.uint8_t)(unsafe.Pointer(&data[off]))
		off += copy(data[off:], s)
		return p, C.size_t(len(s))
	}
	i := 0
	for name, values := range header {
		for _, v := range values {
			headers[i].name, headers[i].name_len = put(name)
			headers[i].value, headers[i].value_len = put(v)
			i++
		}
	}
	return cHeaders{buf: buf, ptr: &headers[0], count: C.size_t(count)}
}

func (h cHeaders) free() {
	if h.buf != nil {
		C.free(h.buf)
	}
}
