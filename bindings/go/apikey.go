package tollgate

/*
#include <tollgate.h>
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"time"
)

// GeneratedAPIKey is a new API key (or personal access token) and the record a host stores for
// it (tg_apikey_generate).
type GeneratedAPIKey struct {
	// Key is "<prefix>_<32 base62><6 base62 checksum>": show it once; it is stored nowhere.
	Key string
	// Record is the JSON record to store in the snapshot's api_keys under the provider's name:
	// id, hash, owner, kind (service_account), created, hint. Change kind or add tenant, roles,
	// scopes or expires as needed; it never holds the key.
	Record json.RawMessage
	// Hash is the record's hash ("sha256:…" or "hmac-sha256:…"), what HashAPIKey gives for Key.
	Hash string
}

// String shows the record and leaves the key out, so that logging a GeneratedAPIKey (%v, %+v,
// %s) never writes the key; read g.Key to show it once.
func (g GeneratedAPIKey) String() string {
	return fmt.Sprintf("GeneratedAPIKey{Key: <redacted>, Record: %s, Hash: %s}", g.Record, g.Hash)
}

// GoString is String, for %#v.
func (g GeneratedAPIKey) GoString() string { return g.String() }

// MarshalJSON writes the record and hash, never the key: a GeneratedAPIKey encoded by mistake
// (into a log line or a response) does not leak it.
func (g GeneratedAPIKey) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Record json.RawMessage `json:"record"`
		Hash   string          `json:"hash"`
	}{g.Record, g.Hash})
}

// GenerateAPIKey makes a key with prefix (1–32 ASCII letters, digits or _, not ending in _, such
// as "fln_live" or "pat") from the operating system's secure random source, and its record for
// owner created at now (zero: time.Now()). pepper: the host's pepper (at least 16 bytes) to hash
// with HMAC-SHA256, or nil for plain SHA-256; it must match the policy provider's hashing.
// Fails with ErrKeyGenerationFailed for a bad prefix, ErrInvalidOptions for a short pepper.
func GenerateAPIKey(prefix, owner string, pepper []byte, now time.Time) (GeneratedAPIKey, error) {
	if now.IsZero() {
		now = time.Now()
	}
	pb, pn := bytesArg([]byte(prefix))
	ob, on := bytesArg([]byte(owner))
	kb, kn := bytesArg(pepper)
	var key, record, msg *C.char
	st := C.tg_apikey_generate(pb, pn, ob, on, kb, kn, unixSeconds(now), &key, &record, &msg)
	runtime.KeepAlive(pepper)
	if st != C.TG_STATUS_OK {
		return GeneratedAPIKey{}, newError(st, msg)
	}
	g := GeneratedAPIKey{Key: takeString(key), Record: json.RawMessage(takeString(record))}
	var fields struct {
		Hash string `json:"hash"`
	}
	if err := json.Unmarshal(g.Record, &fields); err != nil {
		return GeneratedAPIKey{}, errorWith(ErrInternalError, "the generated record is not JSON: "+err.Error())
	}
	g.Hash = fields.Hash
	return g, nil
}

// CheckAPIKey checks a key's form and checksum without any lookup: nil, or ErrMalformedAPIKey
// for a typo, a truncated paste or a prefix not among prefixes (the longest match wins). Run it
// before looking a key up, to refuse typos and junk without a store round trip; it is no
// authentication (anyone can compute the checksum). It needs at least one prefix, each one
// Tollgate could generate (ASCII letters, digits and _, at most 32 bytes; ErrInvalidOptions
// otherwise): an allow-list that lists nothing, nil included, must not accept every prefix.
// CheckAPIKeyOwnPrefix accepts the key's own prefix.
func CheckAPIKey(key string, prefixes ...string) error {
	if len(prefixes) == 0 {
		return errorWith(ErrInvalidOptions, "no prefixes: CheckAPIKeyOwnPrefix accepts the key's own prefix")
	}
	for _, p := range prefixes {
		if p == "" || strings.ContainsAny(p, " \t\n\r\v\f") {
			return errorWith(ErrInvalidOptions, fmt.Sprintf("prefix %q: a prefix is not empty and has no spaces", p))
		}
	}
	return checkAPIKey(key, strings.Join(prefixes, " "))
}

// CheckAPIKeyOwnPrefix checks a key's form and checksum like CheckAPIKey, accepting whatever
// prefix the key carries (everything before its last _).
func CheckAPIKeyOwnPrefix(key string) error {
	return checkAPIKey(key, "")
}

// checkAPIKey is tg_apikey_check: prefixes space-separated, "" for the key's own.
func checkAPIKey(key, prefixes string) error {
	kb, kn := bytesArg([]byte(key))
	pb, pn := bytesArg([]byte(prefixes))
	if st := C.tg_apikey_check(kb, kn, pb, pn); st != C.TG_STATUS_OK {
		return newError(st, nil)
	}
	return nil
}

// HashAPIKey is the stored form of a key's hash: "sha256:<base64url>", or
// "hmac-sha256:<base64url>" under pepper (at least 16 bytes; nil for none). The key's form is
// not checked (CheckAPIKey does that).
func HashAPIKey(key string, pepper []byte) (string, error) {
	kb, kn := bytesArg([]byte(key))
	pb, pn := bytesArg(pepper)
	var hash *C.char
	st := C.tg_apikey_hash(kb, kn, pb, pn, &hash)
	runtime.KeepAlive(pepper)
	if st != C.TG_STATUS_OK {
		return "", newError(st, nil)
	}
	return takeString(hash), nil
}
