// Package redisstore keeps Tollgate's records in Redis (docs/records.md) for the Go binding:
// a tollgate.Store for Engine.CheckWithStore, the writes (records, API keys, sessions,
// revocations, each announced on tollgate:invalidate), webhook replay claims, and the
// subscription that keeps every engine's record cache current. It is the Go counterpart of the
// service's RedisStore (server/src/store.rs), over redigo.
//
//	store, err := redisstore.New("redis://10.0.0.5:6379/0", 500*time.Millisecond)
//	if err != nil { … }
//	defer store.Close()
//	go store.FollowInvalidations(ctx, engine) // drops cached records others change
//	d, err := engine.CheckWithStore(ctx, method, path, headers, store, time.Now())
//
// Only single-key commands are used (GET, SET … NX EX, SET … EXAT, PUBLISH), so a single node or
// a Redis Cluster behind a proxy serves unchanged. SET … EXAT needs Redis 6.2 or later.
package redisstore

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"math"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomodule/redigo/redis"
	tollgate "github.com/tollgate/tollgate/bindings/go"
)

// maxAnswerBytes is the longest record read (the engine refuses records over 64 KiB anyway).
const maxAnswerBytes = 64<<10 + 1

// Backoff of FollowInvalidations between two subscriptions: 0.5 s, doubling up to 5 s.
const (
	backoffInitial = 500 * time.Millisecond
	backoffMax     = 5 * time.Second
)

// pingInterval is how often FollowInvalidations pings its subscription, so that a connection
// that died silently is noticed within pingInterval + the store's timeout.
const pingInterval = 10 * time.Second

// Store is a Redis store: a pool of connections, each operation given at most the timeout. It
// is safe for concurrent use. Nothing is connected by New: the first operation connects, so a
// host starts while Redis is down and uses it once it is up.
type Store struct {
	url     string // without its password, for messages
	timeout time.Duration
	dial    func() (redis.Conn, error)
	pool    atomic.Pointer[redis.Pool]

	closeOnce sync.Once
	closed    atomic.Bool

	// ErrorLog receives FollowInvalidations' reports (subscription lost, bad messages); nil:
	// the log package's standard logger. Set it before FollowInvalidations starts.
	ErrorLog *log.Logger
}

// Error is a store that did not answer (unreachable, timed out) or answered something else
// than expected. errors.Is(err, tollgate.ErrStoreUnavailable) holds for every one.
type Error struct {
	Op  string // the command: GET, SET, PUBLISH, …
	URL string // the store, without its password
	Err error
}

func (e *Error) Error() string { return fmt.Sprintf("redisstore: %s on %s: %v", e.Op, e.URL, e.Err) }

// Unwrap gives the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is makes every Error match tollgate.ErrStoreUnavailable.
func (e *Error) Is(target error) bool { return target == tollgate.ErrStoreUnavailable }

// New makes a store at rawURL (redis://[user:password@]host[:port][/db], or rediss:// for TLS),
// each operation (connecting, writing, reading) given at most timeout.
func New(rawURL string, timeout time.Duration) (*Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// Not the parser's error: its text holds the URL, or a piece of it ("invalid port
		// \":pa\" after host" for a password with a '/').
		return nil, fmt.Errorf("redisstore: %q is not a URL (percent-encode the password's reserved characters)", redacted(rawURL))
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return nil, fmt.Errorf("redisstore: %s: the scheme must be redis or rediss", redacted(rawURL))
	}
	if u.Opaque != "" { // redis:user:pw@host: no "//", so no host (redigo would dial localhost)
		return nil, fmt.Errorf("redisstore: %s: not redis://[user:password@]host[:port][/db]", redacted(rawURL))
	}
	if timeout <= 0 {
		return nil, errors.New("redisstore: the timeout must be above 0")
	}
	s := &Store{url: redacted(rawURL), timeout: timeout}
	s.dial = func() (redis.Conn, error) {
		return redis.DialURL(rawURL, redis.DialConnectTimeout(timeout), redis.DialReadTimeout(timeout),
			redis.DialWriteTimeout(timeout))
	}
	s.pool.Store(s.newPool())
	return s, nil
}

func (s *Store) newPool() *redis.Pool {
	return &redis.Pool{Dial: s.dial, MaxIdle: 64, IdleTimeout: 4 * time.Minute}
}

