package tollgate

/*
#include <stdlib.h>
#include <tollgate.h>
*/
import "C"

import (
	"context"
	"encoding/json"
	"net/http"
	"runtime"
	"strings"
	"time"
)

// Store is the shared record store of a policy whose providers say "records": "store"
// (docs/records.md): API keys, users' roles, sessions and revoked token ids, each a JSON record
// under a key "tollgate:<kind>:<hash>". The engine does no IO: a check that needs a record
// stops, the host reads the key from its Store, and the check goes on with the answer.
//
// Get returns the value stored under key and found = true, or found = false when the store
// holds no such key, or a non-nil error when the store did not answer (unreachable, timed out,
// ctx done): the check then decides 503 store_unavailable (or what the policy's store.grace
// allows). It is called by any number of goroutines at once. The redisstore module
// (bindings/go/redisstore) implements it over Redis.
type Store interface {
	Get(ctx context.Context, key string) (value []byte, found bool, err error)
}

// maxStoreSteps bounds the lookups of one check, against a library that would never decide
// (the core asks at most pending::MAX_STEPS = 4 times).
const maxStoreSteps = 16

// CheckWithStore is CheckRequest for a policy that keeps records in a store: the check runs
// step by step (tg_engine_check_step), reading every record it needs from store with ctx
// (tg_pending_store_key, then tg_engine_resume); when the store does not answer it decides
// with tg_engine_resume_unavailable: 503 store_unavailable unless store.grace lets a cached
// record stand in. A record the engine will not use (another version, truncated, another kind,
// unknown roles) decides 500 invalid_record. Records fetched are cached by the engine for
// store.cache_ttl; Invalidate drops them sooner. Without records in a store it decides as
// CheckRequest, never calling store. A zero now means time.Now().
//
// The engine's lock is not held while store answers, so Close does not wait for the store; a
// check whose engine is closed meanwhile fails with ErrNullParameter.
func (e *Engine) CheckWithStore(ctx context.Context, method, path string, headers [][2]string, store Store,
	now time.Time) (Decision, error) {
	return e.checkWithStore(ctx, store, method, path, len(headers), pairsSize(headers), now, pairHeaders(headers))
}

// CheckHTTPWithStore is Check (an *http.Request, with its Host) for a policy that keeps records
// in a store, reading them as CheckWithStore does, with the request's context.
func (e *Engine) CheckHTTPWithStore(r *http.Request, store Store, now time.Time) (Decision, error) {
	path := r.RequestURI
	if !strings.HasPrefix(path, "/") && r.URL != nil {
		path = r.URL.RequestURI()
	}
	count, size, each := headerPairs(r.Header, r.Host)
	return e.checkWithStore(r.Context(), store, r.Method, path, count, size, now, each)
}

// WithStore makes the middleware check with CheckHTTPWithStore, reading records from store.
func WithStore(store Store) MiddlewareOption {
	return func(m *middleware) { m.store = store }
}

func (e *Engine) checkWithStore(ctx context.Context, store Store, method, path string, count, size int,
	now time.Time, each func(add func(name, value string))) (Decision, error) {
	if store == nil {
		return Decision{}, errorWith(ErrInvalidOptions, "CheckWithStore needs a store")
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if now.IsZero() {
		now = time.Now()
	}
	t := unixSeconds(now)
	var d *C.tg_decision
	var p *C.tg_pending
	// Whatever happens (a panic in store.Get included), the native handles are freed.
	defer func() {
		if p != nil {
			C.tg_pending_free(p)
		}
		if d != nil {
			C.tg_decision_free(d)
		}
	}()

	req := newCRequest(method, path, count, size, each)
	err := e.locked(func(engine *C.tg_engine) C.tg_status {
		return C.tg_engine_check_step(engine, req.method, req.methodLen, req.path, req.pathLen, req.headers,
			req.count, t, &d, &p)
	})
	req.free() // the pending check holds its own copy
	if err != nil {
		return Decision{}, err
	}
	for steps := 0; p != nil; steps++ {
		if steps >= maxStoreSteps {
			return Decision{}, errorWith(ErrInternalError, "the check asked for more records than any check needs")
		}
		var n C.size_t
		key := goString(C.tg_pending_store_key(p, &n), n)
		value, found, getErr := store.Get(ctx, key)
		pending := p
		err = e.locked(func(engine *C.tg_engine) C.tg_status {
			p = nil // consumed by either call, whatever it returns
			if getErr != nil {
				return C.tg_engine_resume_unavailable(engine, pending, t, &d)
			}
			if !found {
				value = nil
			}
			b, bn := bytesArg(value)
			st := C.tg_engine_resume(engine, pending, b, bn, C.bool(found), t, &d, &p)
			runtime.KeepAlive(value)
			return st
		})
		if err != nil {
			return Decision{}, err
		}
	}
	// A decision owns what it holds (the engine may be closed by now).
	return readDecision(d), nil
}

// locked runs f with the engine's pointer under its shared lock; ErrNullParameter once it is
// closed (f is not run), or f's status as an error.
func (e *Engine) locked(f func(*C.tg_engine) C.tg_status) error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.ptr == nil {
		return errClosed("engine")
	}
	if st := f(e.ptr); st != C.TG_STATUS_OK {
		return newError(st, nil)
	}
	return nil
}

