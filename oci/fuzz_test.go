package oci

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var challengeCases = []struct {
	in   string
	want []challenge
}{
	{`Bearer realm="https://auth.example/token",service="registry.example",scope="repository:k:pull"`,
		[]challenge{{"bearer", map[string]string{"realm": "https://auth.example/token", "service": "registry.example", "scope": "repository:k:pull"}}}},
	{`Basic realm="kheaders-test"`, []challenge{{"basic", map[string]string{"realm": "kheaders-test"}}}},
	{`Basic realm="a, b", Bearer realm=https://x/t,  error="invalid_token"`,
		[]challenge{{"basic", map[string]string{"realm": "a, b"}}, {"bearer", map[string]string{"realm": "https://x/t", "error": "invalid_token"}}}},
	{`BEARER Realm="q\"uote"`, []challenge{{"bearer", map[string]string{"realm": `q"uote`}}}},
	{`Basic`, []challenge{{"basic", map[string]string{}}}},
	{`Negotiate abc==`, []challenge{{"negotiate", map[string]string{}}}},
	{`Negotiate abc==, Bearer realm="https://r/t"`, []challenge{{"negotiate", map[string]string{}}, {"bearer", map[string]string{"realm": "https://r/t"}}}},
	{`Bearer realm = "https://r/t" , service= reg`, []challenge{{"bearer", map[string]string{"realm": "https://r/t", "service": "reg"}}}},
	{`Bearer realm=https://r/t?a=b&c=d,scope="repository:k:pull"`, []challenge{{"bearer", map[string]string{"realm": "https://r/t?a=b&c=d", "scope": "repository:k:pull"}}}},
	{`Negotiate, Basic realm="x"`, []challenge{{"negotiate", map[string]string{}}, {"basic", map[string]string{"realm": "x"}}}},
	{`Basic realm="x" Bearer realm="y"`, []challenge{{"basic", map[string]string{"realm": "x"}}, {"bearer", map[string]string{"realm": "y"}}}},
	{``, nil},
	{`Bearer realm="unterminated`, []challenge{{"bearer", map[string]string{}}}},
}

func TestParseChallenges(t *testing.T) {
	for _, tc := range challengeCases {
		got := parseChallenges(tc.in)
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(tc.want)
		if string(g) != string(w) {
			t.Errorf("parseChallenges(%q) = %s, want %s", tc.in, g, w)
		}
	}
}

func FuzzParseChallenges(f *testing.F) {
	for _, tc := range challengeCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, h string) {
		for _, ch := range parseChallenges(h) {
			if ch.Scheme == "" || ch.Scheme != strings.ToLower(ch.Scheme) {
				t.Fatalf("parseChallenges(%q): scheme %q", h, ch.Scheme)
			}
		}
	})
}

func TestParseToken(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"token":"abc"}`, "abc"},
		{`{"access_token":"def","expires_in":300}`, "def"},
		{`{"token":"abc","access_token":"def"}`, "abc"},
		{`{}`, ""},
		{`{"token":"a b"}`, ""},
		{`{"token":"a\r\nX-Evil: 1"}`, ""},
		{`<html>`, ""},
	} {
		got, err := parseToken([]byte(tc.in))
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("parseToken(%s) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func FuzzParseToken(f *testing.F) {
	f.Add([]byte(`{"token":"abc"}`))
	f.Add([]byte(`{"access_token":"def","expires_in":300}`))
	f.Add([]byte(`{"token":"a\r\n"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, err := parseToken(b)
		if err == nil && (tok == "" || strings.ContainsAny(tok, " \r\n\t\x00")) {
			t.Fatalf("parseToken(%q) = %q, a token that cannot go in a header", b, tok)
		}
	})
}

func TestParseErrorBody(t *testing.T) {
	got := parseErrorBody([]byte(`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}`))
	if len(got) != 1 || got[0] != (registryError{"MANIFEST_UNKNOWN", "manifest unknown"}) {
		t.Errorf("parseErrorBody = %+v", got)
	}
	if got := parseErrorBody([]byte("<html>502</html>")); got != nil {
		t.Errorf("parseErrorBody(html) = %+v, want nil", got)
	}
}