// redacted is rawURL without its user info and query (where a password may be). A password may
// hold any character when the URL is not encoded as it should be ('?', '/', '@'), so where it
// ends is not always knowable: then nothing is shown.
func redacted(rawURL string) string {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		if scheme, rest, ok := strings.Cut(rawURL, ":"); ok && strings.ContainsAny(rest, "@?") {
			return scheme + ":…"
		}
		return rawURL
	}
	at := strings.LastIndex(rest, "@")
	query := strings.Index(rest, "?")
	switch {
	case at >= 0 && query >= 0:
		return scheme + "://…"
	case at >= 0:
		return scheme + "://…@" + rest[at+1:]
	case query >= 0:
		return scheme + "://" + rest[:query] + "?…"
	}
	return rawURL
}

// URL is the store's address, without its password.
func (s *Store) URL() string { return s.url }

// Close closes the pool's connections; operations afterwards fail. FollowInvalidations stops
// with its context, not with Close.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.pool.Load().Close()
	})
	return nil
}

// do runs one command on a pooled connection within the store's timeout (or ctx's deadline, if
// sooner). A connection that failed (not a Redis error reply, not a timeout: the server went
// away, a restart) makes the pool start afresh, since its idle connections are most likely dead
// too, and the command is tried once more on a new connection.
func (s *Store) do(ctx context.Context, cmd string, args ...interface{}) (interface{}, error) {
	return s.run(ctx, 2, cmd, args...)
}

// run is do with at most attempts tries (1: a command that must not run twice).
func (s *Store) run(ctx context.Context, attempts int, cmd string, args ...interface{}) (interface{}, error) {
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, &Error{Op: cmd, URL: s.url, Err: err}
		}
		timeout := s.timeout
		if deadline, ok := ctx.Deadline(); ok {
			if left := time.Until(deadline); left < timeout {
				timeout = left
			}
			if timeout < time.Millisecond {
				timeout = time.Millisecond // 0 would mean no timeout at all
			}
		}
		pool := s.pool.Load()
		reply, err := s.doOn(ctx, pool, timeout, cmd, args...)
		if err == nil {
			return reply, nil
		}
		var redisErr redis.Error
		var netErr net.Error
		if errors.As(err, &redisErr) || (errors.As(err, &netErr) && netErr.Timeout()) || s.closed.Load() {
			return nil, &Error{Op: cmd, URL: s.url, Err: err}
		}
		if s.pool.CompareAndSwap(pool, s.newPool()) {
			pool.Close() // its connections in use are closed when they come back
		}
		if attempt+1 >= attempts {
			return nil, &Error{Op: cmd, URL: s.url, Err: err}
		}
	}
}

