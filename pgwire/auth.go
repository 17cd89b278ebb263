package pgwire

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/xdg-go/scram"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/errs"
)

// Authentication methods, as in pg_hba.conf.
const (
	AuthTrust    = "trust"         // no password (loopback default)
	AuthPassword = "password"      // cleartext password (use with TLS)
	AuthMD5      = "md5"           // MD5 challenge
	AuthSCRAM    = "scram-sha-256" // SCRAM-SHA-256 (RFC 7677)
)

// scramIterations is PostgreSQL's default scram_iterations.
const scramIterations = 4096

func errAuthFailed(user string) error {
	return errs.New(errs.ErrInvalidInput, errs.CodeInvalidPassword, "password authentication failed for user %q", user)
}

// authenticate runs the configured exchange for user; nil means
// authenticated (AuthenticationOk not yet sent).
func (c *conn) authenticate(user string) error {
	method := c.srv.cfg.Auth
	if len(c.srv.cfg.HBA) > 0 {
		r, err := c.hbaRule()
		if err != nil {
			return err
		}
		if err := c.checkClientCert(r); err != nil {
			return err
		}
		method = r.Method
	}
	if method == "" || method == AuthTrust || method == AuthCert {
		return nil
	}
	password, known := c.srv.cfg.Users[user]
	if role, ok := c.srv.db.Role(user); ok { // a role of the database (CREATE ROLE … PASSWORD)
		return c.authenticateRole(method, user, role.Verifier)
	}
	switch method {
	case AuthPassword:
		c.be.Send(&pgproto3.AuthenticationCleartextPassword{})
		got, err := c.receivePassword(pgproto3.AuthTypeCleartextPassword)
		if err != nil {
			return err
		}
		if !known {
			ugnos.CheckPassword(c.srv.auth.dummyVerifier, got) // as long as a role's check
			return errAuthFailed(user)
		}
		if subtle.ConstantTimeCompare([]byte(got), []byte(password)) != 1 {
			return errAuthFailed(user)
		}
		return nil
	case AuthMD5:
		var salt [4]byte
		if _, err := rand.Read(salt[:]); err != nil {
			return err
		}
		c.be.Send(&pgproto3.AuthenticationMD5Password{Salt: salt})
		got, err := c.receivePassword(pgproto3.AuthTypeMD5Password)
		if err != nil {
			return err
		}
		want := "md5" + md5hex(md5hex(password+user)+string(salt[:]))
		if !known || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
			return errAuthFailed(user)
		}
		return nil
	case AuthSCRAM:
		creds, ok := c.srv.auth.users[user]
		if !ok {
			creds = c.srv.auth.mock(user)
		}
		return c.scram(user, creds, ok)
	}
	return errs.New(errs.ErrInvalidInput, errs.CodeInternal, "unknown authentication method %q", method)
}

// authenticateRole checks a password against a role's SCRAM verifier
// (none: every password fails). As in PostgreSQL, md5 authentication of
// a role with a SCRAM verifier runs SCRAM.
func (c *conn) authenticateRole(method, user, verifier string) error {
	if method == AuthPassword {
		c.be.Send(&pgproto3.AuthenticationCleartextPassword{})
		got, err := c.receivePassword(pgproto3.AuthTypeCleartextPassword)
		if err != nil {
			return err
		}
		if verifier == "" {
			ugnos.CheckPassword(c.srv.auth.dummyVerifier, got)
			return errAuthFailed(user)
		}
		if !ugnos.CheckPassword(verifier, got) {
			return errAuthFailed(user)
		}
		return nil
	}
	creds, err := ugnos.ParseSCRAMVerifier(verifier)
	known := err == nil
	if !known {
		creds = c.srv.auth.mock(user)
	}
	return c.scram(user, creds, known)
}

// authSecrets are what the exchanges check against, made once when the
// server starts: the SCRAM credentials of the configured users, and
// what stands in for users who have none. An unknown user (or a role
// without a password) gets an exchange that looks and takes the same as
// a known one's: a salt that stays the same across attempts (derived
// from the user name and a secret of this server, as PostgreSQL's
// scram_mock_salt), the same iterations, and no extra key derivation.
type authSecrets struct {
	users         map[string]scram.StoredCredentials
	mockKey       []byte
	mockKeys      scram.StoredCredentials // StoredKey, ServerKey of a random password
	dummyVerifier string                  // for cleartext checks of unknown users
}

