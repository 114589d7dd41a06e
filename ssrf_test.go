package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"testing"
	"time"
)

// The dialer refuses every non-public address before connecting. Nothing
// listens on most of these addresses: the test proves the refusal comes
// from the dialer (ErrForbiddenAddress), not from the network.
func TestSafeDialerRefusesNonPublicAddresses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	targets := []string{
		net.JoinHostPort("127.0.0.1", port), // a live listener: refused all the same
		"[::1]:80",
		"10.0.0.1:80",
		"10.255.255.254:443",
		"169.254.169.254:80",
		"0.0.0.0:80",
		"[::]:80",
		"192.168.1.1:80",
		"172.16.0.1:80",
		"[fd00::1]:80",
		"[fe80::1]:80",
		"224.0.0.1:80",
		"100.64.0.1:80",
		"[::ffff:127.0.0.1]:80",
		net.JoinHostPort("localhost", port), // a name that resolves to loopback
	}
	d := NewSafeDialer()
	for _, target := range targets {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := d.DialContext(ctx, "tcp", target)
		cancel()
		if err == nil {
			conn.Close()
			t.Errorf("dial %s: connected, want refused", target)
			continue
		}
		if !errors.Is(err, ErrForbiddenAddress) {
			t.Errorf("dial %s: %v, want ErrForbiddenAddress", target, err)
		}
	}
}

func TestIsPublicIP(t *testing.T) {
	tests := []struct {
		ip   string
		want bool
	}{
		{"8.8.8.8", true},
		{"142.250.74.110", true},
		{"2a00:1450:4007:80e::200a", true},
		{"127.0.0.1", false},
		{"127.255.255.255", false},
		{"::1", false},
		{"10.1.2.3", false},
		{"169.254.169.254", false},
		{"0.0.0.0", false},
		{"0.1.2.3", false},
		{"::", false},
		{"192.168.0.1", false},
		{"172.31.255.255", false},
		{"100.100.100.100", false},
		{"198.18.0.1", false},
		{"255.255.255.255", false},
		{"239.1.1.1", false},
		{"ff02::1", false},
		{"fe80::1", false},
		{"fc00::1", false},
		{"::ffff:10.0.0.1", false},
		{"64:ff9b::7f00:1", false},
	}
	for _, tt := range tests {
		if got := IsPublicIP(netip.MustParseAddr(tt.ip)); got != tt.want {
			t.Errorf("IsPublicIP(%s) = %v, want %v", tt.ip, got, tt.want)
		}
	}
}

// The whole HTTP client goes through the dialer: a request to a live local
// server is refused.
func TestSafeHTTPClientRefusesLoopbackServer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the local server was reached: %s %s", r.Method, r.URL)
	}))
	defer srv.Close()
	resp, err := NewSafeHTTPClient(2 * time.Second).Get(srv.URL)
	if err == nil {
		resp.Body.Close()
		t.Fatal("request to a loopback server succeeded")
	}
	if !errors.Is(err, ErrForbiddenAddress) {
		t.Errorf("request to %s: %v, want ErrForbiddenAddress", srv.URL, err)
	}
}

// Redirects to non-public IP literals, to other schemes, or past the limit
// are refused; a redirect to a public name is followed (its address is
// checked by the dialer).
func TestCheckRedirect(t *testing.T) {
	req := func(raw string) *http.Request {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("parse %q: %v", raw, err)
		}
		return &http.Request{URL: u}
	}
	one := []*http.Request{req("https://vision.example/")}
	for _, target := range []string{"http://169.254.169.254/latest/meta-data", "http://0x7f000001/", "https://[::1]/", "http://10.0.0.1/"} {
		if err := checkRedirect(req(target), one); !errors.Is(err, ErrForbiddenAddress) {
			t.Errorf("redirect to %s: %v, want ErrForbiddenAddress", target, err)
		}
	}
	if err := checkRedirect(req("file:///etc/passwd"), one); err == nil {
		t.Error("redirect to file: followed")
	}
	if err := checkRedirect(req("https://cdn.example/a"), one); err != nil {
		t.Errorf("redirect to a public name: %v", err)
	}
	three := []*http.Request{one[0], one[0], one[0]}
	if err := checkRedirect(req("https://cdn.example/a"), three); err == nil {
		t.Error("fourth redirect followed")
	}
}

// The outbound client has a whole-request timeout, header and handshake
// timeouts, and ignores proxy settings from the environment.
func TestSafeHTTPClientSettings(t *testing.T) {
	t.Setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
	c := NewVisionClient("https://vision.example/v1/images:annotate", testVisionKey).HTTP
	tr, ok := c.Transport.(*http.Transport)
	if !ok || c.Timeout != visionTimeout || tr.ResponseHeaderTimeout != visionTimeout || tr.TLSHandshakeTimeout <= 0 || c.CheckRedirect == nil {
		t.Fatalf("client %+v, transport %+v", c, tr)
	}
	if tr.Proxy != nil {
		t.Error("the outbound client uses a proxy: the dialer would check the proxy, not the target")
	}
	if err := refuseNonPublic("tcp", "8.8.8.8:443", nil); err != nil {
		t.Errorf("public address refused: %v", err)
	}
}
