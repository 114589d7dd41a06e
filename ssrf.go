package main

// The SSRF rule for every outbound request hookd makes (today Vision): no
// connection to a private, loopback, link-local, multicast, unspecified or
// otherwise non-public address. The check runs in the dialer on the address
// actually being connected to, after DNS resolution, so neither a name that
// resolves to 127.0.0.1 nor DNS rebinding between check and use can slip
// through; redirects go through the same dialer and are limited as well.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrForbiddenAddress is the error, wrapped, of a refused outbound
// connection or redirect.
var ErrForbiddenAddress = errors.New("address not allowed for outbound requests")

// nonPublicPrefixes are the ranges netip's predicates do not cover:
// "this network", carrier-grade NAT, IETF protocol assignments, benchmarking,
// reserved and broadcast, NAT64 (which can reach any IPv4 address) and the
// deprecated IPv6 site-local range.
var nonPublicPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("fec0::/10"),
}

// Outbound connection limits.
const (
	maxRedirects        = 3
	dialTimeout         = 5 * time.Second
	tlsHandshakeTimeout = 5 * time.Second
)

// IsPublicIP reports whether ip may be connected to: not private, loopback,
// link-local, multicast, unspecified, nor in nonPublicPrefixes. IPv4-mapped
// IPv6 addresses are judged as the IPv4 address they carry.
func IsPublicIP(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return false
	}
	for _, p := range nonPublicPrefixes {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// refuseNonPublic is a net.Dialer Control function: it runs for each
// resolved address just before connecting and refuses non-public ones.
func refuseNonPublic(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("outbound %s connection to %q: %w", network, address, ErrForbiddenAddress)
	}
	if !IsPublicIP(ap.Addr()) {
		return fmt.Errorf("outbound %s connection to %s: %w", network, ap.Addr(), ErrForbiddenAddress)
	}
	return nil
}

// NewSafeDialer returns a dialer that connects to public addresses only.
func NewSafeDialer() *net.Dialer {
	return &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second, Control: refuseNonPublic}
}

// NewSafeHTTPClient returns an HTTP client for outbound requests: the safe
// dialer and checkRedirect.
func NewSafeHTTPClient(timeout time.Duration) *http.Client {
	return newOutboundClient(NewSafeDialer().DialContext, checkRedirect, timeout)
}

// newOutboundClient returns an HTTP client that connects through dial only:
// no proxy (a proxy would make the dialer check the proxy instead of the
// target), timeouts on the whole request, the TLS handshake and the
// response headers, and redirects decided by redirect.
func newOutboundClient(dial func(ctx context.Context, network, addr string) (net.Conn, error),
	redirect func(*http.Request, []*http.Request) error, timeout time.Duration) *http.Client {
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           dial,
		TLSHandshakeTimeout:   tlsHandshakeTimeout,
		ResponseHeaderTimeout: timeout,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   16,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{Transport: transport, Timeout: timeout, CheckRedirect: redirect}
}

// checkRedirect follows at most maxRedirects redirects, to http(s) URLs
// whose host is not a non-public IP literal. Named hosts are checked by the
// dialer once resolved.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	if req.URL.Scheme != "https" && req.URL.Scheme != "http" {
		return fmt.Errorf("redirect to scheme %q refused", req.URL.Scheme)
	}
	if ip, ok := ParseHostIP(req.URL.Hostname()); ok && !IsPublicIP(ip) {
		return fmt.Errorf("redirect to %s: %w", ip, ErrForbiddenAddress)
	}
	return nil
}
