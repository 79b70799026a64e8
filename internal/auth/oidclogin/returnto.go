package oidclogin

import (
	"fmt"
	"net/url"
	"strings"
)

// MaxReturnTo bounds the length of a return_to path.
const MaxReturnTo = 2048

// CheckReturnTo validates the optional return_to of a login: after the
// login the browser is sent there, so it must stay on this server (no
// open redirect). Accepted: "" (none), or a path that starts with a single
// "/", is at most MaxReturnTo bytes of printable ASCII without spaces or
// backslashes, and has no scheme, host or user info. Refused on purpose:
// "//host" and "/\host" (protocol-relative in browsers), tabs and newlines
// (browsers strip them, turning "/\t/host" into "//host"), non-ASCII
// (percent-encode it). The query and fragment are kept.
func CheckReturnTo(s string) error {
	if s == "" {
		return nil
	}
	if len(s) > MaxReturnTo {
		return fmt.Errorf("return_to is longer than %d bytes", MaxReturnTo)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return fmt.Errorf("return_to has byte %#x at %d: only printable ASCII without spaces or backslashes", c, i)
		}
	}
	if s[0] != '/' || strings.HasPrefix(s, "//") {
		return fmt.Errorf("return_to %q is not a path starting with a single /", s)
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("return_to: %w", err)
	}
	if u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return fmt.Errorf("return_to %q names another origin", s)
	}
	return nil
}
