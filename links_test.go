package main

import (
	"slices"
	"strings"
	"testing"
)

// reasons returns the reasons of findings.
func reasons(findings []LinkFinding) []string {
	var out []string
	for _, f := range findings {
		out = append(out, f.Reason)
	}
	return out
}

func TestAnalyzeLink(t *testing.T) {
	long := "https://acme.example/" + strings.Repeat("a", maxLinkLength)
	blocklist := DomainBlocklist([]string{"evil.example"})
	tests := []struct {
		name, link string
		want       []string
	}{
		{"plain company link", "https://acme.example/careers?team=go#apply", nil},
		{"no scheme, with port", "acme.example:8080/jobs", nil},
		{"javascript scheme", "javascript:alert(1)", []string{"link scheme not allowed: javascript:"}},
		{"javascript scheme in mixed case", "JaVaScRiPt:alert(1)", []string{"link scheme not allowed: javascript:"}},
		{"javascript scheme split by a tab", "java\tscript:alert(1)", []string{"link scheme not allowed: javascript:"}},
		{"data scheme", "data:text/html;base64,PHNjcmlwdD4=", []string{"link scheme not allowed: data:"}},
		{"file scheme", "file:///etc/passwd", []string{"link scheme not allowed: file:"}},
		{"vbscript scheme", "vbscript:msgbox(1)", []string{"link scheme not allowed: vbscript:"}},
		{"ftp scheme", "ftp://files.example/x", []string{"link scheme not allowed: ftp:"}},
		{"dotted IPv4", "http://192.168.1.1/login", []string{"IP address link: 192.168.1.1"}},
		{"IPv6", "http://[2001:db8::1]:8080/x", []string{"IP address link: 2001:db8::1"}},
		{"IPv4-mapped IPv6", "http://[::ffff:127.0.0.1]/", []string{"IP address link: 127.0.0.1 (written ::ffff:127.0.0.1)"}},
		{"decimal IPv4", "http://2130706433/", []string{"IP address link: 127.0.0.1 (written 2130706433)"}},
		{"hex IPv4", "http://0x7f000001/", []string{"IP address link: 127.0.0.1 (written 0x7f000001)"}},
		{"octal IPv4", "http://0177.0.0.01/", []string{"IP address link: 127.0.0.1 (written 0177.0.0.01)"}},
		{"short IPv4", "http://127.1/", []string{"IP address link: 127.0.0.1 (written 127.1)"}},
		{"mixed-notation IPv4", "http://0xa9.254.0251.254/latest/meta-data", []string{"IP address link: 169.254.169.254 (written 0xa9.254.0251.254)"}},
		{"punycode", "https://xn--pypal-4ve.com/login", []string{"punycode domain: xn--pypal-4ve.com"}},
		{"mixed-script homoglyph", "https://pаypal.com/", []string{"mixed-script domain: pаypal.com"}},
		{"single-script non-ASCII", "https://пример.рф/", []string{"non-ASCII domain: пример.рф"}},
		{"shortener", "https://bit.ly/3xYz", []string{"link shortener: bit.ly"}},
		{"shortener subdomain without scheme", "www.bit.ly/3xYz", []string{"link shortener: bit.ly"}},
		{"built-in blocklist", "https://grabify.link/ABC", []string{"blocked domain: grabify.link"}},
		{"BLOCKED_DOMAINS subdomain", "https://a.b.evil.example./x", []string{"blocked domain: evil.example"}},
		{"blocklist needs a label boundary", "https://notevil.example/", nil},
		{"userinfo", "https://paypal.com@evil.example/", []string{"link hides its host behind user info: evil.example", "blocked domain: evil.example"}},
		{"userinfo with password", "https://paypal.com:secure@203.0.113.9/", []string{"link hides its host behind user info: 203.0.113.9", "IP address link: 203.0.113.9"}},
		{"backslash read as slash", `https://evil.example\@acme.example/`, []string{"blocked domain: evil.example"}},
		{"percent-encoded host", "https://%62it.ly/x", []string{"percent-encoded host: bit.ly", "link shortener: bit.ly"}},
		{"over-long", long, []string{"over-long link: 2021 characters"}},
		{"malformed", "http://%zz", []string{"malformed link: http://%zz"}},
		{"no host", "https://", []string{"malformed link: https://"}},
	}
	for _, tt := range tests {
		if got := reasons(AnalyzeLink(tt.link, blocklist)); !slices.Equal(got, tt.want) {
			t.Errorf("%s: AnalyzeLink(%q) = %q, want %q", tt.name, tt.link, got, tt.want)
		}
	}
}

