// Package markup writes HTML by hand: the program's own markup as is, every
// value that comes from elsewhere escaped. It stands in for html/template,
// whose reflection-driven field lookup (reflect.Value.MethodByName) makes the
// linker keep every exported method of every reachable type: megabytes of
// binary, and so of locked memory, on a Raspberry Pi.
//
// The escaping is html/template's, so a page reads byte for byte as it did:
// Text for element text and quoted attribute values, URL for href and src.
// Neither is for unquoted attributes, scripts or styles.
package markup

import (
	"strconv"
	"strings"
)

// A Builder collects a page. The zero value is ready to use.
type Builder struct{ strings.Builder }

// Raw writes markup as is: the program's own text, never a value from outside.
func (b *Builder) Raw(s ...string) {
	for _, p := range s {
		b.WriteString(p)
	}
}

// Text writes s escaped, for element text or a quoted attribute value.
func (b *Builder) Text(s string) { escaper.WriteString(&b.Builder, s) }

// Int writes n in decimal.
func (b *Builder) Int(n int64) { b.WriteString(strconv.FormatInt(n, 10)) }

// URL writes s for a quoted href or src attribute: see URL.
func (b *Builder) URL(s string) { b.Text(URL(s)) }

// escaper is html/template's table for text and quoted attribute values
// (htmlReplacementTable): html.EscapeString's five, and "+" and NUL as it
// spells them.
var escaper = strings.NewReplacer(
	"\x00", "\uFFFD",
	`"`, "&#34;",
	"&", "&amp;",
	"'", "&#39;",
	"+", "&#43;",
	"<", "&lt;",
	">", "&gt;",
)

// Escape is s escaped for element text or a quoted attribute value.
func Escape(s string) string { return escaper.Replace(s) }

// Unsafe is what URL gives in place of a URL of a scheme it does not let
// through: a link to nowhere on the page.
const Unsafe = "#"

// URL is s as a link's address, not yet escaped for HTML (Builder.URL and
// Text do that): a relative reference, or an absolute URL of a scheme the
// pages use (http, https, udp, magnet); anything else, javascript: and data:
// among them, is Unsafe. Bytes a URL may not hold are %-encoded, as
// html/template normalises them; "%" and the reserved characters are kept.
func URL(s string) string {
	if i := strings.IndexByte(s, ':'); i >= 0 && !strings.Contains(s[:i], "/") {
		switch strings.ToLower(s[:i]) {
		case "http", "https", "udp", "magnet":
		default:
			return Unsafe
		}
	}
	var b strings.Builder
	written := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			continue
		case strings.IndexByte("!#$&*+,/:;=?@[]-._~%", c) >= 0:
			continue
		}
		if written == 0 {
			b.Grow(len(s) + 16)
		}
		b.WriteString(s[written:i])
		b.WriteByte('%')
		b.WriteByte("0123456789abcdef"[c>>4])
		b.WriteByte("0123456789abcdef"[c&15])
		written = i + 1
	}
	if written == 0 {
		return s
	}
	b.WriteString(s[written:])
	return b.String()
}
