package pgwire

import (
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/errs"
)

// setting is a run-time parameter a session can SET and SHOW.
type setting struct {
	name   string // as PostgreSQL spells it (SHOW ALL, ParameterStatus)
	def    string
	report bool // sent as ParameterStatus when it changes
	desc   string
	// check validates and normalises a new value.
	check func(v string) (string, error)
}

// anyValue accepts any text, as PostgreSQL's string settings do, but not
// invalid UTF-8 or NUL (22021): values are shown by SHOW and the catalogs.
func anyValue(v string) (string, error) {
	if !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
		return "", errs.New(errs.ErrInvalidInput, "22021", "invalid byte sequence for encoding \"UTF8\" in a setting's value")
	}
	return v, nil
}

// cleanASCII is PostgreSQL's check of application_name (pg_clean_ascii):
// bytes other than printable ASCII become '?'.
func cleanASCII(v string) (string, error) {
	b := []byte(v)
	for i, c := range b {
		if c < 32 || c > 126 {
			b[i] = '?'
		}
	}
	return string(b), nil
}

var settings = []*setting{
	{name: "application_name", def: "", report: true, desc: "Sets the application name to be reported in statistics and logs.", check: cleanASCII},
	{name: "client_encoding", def: "UTF8", report: true, desc: "Sets the client's character set encoding.", check: func(v string) (string, error) {
		switch strings.ToUpper(strings.ReplaceAll(v, "-", "")) {
		case "UTF8", "UNICODE":
			return "UTF8", nil
		}
		return "", errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "client_encoding %q is not supported; ugnos speaks UTF8", v)
	}},
	{name: "DateStyle", def: "ISO, MDY", report: true, desc: "Sets the display format for date and time values.", check: func(v string) (string, error) {
		u := strings.ToUpper(v)
		if !strings.Contains(u, "ISO") && strings.TrimSpace(u) != "MDY" && strings.TrimSpace(u) != "DMY" && strings.TrimSpace(u) != "YMD" {
			return "", errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "DateStyle %q is not supported; ugnos writes ISO dates", v)
		}
		order := "MDY"
		for _, o := range []string{"DMY", "YMD", "MDY"} {
			if strings.Contains(u, o) {
				order = o
			}
		}
		return "ISO, " + order, nil
	}},
	{name: "default_transaction_read_only", def: "off", report: true, desc: "Sets the default read-only status of new transactions.", check: boolSetting},
	{name: "extra_float_digits", def: "1", desc: "Sets the number of digits displayed for floating-point values.", check: func(v string) (string, error) {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < -15 || n > 3 {
			return "", errs.New(errs.ErrInvalidInput, errs.CodeInvalidParameter, "invalid value for parameter \"extra_float_digits\": %q", v)
		}
		return strconv.Itoa(n), nil
	}},
	{name: "in_hot_standby", def: "off", report: true, desc: "Shows whether hot standby is currently active."},
	{name: "integer_datetimes", def: "on", report: true, desc: "Shows whether datetimes are integer based."},
	{name: "IntervalStyle", def: "postgres", report: true, desc: "Sets the display format for interval values.", check: func(v string) (string, error) {
		if strings.EqualFold(strings.TrimSpace(v), "postgres") {
			return "postgres", nil
		}
		return "", errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "IntervalStyle %q is not supported", v)
	}},
	{name: "is_superuser", def: "on", report: true, desc: "Shows whether the current user is a superuser."},
	{name: "search_path", def: `"$user", public`, desc: "Sets the schema search order for names that are not schema-qualified.", check: anyValue},
	{name: "server_encoding", def: "UTF8", report: true, desc: "Shows the server (database) character set encoding."},
	{name: "server_version", def: "", report: true, desc: "Shows the server version."},
	{name: "server_version_num", def: "150000", desc: "Shows the server version as an integer."},
	{name: "session_authorization", def: "", report: true, desc: "Sets the session user name."},
	{name: "standard_conforming_strings", def: "on", report: true, desc: "Causes '...' strings to treat backslashes literally.", check: func(v string) (string, error) {
		b, err := boolSetting(v)
		if err == nil && b != "on" {
			return "", errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "standard_conforming_strings = off is not supported")
		}
		return b, err
	}},
	{name: "statement_timeout", def: "0", desc: "Sets the maximum allowed duration of any statement.", check: durationSetting},
	{name: "TimeZone", def: "UTC", report: true, desc: "Sets the time zone for displaying and interpreting time stamps.", check: func(v string) (string, error) {
		if _, err := loadZone(v); err != nil {
			return "", err
		}
		return v, nil
	}},
	{name: "transaction_isolation", def: "read committed", desc: "Sets the current transaction's isolation level.", check: anyValue},
	{name: "default_transaction_isolation", def: "read committed", desc: "Sets the transaction isolation level of each new transaction.", check: anyValue},
	{name: "max_identifier_length", def: "63", desc: "Shows the maximum identifier length."},
	{name: "lc_collate", def: "C", desc: "Shows the collation order locale."},
	{name: "lc_ctype", def: "C", desc: "Shows the character classification and case conversion locale."},
	{name: "lc_messages", def: "C", desc: "Sets the language in which messages are displayed.", check: anyValue},
	{name: "lc_monetary", def: "C", desc: "Sets the locale for formatting monetary amounts.", check: anyValue},
	{name: "lc_numeric", def: "C", desc: "Sets the locale for formatting numbers.", check: anyValue},
	{name: "lc_time", def: "C", desc: "Sets the locale for formatting date and time values.", check: anyValue},
	{name: "client_min_messages", def: "notice", desc: "Sets the message levels that are sent to the client.", check: anyValue},
	{name: "bytea_output", def: "hex", desc: "Sets the output format for bytea.", check: anyValue},
	{name: "default_transaction_deferrable", def: "off", desc: "Sets the default deferrable status of new serializable transactions.", check: boolSetting},
	{name: "transaction_read_only", def: "off", desc: "Sets the current transaction's read-only status.", check: boolSetting},
	{name: "lock_timeout", def: "0", desc: "Sets the maximum allowed duration of any wait for a lock.", check: durationSetting},
	{name: "idle_in_transaction_session_timeout", def: "0", desc: "Sets the maximum allowed idle time between queries, when in a transaction.", check: durationSetting},
	{name: "synchronous_commit", def: "on", desc: "Sets the current transaction's synchronization level.", check: anyValue},
	{name: "jit", def: "off", desc: "Allow JIT compilation.", check: boolSetting},
	{name: "work_mem", def: "4MB", desc: "Sets the maximum memory to be used for query workspaces.", check: anyValue},
	{name: "row_security", def: "on", desc: "Enable row security.", check: boolSetting},
	{name: "escape_string_warning", def: "on", desc: "Warn about backslash escapes in ordinary string literals.", check: boolSetting},
	{name: "timezone_abbreviations", def: "Default", desc: "Selects a file of time zone abbreviations.", check: anyValue},
	{name: "max_connections", def: "1000", desc: "Sets the maximum number of concurrent connections."},
	{name: "block_size", def: "8192", desc: "Shows the size of a disk block."},
}

