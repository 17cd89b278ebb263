package pgwire

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/ugnos/ugnos/errs"
)

// Host-based authentication: which clients may connect, to which
// databases, as which users, and how they authenticate, in the format
// of PostgreSQL's pg_hba.conf (the connection types PostgreSQL has over
// TCP):
//
//	# TYPE     DATABASE  USER   ADDRESS        METHOD         [OPTIONS]
//	hostssl    all       all    0.0.0.0/0      scram-sha-256
//	host       all       all    127.0.0.1/32   trust
//	hostssl    acme      all    10.0.0.0/8     cert
//	host       all       all    all            reject
//
// The first line whose type, database, user and address match the
// connection decides; when none does, the connection is refused (28000,
// "no pg_hba.conf entry …"), as is one matched by reject. Types: host
// (TLS or not), hostssl (TLS only), hostnossl (no TLS). DATABASE and USER
// are all or comma-separated names; ADDRESS is all or an address in CIDR
// form (a bare IP address means just that address). Methods: trust,
// reject, password, md5, scram-sha-256 (as Config.Auth) and cert: the
// client's TLS certificate, verified against the configured client CAs,
// must name the user as its common name (CN). The option
// clientcert=verify-ca or clientcert=verify-full asks a password method
// for a verified certificate too (verify-full: naming the user).

// HBA methods beyond Config.Auth's.
const (
	AuthReject = "reject"
	AuthCert   = "cert"
)

// HBARule is one line of a pg_hba.conf-style configuration.
type HBARule struct {
	Line       int    // in the text it was parsed from
	Type       string // host, hostssl, hostnossl
	Databases  []string
	Users      []string
	Net        *net.IPNet // nil: all
	Method     string
	ClientCert string // "", verify-ca, verify-full
}

// ParseHBA reads rules in pg_hba.conf format ('#' starts a comment).
func ParseHBA(text string) ([]HBARule, error) {
	var rules []HBARule
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		bad := func(format string, a ...any) error {
			return fmt.Errorf("hba line %d: %s", n, fmt.Sprintf(format, a...))
		}
		if len(f) < 5 {
			return nil, bad("want TYPE DATABASE USER ADDRESS METHOD [OPTIONS], got %d fields", len(f))
		}
		r := HBARule{Line: n, Type: f[0], Databases: strings.Split(f[1], ","), Users: strings.Split(f[2], ","), Method: f[4]}
		switch r.Type {
		case "host", "hostssl", "hostnossl":
		case "local":
			return nil, bad("local (Unix-domain socket) connections are not served; use host")
		default:
			return nil, bad("unknown connection type %q (host, hostssl or hostnossl)", r.Type)
		}
		if f[3] != "all" {
			addr := f[3]
			if !strings.Contains(addr, "/") {
				ip := net.ParseIP(addr)
				if ip == nil {
					return nil, bad("address %q is not an IP address, a CIDR range or all (host names are not supported)", addr)
				}
				bits := 32
				if ip.To4() == nil {
					bits = 128
				}
				addr = fmt.Sprintf("%s/%d", addr, bits)
			}
			_, ipnet, err := net.ParseCIDR(addr)
			if err != nil {
				return nil, bad("address %q: %v", f[3], err)
			}
			r.Net = ipnet
		}
		switch r.Method {
		case AuthTrust, AuthReject, AuthPassword, AuthMD5, AuthSCRAM, AuthCert:
		default:
			return nil, bad("unknown method %q (trust, reject, password, md5, scram-sha-256 or cert)", r.Method)
		}
		if r.Method == AuthCert && r.Type != "hostssl" {
			return nil, bad("cert authentication is only available for hostssl connections")
		}
		for _, o := range f[5:] {
			k, v, _ := strings.Cut(o, "=")
			if k != "clientcert" || (v != "verify-ca" && v != "verify-full") {
				return nil, bad("unknown option %q (clientcert=verify-ca or clientcert=verify-full)", o)
			}
			if r.Type != "hostssl" {
				return nil, bad("clientcert can only be configured for hostssl rows")
			}
			r.ClientCert = v
		}
		rules = append(rules, r)
	}
	return rules, sc.Err()
}

func (r *HBARule) matches(database, user string, ip net.IP, ssl bool) bool {
	switch {
	case r.Type == "hostssl" && !ssl, r.Type == "hostnossl" && ssl:
		return false
	case !slices.Contains(r.Databases, "all") && !slices.Contains(r.Databases, database):
		return false
	case !slices.Contains(r.Users, "all") && !slices.Contains(r.Users, user):
		return false
	case r.Net != nil && (ip == nil || !r.Net.Contains(ip)):
		return false
	}
	return true
}

// hbaRule finds the rule that decides the connection.
func (c *conn) hbaRule() (*HBARule, error) {
	var ip net.IP
	if a, ok := c.nc.RemoteAddr().(*net.TCPAddr); ok {
		ip = a.IP
	}
	enc := "no encryption"
	if c.tls {
		enc = "SSL encryption"
	}
	for i := range c.srv.cfg.HBA {
		r := &c.srv.cfg.HBA[i]
		if !r.matches(c.tenant, c.user, ip, c.tls) {
			continue
		}
		if r.Method == AuthReject {
			return nil, errs.New(errs.ErrPermissionDenied, "28000", "pg_hba.conf rejects connection for host %q, user %q, database %q, %s", ip.String(), c.user, c.tenant, enc)
		}
		return r, nil
	}
	return nil, errs.New(errs.ErrPermissionDenied, "28000", "no pg_hba.conf entry for host %q, user %q, database %q, %s", ip.String(), c.user, c.tenant, enc)
}

// checkClientCert checks the client's certificate where the rule asks
// for one: verified against the client CAs, and for cert and
// clientcert=verify-full naming the user as its common name.
func (c *conn) checkClientCert(r *HBARule) error {
	if r.Method != AuthCert && r.ClientCert == "" {
		return nil
	}
	fail := errs.New(errs.ErrPermissionDenied, "28000", "certificate authentication failed for user %q", c.user)
	tc, ok := c.nc.(*tls.Conn)
	if !ok {
		return fail
	}
	st := tc.ConnectionState()
	if len(st.VerifiedChains) == 0 || len(st.PeerCertificates) == 0 {
		return errs.New(errs.ErrPermissionDenied, "28000", "connection requires a valid client certificate")
	}
	if (r.Method == AuthCert || r.ClientCert == "verify-full") && st.PeerCertificates[0].Subject.CommonName != c.user {
		return fail
	}
	return nil
}
