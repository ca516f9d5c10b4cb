package markup

import (
	"html/template"
	"strings"
	"testing"
)

// Text escapes as html/template does, byte for byte.
func TestEscapeAsHTMLTemplate(t *testing.T) {
	tmpl := template.Must(template.New("").Parse(`<p title="{{.}}">{{.}}</p>`))
	for _, s := range []string{"", "plain", `<script>alert(1)</script>"'&`, "a+b\x00c", "é \u2028 </ <!--", "\xff\xfe"} {
		var want strings.Builder
		if err := tmpl.Execute(&want, s); err != nil {
			t.Fatal(err)
		}
		var b Builder
		b.Raw(`<p title="`)
		b.Text(s)
		b.Raw(`">`)
		b.Text(s)
		b.Raw(`</p>`)
		if b.String() != want.String() {
			t.Errorf("%q: %q, want %q", s, b.String(), want.String())
		}
	}
}

// URL lets through relative references and the pages' schemes, normalised
// as html/template normalises them, and nothing else.
func TestURL(t *testing.T) {
	tmpl := template.Must(template.New("").Parse(`<a href="{{.}}">`))
	for _, tc := range []struct{ in, want string }{
		{"/catalog/x.torrent", "/catalog/x.torrent"},
		{"/catalog/a b\"'<>().torrent?key=1&x=2", "/catalog/a%20b%22%27%3c%3e%28%29.torrent?key=1&x=2"},
		{"http://h:6969/announce", "http://h:6969/announce"},
		{"HTTPS://h/é", "HTTPS://h/%c3%a9"},
		{"udp://[fd00::1]:6969/announce", "udp://[fd00::1]:6969/announce"},
		{"magnet:?xt=urn:btih:x&dn=a b", "magnet:?xt=urn:btih:x&dn=a%20b"},
		{"javascript:alert(1)", Unsafe},
		{" javascript:alert(1)", Unsafe},
		{"JavaScript:alert(1)", Unsafe},
		{"data:text/html,<script>", Unsafe},
		{"vbscript:x", Unsafe},
		{"a/b:c", "a/b:c"},
		{"", ""},
	} {
		if got := URL(tc.in); got != tc.want {
			t.Errorf("URL(%q) = %q, want %q", tc.in, got, tc.want)
		}
		// Where html/template lets a URL through, the two agree byte for byte.
		var b Builder
		b.Raw(`<a href="`)
		b.URL(tc.in)
		b.Raw(`">`)
		var want strings.Builder
		tmpl.Execute(&want, tc.in)
		if !strings.Contains(want.String(), "ZgotmplZ") && b.String() != want.String() {
			t.Errorf("%q: %q, html/template %q", tc.in, b.String(), want.String())
		}
	}
}
