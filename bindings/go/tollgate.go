// Package tollgate is the Go binding of Tollgate, an embedded token-validation engine: a policy
// engine that decides HTTP requests (who is calling, for which tenant, with which permissions,
// and which status to answer), and a plain JWT / JWS verifier.
//
// It calls the C ABI (include/tollgate.h) through cgo, linked statically against
// target/release/libtollgate.a (build it first: cargo build --release -p tollgate-ffi).
//
//	engine, err := tollgate.NewEngine(policyJSON)
//	if err != nil { … }
//	defer engine.Close()
//	if err := engine.SwapKeys(snapshotJSON); err != nil { … } // again whenever keys rotate
//	http.Handle("/", engine.Middleware(app))                  // or engine.Check(r, time.Now())
//
// A KeySource keeps a provider's keys fresh from its JWKS URL (or its issuer, by OpenID
// Discovery), fetching with net/http in the background and swapping each good set into the
// engine; the library decides when to fetch (Cache-Control max-age, backoff, staleness, at most
// one early fetch per interval for unknown kids):
//
//	ks, err := tollgate.DiscoverKeySource(ctx, "https://issuer.example", tollgate.WithSwapInto(engine, "oidc"))
//	if err != nil { … }
//	defer ks.Close()
//	if err := ks.Refresh(ctx); err != nil { … } // the first set, before serving
//	go ks.Run(ctx)                              // then in the background until ctx ends
//	// on a refusal with d.RefreshKid != "": ks.OnUnknownKID(d.RefreshKid) wakes Run early
//
// Webhooks (Standard Webhooks: v1 HMAC secrets, v1a Ed25519 keys) are verified with a
// WebhookVerifier (a ReplayGuard refuses a delivery, its id and body, seen before), or VerifyWebhook for one
// key; senders use SignWebhook, GenerateWebhookSecret and GenerateWebhookKeyPair:
//
//	guard, err := tollgate.NewReplayGuard(100000, 0)
//	wv, err := tollgate.NewWebhookVerifier(tollgate.WebhookConfig{Keys: []string{secret}, ReplayGuard: guard})
//	err = wv.Verify(r.Header, body, time.Now()) // errors.Is(err, tollgate.ErrWebhookReplayed), …
//
// API keys: GenerateAPIKey (the key, shown once, and the record to store with its hash),
// CheckAPIKey (form and checksum, before any lookup) and HashAPIKey. Engine.Reissue checks a
// request and, when it is allowed, re-issues its token: a Decision keeps no native handle, so
// both happen in one call.
//
// A policy whose providers keep their records (API keys, users' roles, sessions, revoked token
// ids) in a shared store ("records": "store", docs/records.md) is checked with CheckWithStore,
// which reads each record it needs through a Store (the redisstore module in
// bindings/go/redisstore implements it over Redis, with the writes, revocations, webhook replay
// claims and the invalidation subscription that keeps Invalidate called):
//
//	d, err := engine.CheckWithStore(ctx, method, path, headers, store, time.Now())
//	// Status 503 store_unavailable when the store did not answer; 500 invalid_record for a bad record
//
// RecordsFromSnapshot turns a snapshot's records into store form, SessionRecord a login
// service's session; WebhookVerifier.VerifyForStore gives the ReplayClaim a host settles with
// SET NX in the store.
//
// Every value this package returns is plain Go data copied out of the library: no C handle
// escapes. An Engine, a Verifier, a WebhookVerifier and a ReplayGuard are safe for concurrent
// use by any number of goroutines, including SwapKeys while others check; Close frees it once the calls in flight have finished
// (a finalizer frees a forgotten one). Every failure is a *Error (see errors.As and the Err…
// sentinels).
package tollgate

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: ${SRCDIR}/../../target/release/libtollgate.a -lpthread -ldl -lm
#include <stdlib.h>
#include <tollgate.h>
*/
import "C"

import (
	"math"
	"strings"
	"time"
	"unsafe"
)

// Version is the library's version ("0.1.0").
func Version() string {
	return C.GoString(C.tg_version())
}

// Backends lists the signature backends in the linked library, the one it prefers first:
// ["ring"], or ["aws-lc", "ring"] when libtollgate.a was built with
// `cargo build --release -p tollgate-ffi --features aws-lc`. Keys are prepared for the preferred
// one unless WithBackend says otherwise.
func Backends() []string {
	return strings.Split(C.GoString(C.tg_backends()), ",")
}

// bytesArg gives a (pointer, length) pair for Go bytes the library reads during one call. The
// bytes hold no Go pointers, so passing them is within cgo's rules; the library keeps nothing.
func bytesArg(b []byte) (*C.uint8_t, C.size_t) {
	if len(b) == 0 {
		return nil, 0
	}
	return (*C.uint8_t)(unsafe.Pointer(&b[0])), C.size_t(len(b))
}

// unixSeconds is now as the library's Unix seconds (a time before 1970 is 0).
func unixSeconds(now time.Time) C.uint64_t {
	s := now.Unix()
	if s < 0 {
		return 0
	}
	return C.uint64_t(s)
}

// fromUnix turns the library's (possibly fractional) Unix seconds into a time.Time.
func fromUnix(seconds float64) time.Time {
	whole, frac := math.Modf(seconds)
	return time.Unix(int64(whole), int64(math.Round(frac*1e9)))
}