func FuzzParseErrorBody(f *testing.F) {
	f.Add([]byte(`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}`))
	f.Add([]byte(`{"errors":null}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, b []byte) {
		errs := parseErrorBody(b)
		e := &responseError{Method: "GET", URL: "http://x/v2/", Status: 404, Errors: errs}
		if len(e.Error()) > 4096 {
			t.Fatalf("error message of %d bytes from %d input bytes: not bounded", len(e.Error()), len(b))
		}
	})
}

// manifestSeeds are the golden manifests and a few refusals.
func manifestSeeds(t testing.TB) [][]byte {
	var out [][]byte
	files, _ := filepath.Glob(filepath.Join("testdata", "golden", "*.json"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return append(out, []byte(`{}`), []byte(`{"artifactType":"application/vnd.kheaders.headers.v1","layers":[{"mediaType":"application/vnd.kheaders.archive.v1.tar+xz","digest":"sha256:x","size":1}]}`))
}

func TestParseManifest(t *testing.T) {
	m, err := manifest([]byte("archive"), Meta{Release: "6.12.117"})
	if err != nil {
		t.Fatal(err)
	}
	man, err := parseManifest(m, DefaultMaxSize)
	if err != nil || man.Layers[0].Size != 7 || metaOf(man.Annotations).Release != "6.12.117" {
		t.Fatalf("parseManifest(our manifest) = %+v, %v", man, err)
	}
	if _, err := parseManifest(m, 6); !errors.Is(err, ErrTooLarge) {
		t.Errorf("parseManifest with a 6-byte cap = %v, want ErrTooLarge", err)
	}
	for _, tc := range []struct {
		old, new string
		want     error
	}{
		{ArtifactType, "application/x", ErrArtifactType},
		{LayerMediaType, "application/x", ErrArtifactType},
		{`"sha256:0eb3`, `"sha512:0eb3`, ErrArtifactType},
		{`"io.kheaders.archive.sha256":"0eb3`, `"io.kheaders.archive.sha256":"1eb3`, ErrDigest},
		{`{`, `[`, ErrArtifactType},
	} {
		b := []byte(strings.Replace(string(m), tc.old, tc.new, 1))
		if _, err := parseManifest(b, DefaultMaxSize); !errors.Is(err, tc.want) {
			t.Errorf("parseManifest(%s -> %s) = %v, want %v", tc.old, tc.new, err, tc.want)
		}
	}
}

func FuzzParseManifest(f *testing.F) {
	for _, b := range manifestSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		man, err := parseManifest(b, 1<<20)
		if err != nil {
			return
		}
		l := man.Layers[0]
		if l.Size <= 0 || l.Size > 1<<20 || !validSHA256(l.Digest) || man.Annotations[AnnotationArchiveSHA256] != l.Digest[7:] {
			t.Fatalf("parseManifest(%q) accepted layer %+v", b, l)
		}
	})
}

func TestParseHelperOutput(t *testing.T) {
	c, err := parseHelperOutput("docker-credential-x", "h", []byte(`{"ServerURL":"h","Username":"<token>","Secret":"r"}`))
	if err != nil || c != (credential{RefreshToken: "r"}) {
		t.Errorf("parseHelperOutput(<token>) = %+v, %v", c, err)
	}
	if _, err := parseHelperOutput("docker-credential-x", "h", []byte("oops")); err == nil {
		t.Error("parseHelperOutput(oops): no error")
	}
}

func FuzzParseHelperOutput(f *testing.F) {
	f.Add([]byte(`{"ServerURL":"h","Username":"u","Secret":"s"}`))
	f.Add([]byte(`{"Username":"<token>","Secret":"r"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseHelperOutput("docker-credential-x", "h", b)
		if err == nil && c.RefreshToken != "" && c.Username != "" {
			t.Fatalf("parseHelperOutput(%q) = %+v: both a refresh token and a username", b, c)
		}
	})
}

func TestParseRepository(t *testing.T) {
	for _, tc := range []struct {
		in         string
		host, name string
	}{
		{"127.0.0.1:5000/kheaders/x86", "127.0.0.1:5000", "kheaders/x86"},
		{"registry.example/a.b_c__d--e", "registry.example", "a.b_c__d--e"},
		{"[::1]:5000/k", "[::1]:5000", "k"},
		{"Not/Lower", "", ""},
		{"h/k:tag", "", ""},
		{"h:5000/k@sha256:00", "", ""},
		{"h/a..b", "", ""},
		{"h/-a", "", ""},
		{"h/a_", "", ""},
		{"h/a___b", "", ""},
		{"h//a", "", ""},
		{"noslash", "", ""},
		{"us er@h/k", "", ""},
	} {
		h, n, err := parseRepository(tc.in)
		if h != tc.host || n != tc.name || (err == nil) != (tc.host != "") {
			t.Errorf("parseRepository(%q) = %q, %q, %v; want %q, %q", tc.in, h, n, err, tc.host, tc.name)
		}
	}
}

func FuzzParseRepository(f *testing.F) {
	f.Add("127.0.0.1:5000/kheaders/x86")
	f.Add("h/a.b_c__d--e")
	f.Add("Not/Lower")
	f.Fuzz(func(t *testing.T, s string) {
		h, n, err := parseRepository(s)
		if err == nil && (h+"/"+n != s || strings.ContainsAny(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZ:@ ")) {
			t.Fatalf("parseRepository(%q) = %q, %q", s, h, n)
		}
	})
}

// FuzzRetryAfter: whatever a registry sends as Retry-After, the wait is
// between 0 and maxRetryWait, and a refused value asks for no wait.
func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"0", " 3 ", "3600", "-1", "99999999999999999999", "Thu, 03 Dec 2026 17:00:04 GMT", "Thursday, 03-Dec-26 17:00:02 GMT", "Thu Dec  3 17:00:01 2026", "Fri, 04 Dec 2026 17:00:00 GMT", "Mon, 01 Jan 0001 00:00:00 GMT"} {
		f.Add(s)
	}
	now := time.Date(2026, 12, 3, 17, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		resp := &http.Response{Header: http.Header{"Retry-After": {v}}}
		d, ok := retryAfter(resp, now)
		if d < 0 || d > maxRetryWait || !ok && d != 0 {
			t.Fatalf("retryAfter(%q) = %v, %v: outside [0, %v]", v, d, ok, maxRetryWait)
		}
	})
}
