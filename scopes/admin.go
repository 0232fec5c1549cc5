package scopes

import (
	"net"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// decodeAdmin decodes the admin block. A listen address other than
// loopback requires token_file, which is read here: its content, without
// surrounding white space, is the token and must not be empty.
func (l *loader) decodeAdmin(b *hcl.Block, a *Admin) {
	content, diags := b.Body.Content(adminSchema())
	l.diags = append(l.diags, diags...)
	attrs := content.Attributes
	l.listen(attrs, &a.Listen)
	l.decode(attrs, "pprof", &a.Pprof)
	var tokenFile string
	l.path(attrs, "token_file", &tokenFile)
	if tokenFile != "" {
		a.Token = l.readToken(attrs["token_file"].Expr.Range(), tokenFile)
	}
	if attrs["token_file"] == nil && !isLoopback(a.Listen) {
		l.errorf(b.DefRange, "Admin server without a token",
			"The admin server listens on %q, which is not a loopback address: set token_file to require a bearer token, or listen on 127.0.0.1.", a.Listen)
	}
}

// readToken reads the admin token from path; rng is the token_file
// expression, where problems are reported. A file that cannot be read is
// a warning when secrets may be missing.
func (l *loader) readToken(rng hcl.Range, path string) string {
	data, err := l.secrets.readFile(path)
	switch {
	case err != nil && l.secrets.allowMissing:
		l.warnf(rng, "Secret not available", "%s; using no token, which is only allowed when validating.", capitalize(err.Error()))
	case err != nil:
		l.errorf(rng, "Cannot read token_file", "%s.", capitalize(err.Error()))
	case strings.TrimSpace(string(data)) == "":
		l.errorf(rng, "Empty admin token", "The token_file %s is empty; write a random token into it, such as the output of `openssl rand -hex 32`.", path)
	}
	return strings.TrimSpace(string(data))
}

// isLoopback reports whether the host of listen (host:port) is a loopback
// address: "localhost" or an IP literal in 127.0.0.0/8 or ::1. An empty
// host binds every interface, and other names are not resolved, so both
// are not loopback.
func isLoopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
