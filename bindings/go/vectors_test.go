package tollgate_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	tollgate "github.com/tollgate/tollgate/bindings/go"
)

// The shared vectors, beside the repository (as tests/c/run.sh reads them).
const vectorsDir = "../../../shared/vectors"

const dummyHS256Key = `{"kty":"oct","k":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","alg":"HS256"}`

// reason is the verdict of a call: "ok" or the *Error's code.
func reason(err error) string {
	if err == nil {
		return "ok"
	}
	var te *tollgate.Error
	if !errors.As(err, &te) {
		return "not a *tollgate.Error: " + err.Error()
	}
	return te.Code
}

func asError(err error, target **tollgate.Error) bool { return errors.As(err, target) }

// TestRFCExamples replays rfc-jws.json with the verdicts of tests/c/jws_vectors.c: supported and
// "valid" verifies (payload and algorithm as signed); supported otherwise is invalid_signature;
// alg none is alg_none; other unsupported algorithms (ES512) are unsupported_algorithm.
func TestRFCExamples(t *testing.T) {
	var cases []struct {
		Name      string `json:"name"`
		Alg       string `json:"alg"`
		Token     string `json:"token"`
		Expected  string `json:"expected"`
		Payload   *string
		Supported bool `json:"alg_supported_by_tollgate"`
		JWK       *struct {
			Public  json.RawMessage `json:"public"`
			Private json.RawMessage `json:"private"`
		} `json:"jwk"`
	}
	if err := json.Unmarshal(readFile(t, filepath.Join(vectorsDir, "rfc-jws.json")), &cases); err != nil {
		t.Fatal(err)
	}
	agree := 0
	for _, c := range cases {
		keys := []byte(dummyHS256Key)
		if c.JWK != nil {
			keys = c.JWK.Public
			if len(keys) == 0 || string(keys) == "null" {
				keys = c.JWK.Private
			}
		}
		var opts []tollgate.Option
		if c.Supported {
			opts = append(opts, tollgate.WithAlgorithm(c.Alg))
		}
		v, err := tollgate.NewVerifier(keys, opts...)
		if err != nil && !c.Supported {
			// A key the ABI cannot hold (P-521 for ES512): the header check that refuses the
			// token comes before any key is used, so an empty key set gives the same verdict.
			v, err = tollgate.NewVerifier([]byte(`{"keys":[]}`))
		}
		got := reason(err)
		if err == nil {
			tok, verr := v.VerifyJWS([]byte(c.Token))
			got = reason(verr)
			if verr == nil {
				if c.Payload != nil && string(tok.Payload) != *c.Payload {
					got = "payload differs"
				}
				if tok.Algorithm != c.Alg {
					got = "algorithm " + tok.Algorithm
				}
				if tok.ClaimsJSON != nil || tok.Subject != "" {
					got = "claims from VerifyJWS"
				}
			}
			v.Close()
		}
		want := "ok"
		switch {
		case c.Supported && c.Expected != "valid":
			want = "invalid_signature"
		case !c.Supported && c.Alg == "none":
			want = "alg_none"
		case !c.Supported:
			want = "unsupported_algorithm"
		}
		if got != want {
			t.Errorf("rfc-jws.json %s: expected %s, got %s", c.Name, want, got)
			continue
		}
		agree++
	}
	report("2 vectors a", fmt.Sprintf("vectors   %-24s %3d of %3d agree", "rfc-jws.json", agree, len(cases)))
}

// TestDerivedCases replays jws-derived-cases.json (full JWT verification at the case's now): a
// JWKS of trusted_keys[].jwk, leeway 0 unless the case's policy says, the policy's expected
// audience, and no required claims when it sets require_exp to false. A key set the library
// refuses counts as a rejection. Each case must end with the code tests/jws-derived-codes.json
// gives it (the table every harness shares), not only with the right verdict.
func TestDerivedCases(t *testing.T) {
	var doc struct {
		Cases []struct {
			Name        string `json:"name"`
			Token       string `json:"token"`
			Expected    string `json:"expected"`
			Now         int64  `json:"now"`
			TrustedKeys []struct {
				JWK json.RawMessage `json:"jwk"`
			} `json:"trusted_keys"`
			Policy *struct {
				ExpectedAudience *string `json:"expected_audience"`
				LeewayS          float64 `json:"leeway_s"`
				RequireExp       *bool   `json:"require_exp"`
			} `json:"policy"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(readFile(t, filepath.Join(vectorsDir, "jws-derived-cases.json")), &doc); err != nil {
		t.Fatal(err)
	}
	var table struct {
		Codes map[string]string `json:"codes"`
	}
	if err := json.Unmarshal(readFile(t, "../../tests/jws-derived-codes.json"), &table); err != nil {
		t.Fatal(err)
	}
	agree := 0
	for _, c := range doc.Cases {
		jwks := struct {
			Keys []json.RawMessage `json:"keys"`
		}{Keys: []json.RawMessage{}}
		for _, k := range c.TrustedKeys {
			jwks.Keys = append(jwks.Keys, k.JWK)
		}
		keys, _ := json.Marshal(jwks)
		opts := []tollgate.Option{tollgate.WithLeeway(0)}
		if p := c.Policy; p != nil {
			if p.ExpectedAudience != nil {
				opts = append(opts, tollgate.WithAudiences(*p.ExpectedAudience))
			}
			opts = append(opts, tollgate.WithLeeway(time.Duration(p.LeewayS*float64(time.Second))))
			if p.RequireExp != nil && !*p.RequireExp {
				opts = append(opts, tollgate.WithRequired())
			}
		}
		// Both ways: a reusable verifier, and the one-call Verify.
		var err error
		v, verr := tollgate.NewVerifier(keys, opts...)
		if verr != nil {
			err = verr
		} else {
			var tok *tollgate.Token
			tok, err = v.Verify([]byte(c.Token), time.Unix(c.Now, 0))
			if err == nil && tok.ClaimsJSON == nil {
				err = fmt.Errorf("a verified JWT without claims")
			}
			var te *tollgate.Error
			if err != nil && errors.As(err, &te) && te.Message == "" {
				err = fmt.Errorf("a failure without a message: %v", err)
			}
			v.Close()
		}
		_, oneCall := tollgate.Verify([]byte(c.Token), keys, append(opts, tollgate.WithTime(time.Unix(c.Now, 0)))...)
		if reason(oneCall) != reason(err) {
			t.Errorf("jws-derived-cases.json %s: Verify says %s, Verifier.Verify %s", c.Name, reason(oneCall), reason(err))
			continue
		}
		want, listed := table.Codes[c.Name]
		if !listed || reason(err) != want {
			t.Errorf("jws-derived-cases.json %s: expected %q (%s), got %s", c.Name, want, c.Expected, reason(err))
			continue
		}
		agree++
	}
	report("2 vectors b", fmt.Sprintf("vectors   %-24s %3d of %3d agree", "jws-derived-cases.json", agree, len(doc.Cases)))
}
