package tollgate_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	tollgate "github.com/tollgate/tollgate/bindings/go"
)

// TestBackends: Backends lists what the linked library has (TOLLGATE_EXPECT_BACKENDS, when set,
// says what that must be: scripts/test links an aws-lc build too), and every listed backend
// verifies the RFC examples this package supports with their known payloads and refuses them
// tampered; a backend the library lacks, or no backend at all, is ErrInvalidOptions.
func TestBackends(t *testing.T) {
	listed := tollgate.Backends()
	if want := os.Getenv("TOLLGATE_EXPECT_BACKENDS"); want != "" && strings.Join(listed, ",") != want {
		t.Fatalf("Backends() = %v, want %s", listed, want)
	}
	if got := strings.Join(listed, ","); got != "ring" && got != "aws-lc,ring" {
		t.Fatalf("Backends() = %v", listed)
	}
	var cases []struct {
		Name      string  `json:"name"`
		Alg       string  `json:"alg"`
		Token     string  `json:"token"`
		Expected  string  `json:"expected"`
		Payload   *string `json:"payload"`
		Supported bool    `json:"alg_supported_by_tollgate"`
		JWK       struct {
			Public  json.RawMessage `json:"public"`
			Private json.RawMessage `json:"private"`
		} `json:"jwk"`
	}
	if err := json.Unmarshal(readFile(t, filepath.Join(vectorsDir, "rfc-jws.json")), &cases); err != nil {
		t.Fatal(err)
	}
	for _, backend := range listed {
		checked := 0
		for _, c := range cases {
			if !c.Supported || c.Expected != "valid" {
				continue
			}
			keys := []byte(c.JWK.Public)
			if len(keys) == 0 || string(keys) == "null" {
				keys = c.JWK.Private
			}
			v, err := tollgate.NewVerifier(keys, tollgate.WithAlgorithm(c.Alg), tollgate.WithBackend(backend))
			if err != nil {
				t.Fatalf("%s on %s: %v", c.Name, backend, err)
			}
			tok, err := v.VerifyJWS([]byte(c.Token))
			if err != nil || (c.Payload != nil && string(tok.Payload) != *c.Payload) {
				t.Errorf("%s on %s: %v", c.Name, backend, err)
			}
			// One character of the signature changed ('A' <-> 'B' keeps it canonical base64url).
			tampered := []byte(c.Token)
			if tampered[len(tampered)-5] == 'A' {
				tampered[len(tampered)-5] = 'B'
			} else {
				tampered[len(tampered)-5] = 'A'
			}
			if _, err := v.VerifyJWS(tampered); reason(err) != "invalid_signature" {
				t.Errorf("%s tampered on %s: %s", c.Name, backend, reason(err))
			}
			v.Close()
			checked++
		}
		t.Logf("%s: %d RFC examples verified, and refused tampered", backend, checked)
		if checked < 5 {
			t.Errorf("%s: only %d examples", backend, checked)
		}
	}
	for _, name := range []string{"aws-lc", "openssl"} {
		if name == "aws-lc" && len(listed) == 2 {
			continue
		}
		_, err := tollgate.NewVerifier([]byte(dummyHS256Key), tollgate.WithBackend(name))
		var te *tollgate.Error
		if !asError(err, &te) || te.Code != "invalid_options" {
			t.Errorf("WithBackend(%q) on %v: %v", name, listed, err)
		}
	}
}
