package tollgate_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	tollgate "github.com/tollgate/tollgate/bindings/go"
)

// knownAPIKey and its hashes are the known answers tests/apikeys.rs pins (checksum from Python's
// zlib.crc32, hashes from hashlib and hmac).
const (
	knownAPIKey     = "fln_live_0123456789abcdefghijABCDEFGHIJ4C9YBz"
	knownSHA256     = "sha256:TprC_RyjdnqddB9d5lsKcvVEQG9hsgyzek7UT-pr1so"
	knownPepper     = "pepper-pepper-16"
	knownHMACSHA256 = "hmac-sha256:zyb-Al2CgV2wiB__aXS2I2TnY9RaiqudN4l70W8gAFU"
)

func TestAPIKeyKnownAnswers(t *testing.T) {
	if err := tollgate.CheckAPIKey(knownAPIKey, "fln_live", "fln"); err != nil {
		t.Fatalf("the known key: %v", err)
	}
	got, err := tollgate.HashAPIKey(knownAPIKey, nil)
	if err != nil || got != knownSHA256 {
		t.Errorf("sha256: got %q, %v; want %q", got, err, knownSHA256)
	}
	got, err = tollgate.HashAPIKey(knownAPIKey, []byte(knownPepper))
	if err != nil || got != knownHMACSHA256 {
		t.Errorf("hmac-sha256: got %q, %v; want %q", got, err, knownHMACSHA256)
	}
	// The same answers from Go's standard library.
	sum := sha256.Sum256([]byte(knownAPIKey))
	if want := "sha256:" + base64.RawURLEncoding.EncodeToString(sum[:]); want != knownSHA256 {
		t.Errorf("crypto/sha256 says %s", want)
	}
	mac := hmac.New(sha256.New, []byte(knownPepper))
	mac.Write([]byte(knownAPIKey))
	if want := "hmac-sha256:" + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)); want != knownHMACSHA256 {
		t.Errorf("crypto/hmac says %s", want)
	}
	if _, err := tollgate.HashAPIKey(knownAPIKey, []byte("short")); !errors.Is(err, tollgate.ErrInvalidOptions) {
		t.Errorf("a short pepper: %v", err)
	}
	for _, bad := range []string{
		"",
		"fln_live_0123456789abcdefghijABCDEFGHIJ4C9YBZ", // checksum case changed
		"fln_live_0123456789abcdefghijABCDEFGHIJ4C9YB",  // truncated
		"fln_live_0123456789abcdefghijABCDEFGHI4C9YBz",  // a character dropped
		knownAPIKey + " ",
	} {
		err := tollgate.CheckAPIKey(bad, "fln_live")
		if !errors.Is(err, tollgate.ErrMalformedAPIKey) || reason(err) != "malformed_api_key" {
			t.Errorf("%q: expected malformed_api_key, got %v", bad, err)
		}
	}
	if err := tollgate.CheckAPIKey(knownAPIKey, "pat"); !errors.Is(err, tollgate.ErrMalformedAPIKey) {
		t.Errorf("a prefix not accepted: %v", err)
	}
	if err := tollgate.CheckAPIKeyOwnPrefix(knownAPIKey); err != nil {
		t.Errorf("its own prefix: %v", err)
	}
	if err := tollgate.CheckAPIKeyOwnPrefix("fln_live_0123"); !errors.Is(err, tollgate.ErrMalformedAPIKey) {
		t.Errorf("a malformed key under its own prefix: %v", err)
	}
	// An allow-list that lists nothing accepts nothing, never everything: nil included (a list
	// built by appending nothing).
	var none []string
	if err := tollgate.CheckAPIKey(knownAPIKey, none...); !errors.Is(err, tollgate.ErrInvalidOptions) {
		t.Errorf("a nil allow-list: %v", err)
	}
	for _, nothing := range [][]string{{}, {""}, {"fln_live", ""}, {"fln_live fln"}, {" "}} {
		if err := tollgate.CheckAPIKey(knownAPIKey, nothing...); !errors.Is(err, tollgate.ErrInvalidOptions) {
			t.Errorf("prefixes %q: %v", nothing, err)
		}
	}
}

func TestGeneratedAPIKeysRoundTrip(t *testing.T) {
	now := time.Unix(1_767_225_600, 0)
	pepper := []byte(knownPepper)
	g, err := tollgate.GenerateAPIKey("fln_live", "sa_billing", pepper, now)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(g.Key, "fln_live_") || len(g.Key) != len("fln_live_")+38 {
		t.Fatalf("key %q", g.Key)
	}
	if err := tollgate.CheckAPIKey(g.Key, "fln_live"); err != nil {
		t.Fatalf("the generated key: %v", err)
	}
	// Printed or encoded, it never shows the key (the random part is what must stay secret).
	secret := strings.TrimPrefix(g.Key, "fln_live_")
	encoded, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	for _, shown := range []string{fmt.Sprint(g), fmt.Sprintf("%+v", g), fmt.Sprintf("%#v", g), fmt.Sprintf("%s", g), string(encoded)} {
		if strings.Contains(shown, secret) || !strings.Contains(shown, g.Hash) {
			t.Errorf("shown as %s", shown)
		}
	}
	var record struct {
		ID      string `json:"id"`
		Hash    string `json:"hash"`
		Owner   string `json:"owner"`
		Kind    string `json:"kind"`
		Created int64  `json:"created"`
		Hint    string `json:"hint"`
	}
	if err := json.Unmarshal(g.Record, &record); err != nil {
		t.Fatal(err)
	}
	hash, err := tollgate.HashAPIKey(g.Key, pepper)
	if err != nil || record.Hash != hash || g.Hash != hash || !strings.HasPrefix(hash, "hmac-sha256:") {
		t.Errorf("record hash %q, Hash %q, HashAPIKey %q (%v)", record.Hash, g.Hash, hash, err)
	}
	if record.Owner != "sa_billing" || record.Kind != "service_account" || record.Created != now.Unix() ||
		record.Hint != "…"+g.Key[len(g.Key)-4:] || record.ID == "" {
		t.Errorf("record %+v", record)
	}
	if strings.Contains(string(g.Record), g.Key) {
		t.Error("the record holds the key")
	}
	// Every single-character change of the body or checksum is caught.
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	changed := 0
	for i := len("fln_live_"); i < len(g.Key); i++ {
		c := alphabet[(strings.IndexByte(alphabet, g.Key[i])+1+i)%len(alphabet)]
		k := g.Key[:i] + string(c) + g.Key[i+1:]
		if err := tollgate.CheckAPIKey(k, "fln_live"); !errors.Is(err, tollgate.ErrMalformedAPIKey) {
			t.Errorf("position %d changed (%q): %v", i, k, err)
		}
		changed++
	}
	if changed != 38 {
		t.Fatalf("%d positions changed", changed)
	}
	g2, err := tollgate.GenerateAPIKey("pat", "u", nil, now)
	if err != nil || g2.Key == g.Key || !strings.HasPrefix(g2.Hash, "sha256:") {
		t.Errorf("a second key %+v, %v", g2, err)
	}
	if _, err := tollgate.GenerateAPIKey("bad_", "u", nil, now); !errors.Is(err, tollgate.ErrKeyGenerationFailed) {
		t.Errorf("a prefix ending in _: %v", err)
	}
	if _, err := tollgate.GenerateAPIKey("pat", "u", []byte("short"), now); !errors.Is(err, tollgate.ErrInvalidOptions) {
		t.Errorf("a short pepper: %v", err)
	}
}