// Invalidate drops the engine's cached copy of the record a store key names
// ("tollgate:<kind>:<hash>"), or every cached record for "*" (tg_engine_invalidate). Call it
// with each message of the store's "tollgate:invalidate" channel, and with "*" whenever the
// subscription was (re)made, since messages may have been missed. Anything else is
// ErrInvalidRequest.
func (e *Engine) Invalidate(key string) error {
	kb := []byte(key)
	p, n := bytesArg(kb)
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.ptr == nil {
		return errClosed("engine")
	}
	var msg *C.char
	st := C.tg_engine_invalidate(e.ptr, p, n, &msg)
	runtime.KeepAlive(kb)
	if st != C.TG_STATUS_OK {
		return newError(st, msg)
	}
	return nil
}

// InvalidateChannel is the store's channel where writers publish the keys they change
// (docs/records.md).
const InvalidateChannel = "tollgate:invalidate"

// ExpiredRecordsKept is how long a store keeps a record past its Expires (a day), so that a
// check still hears why (api_key_expired, session_expired), not that there is no such record:
// write a record with Expires under the store's expiry Expires + ExpiredRecordsKept (Redis:
// SET key value EXAT expires+86400).
const ExpiredRecordsKept = 24 * time.Hour

// StoredRecord is one record in store form: Value (JSON text) to write under Key
// ("tollgate:<kind>:<hash>"), expiring ExpiredRecordsKept after Expires (Unix seconds) when it
// has one (nil: a record that does not expire, like a user's roles).
type StoredRecord struct {
	Key     string `json:"key"`
	Value   string `json:"value"`
	Expires *int64 `json:"expires"`
}

// RecordsFromSnapshot moves a key snapshot's records into store form
// (tg_store_records_from_snapshot): its users, api_keys and revoked_jti become records, and
// snapshot is the rest of the document (keys, peppers), what the engine loads with SwapKeys.
// Write each record's Value under its Key, then publish the Key on InvalidateChannel. A
// one-record document ({"api_keys": {"p": [<record>]}}, {"users": {…}}, {"revoked_jti": […]})
// gives one record: what an API key's issuer or a revocation writes. Fails with
// ErrInvalidSnapshot or ErrInvalidRecord.
func RecordsFromSnapshot(doc []byte) (snapshot []byte, records []StoredRecord, err error) {
	p, n := bytesArg(doc)
	var out, msg *C.char
	st := C.tg_store_records_from_snapshot(p, n, &out, &msg)
	runtime.KeepAlive(doc)
	if st != C.TG_STATUS_OK {
		return nil, nil, newError(st, msg)
	}
	var parsed struct {
		Snapshot json.RawMessage `json:"snapshot"`
		Records  []struct {
			Key     string  `json:"key"`
			Value   string  `json:"value"`
			Expires *uint64 `json:"expires"`
		} `json:"records"`
	}
	if err := json.Unmarshal([]byte(takeString(out)), &parsed); err != nil {
		return nil, nil, errorWith(ErrInternalError, "the records are not JSON: "+err.Error())
	}
	records = make([]StoredRecord, len(parsed.Records))
	for i, r := range parsed.Records {
		records[i] = StoredRecord{Key: r.Key, Value: r.Value, Expires: recordExpiry(r.Expires)}
	}
	return []byte(parsed.Snapshot), records, nil
}