var settingByName = func() map[string]*setting {
	m := map[string]*setting{}
	for _, s := range settings {
		m[strings.ToLower(s.name)] = s
	}
	return m
}()

func boolSetting(v string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "on", "true", "yes", "1", "t", "y":
		return "on", nil
	case "off", "false", "no", "0", "f", "n":
		return "off", nil
	}
	return "", errs.New(errs.ErrInvalidInput, errs.CodeInvalidParameter, "parameter requires a Boolean value, not %q", v)
}

// durationSetting normalises a time setting given in ms (a bare number)
// or with a unit (ms, s, min, h, d).
func durationSetting(v string) (string, error) {
	d, err := parseDuration(v)
	if err != nil {
		return "", err
	}
	if d == 0 {
		return "0", nil
	}
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s", nil
	}
	return strconv.FormatInt(int64(d/time.Millisecond), 10) + "ms", nil
}

func parseDuration(v string) (time.Duration, error) {
	s := strings.TrimSpace(strings.ToLower(v))
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	n, err := strconv.ParseFloat(s[:i], 64)
	if err != nil || n < 0 {
		return 0, errs.New(errs.ErrInvalidInput, errs.CodeInvalidParameter, "invalid value for a time parameter: %q", v)
	}
	unit := map[string]time.Duration{"": time.Millisecond, "ms": time.Millisecond, "s": time.Second, "min": time.Minute, "h": time.Hour, "d": 24 * time.Hour, "us": time.Microsecond}
	u, ok := unit[strings.TrimSpace(s[i:])]
	if !ok {
		return 0, errs.New(errs.ErrInvalidInput, errs.CodeInvalidParameter, "invalid unit in time parameter: %q", v)
	}
	return time.Duration(n * float64(u)), nil
}

// loadZone resolves a TimeZone value: an IANA name, UTC/GMT, or a
// numeric offset in hours (PostgreSQL's POSIX sign: '+5' means UTC+5 here
// as in SET TIME ZONE 5).
func loadZone(v string) (*time.Location, error) {
	s := strings.Trim(strings.TrimSpace(v), "'")
	switch strings.ToUpper(s) {
	case "UTC", "GMT", "Z", "ZULU", "ETC/UTC", "UCT", "LOCAL", "DEFAULT":
		return time.UTC, nil
	}
	if h, err := strconv.ParseFloat(s, 64); err == nil && h >= -15 && h <= 15 {
		return time.FixedZone(s, int(h*3600)), nil
	}
	loc, err := time.LoadLocation(s)
	if err != nil {
		return nil, errs.New(errs.ErrInvalidInput, errs.CodeInvalidParameter, "invalid value for parameter \"TimeZone\": %q", v)
	}
	return loc, nil
}