func TestParseHostIP(t *testing.T) {
	tests := []struct {
		host string
		want string // "" = not an address
	}{
		{"127.0.0.1", "127.0.0.1"},
		{"2130706433", "127.0.0.1"},
		{"0x7f000001", "127.0.0.1"},
		{"0X7F.1", "127.0.0.1"},
		{"017700000001", "127.0.0.1"},
		{"127.000.000.001", "127.0.0.1"},
		{"10.1", "10.0.0.1"},
		{"192.168.257", "192.168.1.1"},
		{"[::1]", "::1"},
		{"0", "0.0.0.0"},
		{"4294967296", ""},
		{"256.1.1.1", ""},
		{"1.2.3.4.5", ""},
		{"08.1.1.1", ""},
		{"0x", ""},
		{"acme.example", ""},
		{"1e5", ""},
		{"", ""},
	}
	for _, tt := range tests {
		ip, ok := ParseHostIP(tt.host)
		got := ""
		if ok {
			got = ip.String()
		}
		if got != tt.want {
			t.Errorf("ParseHostIP(%q) = %q, want %q", tt.host, got, tt.want)
		}
	}
}

func TestPostLinks(t *testing.T) {
	p := PostContent{
		Content: "See https://a.example/1, www.b.example/2. JavaScript: 5 years. Again https://a.example/1! open data:text/html,x file:/etc/hosts https://a.example/1",
		Links:   []string{"https://a.example/1", " https://c.example/3 "},
	}
	want := []PostLink{
		{"https://a.example/1", 3}, {"https://c.example/3", 1}, {"www.b.example/2", 1},
		{"data:text/html,x", 1}, {"file:/etc/hosts", 1},
	}
	if got := PostLinks(p); !slices.Equal(got, want) {
		t.Errorf("PostLinks = %v, want %v", got, want)
	}
}

func TestImageURLProblem(t *testing.T) {
	tests := []struct{ url, want string }{
		{"https://cdn.acme.example/a.png", ""},
		{" https://cdn.acme.example/a.png ", ""},
		{"http://cdn.acme.example/a.png", "not https"},
		{"ftp://cdn.acme.example/a.png", "not https"},
		{"data:image/png;base64,AAAA", "not a valid URL"},
		{"https://127.0.0.1/a.png", "IP address host"},
		{"https://[::1]/a.png", "IP address host"},
		{"https://10.0.0.8/a.png", "IP address host"},
		{"https://169.254.169.254/latest", "IP address host"},
		{"https://0x7f000001/a.png", "IP address host"},
		{"https://8.8.8.8/a.png", "IP address host"},
		{"https://localhost/a.png", "internal host name"},
		{"https://api.localhost/a.png", "internal host name"},
		{"https://intranet/a.png", "internal host name"},
		{"https://printer.local/a.png", "internal host name"},
		{"https://metadata.google.internal/a.png", "internal host name"},
		{"https://user:pw@cdn.acme.example/a.png", "user info in URL"},
		{"https://%zz/a.png", "not a valid URL"},
	}
	for _, tt := range tests {
		if got := ImageURLProblem(tt.url); got != tt.want {
			t.Errorf("ImageURLProblem(%q) = %q, want %q", tt.url, got, tt.want)
		}
	}
}

// FuzzAnalyzeLink: the link parser never panics on any input, is
// deterministic, and every finding has a non-empty, valid reason with a
// positive weight; an IP host it reports is one ParseHostIP reads.
func FuzzAnalyzeLink(f *testing.F) {
	for _, seed := range []string{
		"https://acme.example/careers", "javascript:alert(1)", "http://0x7f000001/", "http://[::1]:80/",
		"https://paypal.com@evil.example/", "https://pаypal.com/", "https://xn--pypal-4ve.com",
		"http://%zz", `https://a\@b/`, "www.bit.ly/x", "0177.0.0.1", "http://4294967296/", "data:,x",
		"http://[fe80::1%25eth0]/", "https://" + strings.Repeat("a.", 1100),
	} {
		f.Add(seed)
	}
	blocklist := DomainBlocklist([]string{"evil.example"})
	f.Fuzz(func(t *testing.T, link string) {
		got := AnalyzeLink(link, blocklist)
		if again := AnalyzeLink(link, blocklist); !slices.Equal(got, again) {
			t.Fatalf("AnalyzeLink(%q) not deterministic: %v then %v", link, got, again)
		}
		for _, f := range got {
			if f.Reason == "" || f.Weight <= 0 {
				t.Fatalf("AnalyzeLink(%q): bad finding %+v", link, f)
			}
		}
		for _, l := range PostLinks(PostContent{Content: link, Links: []string{link}}) {
			if l.Count < 1 || l.URL == "" {
				t.Fatalf("PostLinks(%q): bad link %+v", link, l)
			}
		}
		if ip, ok := ParseHostIP(link); ok && !ip.IsValid() {
			t.Fatalf("ParseHostIP(%q) = invalid address %v", link, ip)
		}
		_ = ImageURLProblem(link)
	})
}