// SessionRecord is a server-side session's record in store form (tg_store_session_record), for
// a login service that writes the sessions gateways check: id is the session id (the cookie's
// value, 1–512 bytes), session the session as JSON ({"subject", "kind", "provider", "expires",
// "created", "roles", "tenants", "revoked"}, docs/records.md; subject and expires, Unix seconds,
// are required, and provider too when the policy has several session providers), pepper the
// provider's pepper (its bytes, not the snapshot's base64url) when it has "hashing":
// "hmac-sha256", nil for plain SHA-256. The record is under
// "tollgate:session:<hash of id>" and expires with the session: write its Value under its Key,
// then publish the Key on InvalidateChannel (redisstore's Put or StoreSession); signing out is
// the same with "revoked": true. Fails with ErrInvalidRecord (ErrInvalidUTF8 for an id that is
// not UTF-8).
func SessionRecord(id string, session []byte, pepper []byte) (StoredRecord, error) {
	idb := []byte(id)
	ib, in := bytesArg(idb)
	kb, kn := bytesArg(pepper)
	sb, sn := bytesArg(session)
	var out, msg *C.char
	st := C.tg_store_session_record(ib, in, kb, kn, sb, sn, &out, &msg)
	runtime.KeepAlive(idb)
	runtime.KeepAlive(pepper)
	runtime.KeepAlive(session)
	if st != C.TG_STATUS_OK {
		return StoredRecord{}, newError(st, msg)
	}
	var parsed struct {
		Key     string  `json:"key"`
		Value   string  `json:"value"`
		Expires *uint64 `json:"expires"`
	}
	if err := json.Unmarshal([]byte(takeString(out)), &parsed); err != nil {
		return StoredRecord{}, errorWith(ErrInternalError, "the record is not JSON: "+err.Error())
	}
	return StoredRecord{Key: parsed.Key, Value: parsed.Value, Expires: recordExpiry(parsed.Expires)}, nil
}

// recordExpiry is a record's expires (Unix seconds) as StoredRecord holds it.
func recordExpiry(expires *uint64) *int64 {
	if expires == nil {
		return nil
	}
	exp := int64(*expires)
	if *expires > 1<<62 {
		exp = 1 << 62 // as good as never
	}
	return &exp
}

// ReplayClaim is what a webhook delivery verified by VerifyForStore must claim in the shared
// store before it is processed: Key ("tollgate:webhook:<SHA-256 of "<webhook-id>.<body>", hex>")
// for TTL seconds, if nobody holds it (Redis: SET key 1 NX EX ttl). The body is in the key so
// that senders sharing a store cannot claim each other's ids; a retry repeats id and body.
type ReplayClaim struct {
	Key string
	TTL uint64 // seconds, at least the verifier's tolerance
}

// Settle is the delivery's outcome once the claim was tried: nil when claimed (the store set
// the key: the delivery is new), ErrWebhookReplayed when it was not (another instance, or this
// one, took it first).
func (c ReplayClaim) Settle(claimed bool) error {
	if claimed {
		return nil
	}
	return errorWith(ErrWebhookReplayed, "webhook-id already delivered (claimed in the store)")
}

// VerifyForStore verifies a delivery as Verify does, for a host whose replay guard is a shared
// store (tg_webhook_verifier_verify_for_store): the verifier's own ReplayGuard is not used;
// instead the delivery's id must be claimed in the store (ReplayClaim), so that a delivery
// replayed to another instance is refused there too. window is the replay window (whole
// seconds, a fraction dropped, at most 24 h; the claim lasts at least the verifier's tolerance;
// zero: the tolerance). Only verified deliveries give a claim, so forgeries cannot block a
// genuine one. A host whose store does not answer must refuse the delivery (the sender
// retries). Errors as Verify's, and ErrInvalidOptions for a window over 24 h; never
// ErrWebhookReplayed (that is Settle's).
func (v *WebhookVerifier) VerifyForStore(header http.Header, body []byte, now time.Time,
	window time.Duration) (ReplayClaim, error) {
	hs := newCHeaders(header)
	defer hs.free()
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.ptr == nil {
		return ReplayClaim{}, errClosed("webhook verifier")
	}
	var w C.uint64_t
	if window > 0 {
		w = C.uint64_t(window / time.Second)
	}
	b, bn := bytesArg(body)
	var key, msg *C.char
	var ttl C.uint64_t
	st := C.tg_webhook_verifier_verify_for_store(v.ptr, hs.ptr, hs.count, b, bn, webhookNow(now), w, &key, &ttl, &msg)
	runtime.KeepAlive(body)
	if st != C.TG_STATUS_OK {
		return ReplayClaim{}, newError(st, msg)
	}
	return ReplayClaim{Key: takeString(key), TTL: uint64(ttl)}, nil
}