func (s *Store) doOn(ctx context.Context, pool *redis.Pool, timeout time.Duration, cmd string,
	args ...interface{}) (interface{}, error) {
	c, err := pool.GetContext(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return redis.DoWithTimeout(c, timeout, cmd, args...)
}

// Get reads the record under key (tollgate.Store): found false when Redis has no such key, an
// error (an *Error, matching tollgate.ErrStoreUnavailable) when it did not answer in time.
func (s *Store) Get(ctx context.Context, key string) ([]byte, bool, error) {
	value, err := redis.Bytes(s.do(ctx, "GET", key))
	if errors.Is(err, redis.ErrNil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if len(value) > maxAnswerBytes {
		value = value[:maxAnswerBytes]
	}
	return value, true, nil
}

// Put writes each record (SET key value, with EXAT expires + 1 day when it has an expiry), then
// announces its key on tollgate:invalidate (PUBLISH), so that every engine following the channel
// drops its cached copy at once. It stops at the first failure.
func (s *Store) Put(records ...tollgate.StoredRecord) error {
	ctx := context.Background()
	for _, r := range records {
		args := []interface{}{r.Key, r.Value}
		if at, ok := storeExpiry(r.Expires); ok {
			args = append(args, "EXAT", at)
		}
		if _, err := s.do(ctx, "SET", args...); err != nil {
			return err
		}
		if _, err := s.do(ctx, "PUBLISH", tollgate.InvalidateChannel, r.Key); err != nil {
			return err
		}
	}
	return nil
}

// storeExpiry is when the store drops a record that expires at expires (Unix seconds): a day
// later. None for a record without expiry, or one so far ahead that Redis could not count it.
func storeExpiry(expires *int64) (int64, bool) {
	kept := int64(tollgate.ExpiredRecordsKept / time.Second)
	if expires == nil || *expires > math.MaxInt64/1000-kept {
		return 0, false
	}
	return *expires + kept, true
}

// Claim takes key for ttl seconds if nobody holds it (SET key 1 NX EX ttl): whether it was set.
// It settles a webhook's tollgate.ReplayClaim: ClaimWebhook does both. Unlike other commands it
// is not tried again after a connection failure: a SET NX that ran but whose reply was lost
// would then read as somebody else's claim, and a genuine delivery as a replay. The failure is
// an *Error instead (answer 503).
func (s *Store) Claim(key string, ttl uint64) (bool, error) {
	if ttl == 0 {
		ttl = 1
	}
	reply, err := s.run(context.Background(), 1, "SET", key, 1, "NX", "EX", ttl)
	if err != nil {
		return false, err
	}
	return reply != nil, nil
}

// ClaimWebhook verifies a delivery for a store-backed replay guard and claims it (by its id and
// body; see tollgate.ReplayClaim): nil means
// verified and new (process it); tollgate.ErrWebhookReplayed a delivery this or another instance
// has claimed; the verifier's errors as they are; an *Error (tollgate.ErrStoreUnavailable: answer
// 503, the sender retries) when the store did not answer.
func (s *Store) ClaimWebhook(v *tollgate.WebhookVerifier, header http.Header, body []byte, now time.Time,
	window time.Duration) error {
	claim, err := v.VerifyForStore(header, body, now, window)
	if err != nil {
		return err
	}
	claimed, err := s.Claim(claim.Key, claim.TTL)
	if err != nil {
		return err
	}
	return claim.Settle(claimed)
}

// StoreAPIKey writes an API key's record (what tollgate.GenerateAPIKey returns, as a snapshot's
// api_keys hold it, without "v" and "record") under its hash, expiring a day after its expires,
// and announces it: the store key.
func (s *Store) StoreAPIKey(record []byte) (string, error) {
	r, err := apiKeyRecord(record)
	if err != nil {
		return "", err
	}
	return r.Key, s.Put(r)
}

// apiKeyRecord is an API key's record in store form.
func apiKeyRecord(record []byte) (tollgate.StoredRecord, error) {
	doc, err := json.Marshal(map[string]map[string][]json.RawMessage{"api_keys": {"_": {record}}})
	if err != nil {
		return tollgate.StoredRecord{}, fmt.Errorf("redisstore: the record is not JSON: %w", err)
	}
	_, records, err := tollgate.RecordsFromSnapshot(doc)
	if err != nil {
		return tollgate.StoredRecord{}, err
	}
	if len(records) != 1 {
		return tollgate.StoredRecord{}, fmt.Errorf("redisstore: %d records from one API key", len(records))
	}
	return records[0], nil
}

// StoreSession writes a server-side session's record (tollgate.SessionRecord: the session id,
// the session as JSON, the provider's pepper or nil) under the hash of the id, expiring a day
// after the session's expires, and announces it, so that every engine following invalidations
// uses it at once: the store key. Signing out is the same session with "revoked": true
// (session_revoked everywhere as soon as they hear). A session the library refuses is
// tollgate.ErrInvalidRecord.
func (s *Store) StoreSession(id string, session []byte, pepper []byte) (string, error) {
	r, err := tollgate.SessionRecord(id, session, pepper)
	if err != nil {
		return "", err
	}
	return r.Key, s.Put(r)
}

// APIKeyStoreKey is the store key of an API key's record, from the key itself (hashed as the
// provider hashes it: pepper nil for SHA-256, the provider's pepper for HMAC-SHA256) or from the
// record's hash ("sha256:…" or "hmac-sha256:…", base64url of 32 bytes).
func APIKeyStoreKey(keyOrHash string, pepper []byte) (string, error) {
	hash := keyOrHash
	if !strings.HasPrefix(hash, "sha256:") && !strings.HasPrefix(hash, "hmac-sha256:") {
		h, err := tollgate.HashAPIKey(keyOrHash, pepper)
		if err != nil {
			return "", err
		}
		hash = h
	}
	digest, err := base64.RawURLEncoding.DecodeString(hash[strings.IndexByte(hash, ':')+1:])
	if err != nil || len(digest) != 32 {
		return "", fmt.Errorf("redisstore: %q is not sha256:<base64url> or hmac-sha256:<base64url> of 32 bytes", hash)
	}
	return "tollgate:api_key:" + hex.EncodeToString(digest), nil
}

// RevokeAPIKey revokes an API key (given as the key, hashed with pepper as APIKeyStoreKey does,
// or as its record's hash) as `tollgate apikey revoke` does: it reads the record, marks it
// "revoked": true, writes it back and announces it, so every engine refuses the key at once
// (api_key_revoked). It returns the key's id. A key the store holds no record for is an error.
func (s *Store) RevokeAPIKey(keyOrHash string, pepper []byte) (string, error) {
	key, err := APIKeyStoreKey(keyOrHash, pepper)
	if err != nil {
		return "", err
	}
	found, ok, err := s.Get(context.Background(), key)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("redisstore: %s holds no record under %s", s.url, key)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(found, &doc); err != nil {
		return "", fmt.Errorf("redisstore: the record under %s is not a JSON object: %w", key, err)
	}
	delete(doc, "v")
	delete(doc, "record")
	doc["revoked"] = json.RawMessage("true")
	var id string
	_ = json.Unmarshal(doc["id"], &id)
	plain, err := json.Marshal(doc)
	if err != nil {
		return "", err
	}
	r, err := apiKeyRecord(plain)
	if err != nil {
		return "", fmt.Errorf("redisstore: the record under %s is not an API-key record: %w", key, err)
	}
	if r.Key != key {
		return "", fmt.Errorf("redisstore: the record under %s holds another key's hash; left as it is", key)
	}
	return id, s.Put(r)
}

// Invalidator is what FollowInvalidations tells of changed keys: a *tollgate.Engine.
type Invalidator interface {
	Invalidate(key string) error
}

// FollowInvalidations follows tollgate:invalidate until ctx ends, passing each message (a store
// key, or "*") to every engine's Invalidate, and "*" each time the subscription is made or made
// again, since messages may have been missed meanwhile. A lost subscription is made again after
// 0.5 s, doubling up to 5 s while it fails. Run it in a goroutine of its own:
//
//	go store.FollowInvalidations(ctx, engine)
//
// Without it an engine uses a cached record until the policy's store.cache_ttl runs out. An
// engine that is closed is left out from then on; FollowInvalidations returns when none is left.
func (s *Store) FollowInvalidations(ctx context.Context, engines ...Invalidator) {
	live := append([]Invalidator(nil), engines...)
	invalidate := func(key string) {
		kept := live[:0]
		for _, e := range live {
			err := e.Invalidate(key)
			switch {
			case errors.Is(err, tollgate.ErrNullParameter): // closed: leave it out
				continue
			case err != nil:
				s.logf("redisstore: ignored an invalidation message %q: %v", key, err)
			}
			kept = append(kept, e)
		}
		live = kept
	}
	backoff := backoffInitial
	for ctx.Err() == nil && len(live) > 0 {
		subscribed, err := s.follow(ctx, invalidate)
		if ctx.Err() != nil || len(live) == 0 {
			return
		}
		if subscribed {
			backoff = backoffInitial
		}
		s.logf("redisstore: following %s on %s: %v; again in %v", tollgate.InvalidateChannel, s.url, err, backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		if backoff *= 2; backoff > backoffMax {
			backoff = backoffMax
		}
	}
}

// follow subscribes on a connection of its own and passes messages on until the connection
// fails or ctx ends: whether the subscription was made, and why it ended.
func (s *Store) follow(ctx context.Context, invalidate func(string)) (bool, error) {
	c, err := s.dial()
	if err != nil {
		return false, err
	}
	psc := redis.PubSubConn{Conn: c}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-ctx.Done():
		case <-stop:
		}
		psc.Close() // unblocks Receive
	}()
	if err := psc.Subscribe(tollgate.InvalidateChannel); err != nil {
		return false, err
	}
	subscribed := false
	for {
		// Silence longer than a ping and the timeout means a dead connection.
		switch m := psc.ReceiveWithTimeout(pingInterval + s.timeout).(type) {
		case redis.Message:
			invalidate(string(m.Data))
		case redis.Subscription:
			if m.Kind == "subscribe" && m.Channel == tollgate.InvalidateChannel && !subscribed {
				subscribed = true
				invalidate("*")
				go s.ping(psc, stop)
			}
		case redis.Pong:
		case error:
			return subscribed, m
		}
	}
}

// ping pings the subscription every pingInterval until stop.
func (s *Store) ping(psc redis.PubSubConn, stop <-chan struct{}) {
	t := time.NewTicker(pingInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if psc.Ping("") != nil {
				return
			}
		}
	}
}

func (s *Store) logf(format string, args ...interface{}) {
	if s.ErrorLog != nil {
		s.ErrorLog.Printf(format, args...)
	} else {
		log.Printf(format, args...)
	}
}