func newAuthSecrets(users map[string]string) (*authSecrets, error) {
	a := &authSecrets{users: make(map[string]scram.StoredCredentials, len(users)), mockKey: make([]byte, 32)}
	if _, err := rand.Read(a.mockKey); err != nil {
		return nil, err
	}
	random := make([]byte, 32)
	if _, err := rand.Read(random); err != nil {
		return nil, err
	}
	var err error
	if a.mockKeys, err = passwordCredentials(hex.EncodeToString(random)); err != nil {
		return nil, err
	}
	if a.dummyVerifier, err = ugnos.SCRAMVerifier(hex.EncodeToString(random)); err != nil {
		return nil, err
	}
	for name, pw := range users {
		if a.users[name], err = passwordCredentials(pw); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// mock are the made-up credentials of an unknown user.
func (a *authSecrets) mock(user string) scram.StoredCredentials {
	h := hmac.New(sha256.New, a.mockKey)
	h.Write([]byte(user))
	c := a.mockKeys
	c.Salt = string(h.Sum(nil)[:16])
	return c
}

// passwordCredentials are the SCRAM credentials of a password (a fresh
// salt).
func passwordCredentials(password string) (scram.StoredCredentials, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return scram.StoredCredentials{}, err
	}
	client, err := scram.SHA256.NewClient("", password, "")
	if err != nil {
		return scram.StoredCredentials{}, err
	}
	return client.GetStoredCredentialsWithError(scram.KeyFactors{Salt: string(salt), Iters: scramIterations})
}

func md5hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

// receivePassword reads a PasswordMessage.
func (c *conn) receivePassword(authType uint32) (string, error) {
	if err := c.be.Flush(); err != nil {
		return "", err
	}
	if err := c.be.SetAuthType(authType); err != nil {
		return "", err
	}
	msg, err := c.be.Receive()
	if err != nil {
		return "", err
	}
	pm, ok := msg.(*pgproto3.PasswordMessage)
	if !ok {
		return "", errs.New(errs.ErrInvalidInput, "08P01", "expected a password message, got %T", msg)
	}
	return pm.Password, nil
}

// scram runs SCRAM-SHA-256 as PostgreSQL does: the user name in the
// client's first message is ignored (the start-up packet's counts). An
// unknown user goes through the exchange with made-up credentials, so the
// answer does not tell which users exist.
func (c *conn) scram(user string, creds scram.StoredCredentials, known bool) error {
	server, err := scram.SHA256.NewServer(func(string) (scram.StoredCredentials, error) { return creds, nil })
	if err != nil {
		return err
	}
	conv := server.NewConversation()
	c.be.Send(&pgproto3.AuthenticationSASL{AuthMechanisms: []string{"SCRAM-SHA-256"}})
	if err := c.be.Flush(); err != nil {
		return err
	}
	if err := c.be.SetAuthType(pgproto3.AuthTypeSASL); err != nil {
		return err
	}
	msg, err := c.be.Receive()
	if err != nil {
		return err
	}
	first, ok := msg.(*pgproto3.SASLInitialResponse)
	if !ok || first.AuthMechanism != "SCRAM-SHA-256" {
		return errs.New(errs.ErrInvalidInput, "08P01", "expected SASLInitialResponse for SCRAM-SHA-256")
	}
	serverFirst, err := conv.Step(string(first.Data))
	if err != nil {
		return errAuthFailed(user)
	}
	c.be.Send(&pgproto3.AuthenticationSASLContinue{Data: []byte(serverFirst)})
	if err := c.be.Flush(); err != nil {
		return err
	}
	if err := c.be.SetAuthType(pgproto3.AuthTypeSASLContinue); err != nil {
		return err
	}
	if msg, err = c.be.Receive(); err != nil {
		return err
	}
	final, ok := msg.(*pgproto3.SASLResponse)
	if !ok {
		return errs.New(errs.ErrInvalidInput, "08P01", "expected SASLResponse")
	}
	serverFinal, err := conv.Step(string(final.Data))
	if err != nil || !conv.Valid() || !known {
		return errAuthFailed(user)
	}
	c.be.Send(&pgproto3.AuthenticationSASLFinal{Data: []byte(serverFinal)})
	return nil
}

// CheckAuth validates an authentication configuration.
func CheckAuth(method string, users map[string]string, hba []HBARule) error {
	if len(hba) > 0 { // the rules say; passwords may be the roles'
		return nil
	}
	switch method {
	case "", AuthTrust:
		return nil
	case AuthPassword, AuthMD5, AuthSCRAM:
		if len(users) == 0 {
			return fmt.Errorf("authentication %q needs at least one user with a password", method)
		}
		return nil
	}
	return errors.New("authentication must be trust, password, md5 or scram-sha-256")
}