// session holds a connection's settings.
type session struct {
	values map[string]string // by lower-case name
	// defaults are the database's settings (ALTER DATABASE … SET) that
	// RESET goes back to, by lower-case name
	defaults map[string]string
	// zone caches the TimeZone setting's location (loading one reads the
	// zone database): zoneOf is the setting it was loaded for
	zone   *time.Location
	zoneOf string
}

func newSession(version, user string) *session {
	s := &session{values: map[string]string{}}
	for _, st := range settings {
		s.values[strings.ToLower(st.name)] = st.def
	}
	s.values["server_version"] = version
	s.values["session_authorization"] = user
	return s
}

// set changes a setting; the result says whether to report it.
func (s *session) set(name, value string) (*setting, error) {
	st, ok := settingByName[strings.ToLower(name)]
	if ugnos.IsQuotaSetting(name) {
		return nil, errs.New(errs.ErrInvalidInput, "55P02", "parameter %q cannot be changed: it is a quota of the database (ALTER DATABASE … SET, by a superuser)", strings.ToLower(name))
	}
	if !ok {
		if strings.Contains(name, ".") { // a custom (extension) setting
			if _, err := anyValue(value); err != nil {
				return nil, err
			}
			s.values[strings.ToLower(name)] = value
			return nil, nil
		}
		return nil, errs.New(errs.ErrNotFound, errs.CodeUndefinedObject, "unrecognized configuration parameter %q", name)
	}
	if st.check == nil {
		return nil, errs.New(errs.ErrInvalidInput, "55P02", "parameter %q cannot be changed", st.name)
	}
	v, err := st.check(value)
	if err != nil {
		return nil, err
	}
	s.values[strings.ToLower(name)] = v
	return st, nil
}

func (s *session) reset(name string) (*setting, error) {
	if ugnos.IsQuotaSetting(name) {
		return nil, errs.New(errs.ErrInvalidInput, "55P02", "parameter %q cannot be changed: it is a quota of the database (ALTER DATABASE … SET, by a superuser)", strings.ToLower(name))
	}
	st, ok := settingByName[strings.ToLower(name)]
	if !ok {
		if _, custom := s.values[strings.ToLower(name)]; custom {
			delete(s.values, strings.ToLower(name))
			return nil, nil
		}
		return nil, errs.New(errs.ErrNotFound, errs.CodeUndefinedObject, "unrecognized configuration parameter %q", name)
	}
	if st.check == nil {
		return nil, errs.New(errs.ErrInvalidInput, "55P02", "parameter %q cannot be changed", st.name)
	}
	s.values[strings.ToLower(name)] = st.def
	if d, ok := s.defaults[strings.ToLower(name)]; ok {
		s.values[strings.ToLower(name)] = d
	}
	return st, nil
}

// databaseDefaults applies the database's settings: statement_timeout
// as the session's default, the ugnos.* quotas to SHOW (not settable).
func (s *session) databaseDefaults(set map[string]string) {
	s.defaults = map[string]string{}
	for name, v := range set {
		if name == "statement_timeout" && v == "0" {
			continue
		}
		s.values[name] = v
		s.defaults[name] = v
	}
}

func (s *session) get(name string) (string, error) {
	v, ok := s.values[strings.ToLower(name)]
	if !ok {
		return "", errs.New(errs.ErrNotFound, errs.CodeUndefinedObject, "unrecognized configuration parameter %q", name)
	}
	return v, nil
}

// all lists the settings sorted by name (SHOW ALL).
func (s *session) all() [][3]string {
	var out [][3]string
	for _, st := range settings {
		out = append(out, [3]string{st.name, s.values[strings.ToLower(st.name)], st.desc})
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i][0]) < strings.ToLower(out[j][0]) })
	return out
}

// encoder returns the value encoder for the current settings.
func (s *session) encoder(types *pgtype.Map) *encoder {
	e := &encoder{floatDigits: 1, types: types}
	if tz := s.values["timezone"]; tz != s.zoneOf || s.zone == nil {
		s.zone, s.zoneOf = time.UTC, tz
		if loc, err := loadZone(tz); err == nil {
			s.zone = loc
		}
	}
	if s.zone != time.UTC {
		e.loc = s.zone
	}
	e.floatDigits, _ = strconv.Atoi(s.values["extra_float_digits"])
	return e
}

// statementTimeout is the session's statement_timeout (0: none).
func (s *session) statementTimeout() time.Duration {
	d, _ := parseDuration(s.values["statement_timeout"])
	return d
}
