package pace

import (
	"errors"
	"strconv"
	"time"
)

// MaxReset caps the time until a quota's reset that [Parse] reports: a
// longer one, however well formed, is read as MaxReset. Providers' windows
// are a minute, an hour or a day; a reset further off than a day is a fault,
// and pacing to it would stall the client.
const MaxReset = 24 * time.Hour

// maxCount caps the counts that Parse reports (limits and remainders): a
// larger one is read as maxCount, far more than any quota holds and small
// enough that no sum of counts overflows.
const maxCount = 1 << 53

// Limit is what an answer said about one dimension of the client's quota:
// requests, or model tokens.
type Limit struct {
	// Limit is the quota: what the service grants per window, as it said;
	// zero if it did not say.
	Limit int64

	// Remaining is how many units the client may still spend before Reset.
	Remaining int64

	// Reset is how long after the answer the quota is restored: until the
	// window ends, or the spent units have come back. Zero means it already
	// has been, so that Remaining no longer binds.
	Reset time.Duration

	// Known reports whether the answer said both Remaining and Reset. A
	// Limit that is not Known says nothing, whatever its other fields hold.
	Known bool
}

// Quota is what an answer said about the client's quota with the service, in
// its two dimensions: requests, and model tokens. A dimension the answer did
// not speak of is not Known. The zero Quota says nothing.
type Quota struct {
	Requests Limit
	Tokens   Limit
}

// The header names that Parse reads, in canonical form.
var (
	openAINames = [numDims][3]string{ // limit, remaining, reset
		{"X-Ratelimit-Limit-Requests", "X-Ratelimit-Remaining-Requests", "X-Ratelimit-Reset-Requests"},
		{"X-Ratelimit-Limit-Tokens", "X-Ratelimit-Remaining-Tokens", "X-Ratelimit-Reset-Tokens"},
	}
	anthropicNames = [4][3]string{
		{"Anthropic-Ratelimit-Requests-Limit", "Anthropic-Ratelimit-Requests-Remaining", "Anthropic-Ratelimit-Requests-Reset"},
		{"Anthropic-Ratelimit-Tokens-Limit", "Anthropic-Ratelimit-Tokens-Remaining", "Anthropic-Ratelimit-Tokens-Reset"},
		{"Anthropic-Ratelimit-Input-Tokens-Limit", "Anthropic-Ratelimit-Input-Tokens-Remaining", "Anthropic-Ratelimit-Input-Tokens-Reset"},
		{"Anthropic-Ratelimit-Output-Tokens-Limit", "Anthropic-Ratelimit-Output-Tokens-Remaining", "Anthropic-Ratelimit-Output-Tokens-Reset"},
	}
)

const (
	headerRateLimit = "Ratelimit"
	headerPolicy    = "Ratelimit-Policy"
	nameRateLimit   = "RateLimit" // as errors name them
	namePolicy      = "RateLimit-Policy"
	headerDate      = "Date"
)

// Fields is what [Parse] reads from: the header fields of an answer. An
// http.Header is one. Values returns the values of a field, given its name in
// the canonical form of net/http ("X-Ratelimit-Remaining-Tokens"); for
// another transport, a Values that matches names without regard to case
// (as gRPC's metadata.MD.Get does) will do.
type Fields interface {
	Values(name string) []string
}

// Parse reads what an answer says about the client's quota from its header
// fields, at the time now, when the answer came.
//
// It reads three families of fields, and for each dimension takes the first
// family that speaks of it, in this order:
//
//   - The IETF's RateLimit and RateLimit-Policy (draft-ietf-httpapi-
//     ratelimit-headers, from draft 07 on), Structured Field lists such as
//     `RateLimit: "default";r=50;t=30` and `RateLimit-Policy:
//     "default";q=100;w=60`. An item's r is Remaining, its t Reset in
//     seconds, or if it has none the window w of its policy (an upper bound);
//     the policy of the same name gives Limit (q) and the unit (qu): the
//     default "requests" is the requests dimension, "tokens" (not registered
//     by the draft, but how a gateway in front of a model would say it) the
//     tokens dimension, and other units are ignored. Of several items of a
//     dimension, the one that lets the fewest units through per second until
//     its reset is taken. The fields of the earlier drafts
//     (RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset) are not read:
//     deployed servers send a Unix time in RateLimit-Reset where those drafts
//     meant seconds, and the two cannot be told apart safely.
//   - OpenAI's x-ratelimit-{limit,remaining,reset}-{requests,tokens}, whose
//     resets are durations as Go writes them: one or more decimal numbers,
//     each with a unit from h, m, s, ms, us (or µs) and ns, the units in
//     that order and each at most once, such as "1s", "6m0s", "20ms" or
//     "1m30.5s"; a bare "0" is zero. No sign, space or exponent.
//   - Anthropic's anthropic-ratelimit-{requests,tokens}-{limit,remaining,
//     reset}, whose resets are RFC 3339 times. The tokens dimension is the
//     tokens fields, or where the answer has none, the input-tokens or
//     output-tokens fields, whichever has the smaller part of its limit
//     left. An absolute time depends on the two clocks agreeing: when the
//     answer's Date differs from now by more than a second, the reset is
//     counted from Date (the server's clock; up to a second late, since Date
//     has whole seconds), else from now. A reset in the past is zero.
//
// Counts must be ASCII digits. Malformed values are ignored — the header,
// or for a Structured Field the whole field — and reported in the error,
// which joins one error per fault; what was well formed is still returned.
// Parse never panics. Counts beyond 2^53 are read as 2^53, resets beyond
// [MaxReset] as MaxReset. A dimension needs both its remaining count and its
// reset to be Known. Well-formed fields are parsed without allocating.
func Parse(fields Fields, now time.Time) (Quota, error) {
	if fields == nil {
		return Quota{}, nil
	}
	var p parser
	p.fields = fields
	var q Quota
	p.ietf(&q)
	p.openAI(&q)
	p.anthropic(&q, now)
	return q, errors.Join(p.errs...)
}

type parser struct {
	fields Fields
	errs   []error
}

// value returns the first value of the field, with its surrounding spaces
// trimmed, and whether the field is present.
func (p *parser) value(name string) (string, bool) {
	vs := p.fields.Values(name)
	if len(vs) == 0 {
		return "", false
	}
	return trimOWS(vs[0]), true
}

func (p *parser) fail(name, v, why string) {
	p.errs = append(p.errs, errors.New("pace: "+name+": "+why+": "+strconv.Quote(v)))
}

// count reads the count in the field name, if present and well formed.
func (p *parser) count(name string) (int64, bool) {
	v, ok := p.value(name)
	if !ok {
		return 0, false
	}
	n, ok := parseCount(v)
	if !ok {
		p.fail(name, v, "not a count")
	}
	return n, ok
}

func (p *parser) openAI(q *Quota) {
	for d := range numDims {
		l := q.dim(Dimension(d))
		if l.Known {
			continue
		}
		names := &openAINames[d]
		limit, _ := p.count(names[0])
		remaining, hasRemaining := p.count(names[1])
		v, hasReset := p.value(names[2])
		var reset time.Duration
		if hasReset {
			var ok bool
			if reset, ok = parseDuration(v); !ok {
				p.fail(names[2], v, "not a duration")
				hasReset = false
			}
		}
		if hasRemaining && hasReset {
			*l = Limit{Limit: limit, Remaining: remaining, Reset: reset, Known: true}
		}
	}
}

func (p *parser) anthropic(q *Quota, now time.Time) {
	base := now
	if v, ok := p.value(headerDate); ok {
		// The server's clock, if it is not the client's: a reset is a time
		// on the server's clock, and counting it from the client's would
		// carry the skew into the pacing.
		if date, err := time.Parse(timeFormat, v); err == nil {
			if skew := now.Sub(date); skew > time.Second || skew < -time.Second {
				base = date
			}
		}
	}
	var lims [4]Limit
	for i := range anthropicNames {
		if i == 0 && q.Requests.Known || i > 0 && q.Tokens.Known {
			continue
		}
		names := &anthropicNames[i]
		limit, _ := p.count(names[0])
		remaining, hasRemaining := p.count(names[1])
		v, hasReset := p.value(names[2])
		var reset time.Duration
		if hasReset {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				p.fail(names[2], v, "not an RFC 3339 time")
				hasReset = false
			} else {
				reset = capReset(t.Sub(base))
			}
		}
		if hasRemaining && hasReset {
			lims[i] = Limit{Limit: limit, Remaining: remaining, Reset: reset, Known: true}
		}
	}
	if lims[0].Known {
		q.Requests = lims[0]
	}
	switch {
	case lims[1].Known:
		q.Tokens = lims[1]
	case lims[2].Known && lims[3].Known:
		q.Tokens = lims[2]
		if smallerShare(lims[3], lims[2]) {
			q.Tokens = lims[3]
		}
	case lims[2].Known:
		q.Tokens = lims[2]
	case lims[3].Known:
		q.Tokens = lims[3]
	}
}

// timeFormat is the IMF-fixdate of an HTTP Date (RFC 9110, section 5.6.7),
// as net/http's TimeFormat.
const timeFormat = "Mon, 02 Jan 2006 15:04:05 GMT"

// smallerShare reports whether a has a smaller part of its limit left than
// b, or without both limits, fewer units left.
func smallerShare(a, b Limit) bool {
	if a.Limit > 0 && b.Limit > 0 {
		return a.Remaining*b.Limit < b.Remaining*a.Limit // both below 2^53: no overflow
	}
	return a.Remaining < b.Remaining
}

// slower reports whether a lets fewer units through per second until its
// reset than b: a.Remaining/a.Reset < b.Remaining/b.Reset.
func slower(a, b Limit) bool {
	ra, rb := float64(a.Remaining)*b.Reset.Seconds(), float64(b.Remaining)*a.Reset.Seconds()
	if ra == rb {
		return a.Reset > b.Reset
	}
	return ra < rb
}

func (q *Quota) dim(d Dimension) *Limit {
	if d == Tokens {
		return &q.Tokens
	}
	return &q.Requests
}

// maxPolicies bounds the RateLimit-Policy items that Parse keeps (further
// ones are ignored), so that it needs no allocation.
const maxPolicies = 8

// policy is a RateLimit-Policy item.
type policy struct {
	name   string // as it appears in the field, quotes and escapes included
	quota  int64  // q; -1 if absent
	window int64  // w in seconds; 0 if absent
	unit   Dimension
	other  bool // a unit that is neither requests nor tokens
}

func (p *parser) ietf(q *Quota) {
	var policies [maxPolicies]policy
	n := 0
	for _, v := range p.fields.Values(headerPolicy) {
		start := n
		err := eachItem(v, func(name string, params string) bool {
			if name[0] != '"' {
				return false // a policy is named by a String
			}
			if n == len(policies) {
				return true
			}
			pol := policy{name: name, quota: -1}
			ok := eachParam(params, func(key, val string) bool {
				switch key {
				case "q":
					pol.quota = sfInteger(val)
					return pol.quota >= 0
				case "w":
					pol.window = sfInteger(val)
					return pol.window > 0
				case "qu":
					switch val {
					case `"requests"`:
						pol.unit, pol.other = Requests, false
					case `"tokens"`:
						pol.unit, pol.other = Tokens, false
					default:
						if val == "" || val[0] != '"' {
							return false
						}
						pol.other = true
					}
				}
				return true
			})
			if !ok || pol.quota < 0 {
				return false
			}
			policies[n] = pol
			n++
			return true
		})
		if err != "" {
			n = start // the whole field line is dropped
			p.fail(namePolicy, v, err)
		}
	}
	var found [numDims]bool
	var best [numDims]Limit
	for _, v := range p.fields.Values(headerRateLimit) {
		var lims [numDims]Limit
		var has [numDims]bool
		err := eachItem(v, func(name string, params string) bool {
			if name[0] != '"' {
				return false // a limit names its policy by a String
			}
			r, t := int64(-1), int64(-1)
			ok := eachParam(params, func(key, val string) bool {
				switch key {
				case "r":
					r = sfInteger(val)
					return r >= 0
				case "t":
					t = sfInteger(val)
					return t >= 0
				}
				return true
			})
			if !ok || r < 0 {
				return false
			}
			l := Limit{Remaining: min(r, maxCount)}
			d := Requests
			var pol *policy
			for i := range n {
				if policies[i].name == name {
					pol = &policies[i]
				}
			}
			if pol != nil {
				if pol.other {
					return true // a unit this package does not pace
				}
				d, l.Limit = pol.unit, min(pol.quota, maxCount)
			}
			switch {
			case t >= 0:
				l.Reset = capReset(time.Duration(min(t, int64(MaxReset/time.Second))) * time.Second)
			case pol != nil && pol.window > 0:
				l.Reset = capReset(time.Duration(min(pol.window, int64(MaxReset/time.Second))) * time.Second)
			default:
				return true // no reset to pace to
			}
			l.Known = true
			if !has[d] || slower(l, lims[d]) {
				lims[d], has[d] = l, true
			}
			return true
		})
		if err != "" {
			p.fail(nameRateLimit, v, err)
			continue
		}
		for d := range numDims {
			if has[d] && (!found[d] || slower(lims[d], best[d])) {
				best[d], found[d] = lims[d], true
			}
		}
	}
	for d := range numDims {
		if found[d] {
			*q.dim(Dimension(d)) = best[d]
		}
	}
}

func capReset(d time.Duration) time.Duration { return min(max(d, 0), MaxReset) }

// trimOWS trims the optional white space (spaces and tabs) around a field
// value.
func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// parseCount reads a count: ASCII digits, saturating at maxCount.
func parseCount(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n < maxCount {
			n = n*10 + int64(c-'0')
		}
	}
	return min(n, maxCount), true
}

// units are the units of a duration, longest first, as Go writes them.
var units = [...]struct {
	name string
	ns   uint64
}{
	{"h", uint64(time.Hour)},
	{"m", uint64(time.Minute)},
	{"s", uint64(time.Second)},
	{"ms", uint64(time.Millisecond)},
	{"us", uint64(time.Microsecond)},
	{"µs", uint64(time.Microsecond)},
	{"ns", 1},
}

// parseDuration reads a duration as Go's time.Duration.String writes it
// (see Parse), capped at MaxReset.
func parseDuration(s string) (time.Duration, bool) {
	if s == "0" {
		return 0, true
	}
	if s == "" {
		return 0, false
	}
	const limit = uint64(MaxReset)
	var total uint64 // at most limit
	next := 0        // the first unit allowed next
	for i := 0; i < len(s); {
		// A number: digits, and perhaps a point and more digits.
		start := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		whole := s[start:i]
		var frac string
		if i < len(s) && s[i] == '.' {
			i++
			fs := i
			for i < len(s) && '0' <= s[i] && s[i] <= '9' {
				i++
			}
			frac = s[fs:i]
			if frac == "" {
				return 0, false
			}
		}
		if whole == "" && frac == "" {
			return 0, false
		}
		// Its unit: the longest name that matches, so "ms" is not "m".
		u := -1
		for j := next; j < len(units); j++ {
			name := units[j].name
			if len(s)-i >= len(name) && s[i:i+len(name)] == name && (u < 0 || len(name) > len(units[u].name)) {
				u = j
			}
		}
		if u < 0 {
			return 0, false
		}
		i += len(units[u].name)
		unit := units[u].ns
		next = u + 1
		if u == 4 { // "us" and "µs" are one unit
			next = u + 2
		}
		// Add whole·unit + frac·unit, saturating at the cap.
		var add uint64
		for k := 0; k < len(whole); k++ {
			if add > limit/10 {
				add = limit + 1
				break
			}
			add = add*10 + uint64(whole[k]-'0')
		}
		if add > limit/unit {
			add = limit + 1
		} else {
			add *= unit
		}
		f := unit
		for k := 0; k < len(frac) && f > 1 && add <= limit; k++ {
			f /= 10
			add += uint64(frac[k]-'0') * f
		}
		total = min(total+min(add, limit+1), limit) // each below 2^47: no overflow
	}
	return time.Duration(total), true
}

// Structured Field parsing (RFC 9651), as much as the RateLimit fields need:
// a List of Items with Parameters, checked strictly.

// eachItem calls f with each member of the List v: its bare item as it
// appears (a String keeps its quotes and escapes) and its parameters, as
// they appear after the item. It returns why v is not a List of Items, or
// why f refused an item, or "" if it is one. Inner Lists are refused.
func eachItem(v string, f func(item, params string) bool) string {
	i := skipSP(v, 0)
	if i == len(v) {
		return "" // an empty list
	}
	for {
		if v[i] == '(' {
			return "an inner list"
		}
		end, ok := bareItem(v, i)
		if !ok {
			return "not a structured field item"
		}
		item := v[i:end]
		i = end
		pend, ok := skipParams(v, i)
		if !ok {
			return "bad parameters"
		}
		if !f(item, v[i:pend]) {
			return "a malformed item"
		}
		i = skipOWS(v, pend)
		if i == len(v) {
			return ""
		}
		if v[i] != ',' {
			return "members not separated by commas"
		}
		i = skipOWS(v, i+1)
		if i == len(v) {
			return "a trailing comma"
		}
	}
}

// eachParam calls f with each parameter of params (";k=v;k2"), already
// checked by skipParams; a parameter without a value has the value "?1".
// It stops and returns false when f does.
func eachParam(params string, f func(key, val string) bool) bool {
	i := 0
	for i < len(params) {
		i = skipSP(params, i+1) // past ';'
		ks := i
		for i < len(params) && isKeyChar(params[i]) {
			i++
		}
		key := params[ks:i]
		val := "?1"
		if i < len(params) && params[i] == '=' {
			end, _ := bareItem(params, i+1)
			val = params[i+1 : end]
			i = end
		}
		if !f(key, val) {
			return false
		}
	}
	return true
}

// skipParams returns the end of the parameters that start at i.
func skipParams(v string, i int) (int, bool) {
	for i < len(v) && v[i] == ';' {
		i = skipSP(v, i+1)
		if i == len(v) || !(v[i] >= 'a' && v[i] <= 'z' || v[i] == '*') {
			return i, false
		}
		for i < len(v) && isKeyChar(v[i]) {
			i++
		}
		if i < len(v) && v[i] == '=' {
			end, ok := bareItem(v, i+1)
			if !ok {
				return i, false
			}
			i = end
		}
	}
	return i, true
}

func isKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '*'
}

func skipSP(v string, i int) int {
	for i < len(v) && v[i] == ' ' {
		i++
	}
	return i
}

func skipOWS(v string, i int) int {
	for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
		i++
	}
	return i
}

// bareItem returns the end of the bare item that starts at i, and whether
// one does.
func bareItem(v string, i int) (int, bool) {
	if i >= len(v) {
		return i, false
	}
	switch c := v[i]; {
	case c == '-' || c >= '0' && c <= '9':
		return number(v, i)
	case c == '@': // a Date: an Integer
		if i+1 < len(v) && v[i+1] == '-' || i+1 < len(v) && v[i+1] >= '0' && v[i+1] <= '9' {
			end, ok := number(v, i+1)
			return end, ok && !contains(v[i+1:end], '.')
		}
		return i, false
	case c == '"':
		return sfString(v, i)
	case c == '%': // a Display String
		if i+1 < len(v) && v[i+1] == '"' {
			return sfString(v, i+1)
		}
		return i, false
	case c == ':':
		for j := i + 1; j < len(v); j++ {
			switch b := v[j]; {
			case b == ':':
				return j + 1, true
			case b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '+' || b == '/' || b == '=':
			default:
				return j, false
			}
		}
		return len(v), false
	case c == '?':
		if i+1 < len(v) && (v[i+1] == '0' || v[i+1] == '1') {
			return i + 2, true
		}
		return i, false
	case c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '*':
		j := i + 1
		for j < len(v) && (isTchar(v[j]) || v[j] == ':' || v[j] == '/') {
			j++
		}
		return j, true
	}
	return i, false
}

// number returns the end of the Integer or Decimal at i.
func number(v string, i int) (int, bool) {
	j := i
	if v[j] == '-' {
		j++
	}
	ds := j
	for j < len(v) && v[j] >= '0' && v[j] <= '9' {
		j++
	}
	n := j - ds
	if n == 0 {
		return j, false
	}
	if j < len(v) && v[j] == '.' {
		if n > 12 {
			return j, false
		}
		j++
		fs := j
		for j < len(v) && v[j] >= '0' && v[j] <= '9' {
			j++
		}
		return j, j-fs >= 1 && j-fs <= 3
	}
	return j, n <= 15
}

// sfString returns the end of the String at i.
func sfString(v string, i int) (int, bool) {
	for j := i + 1; j < len(v); j++ {
		switch c := v[j]; {
		case c == '\\':
			if j+1 == len(v) || v[j+1] != '"' && v[j+1] != '\\' {
				return j, false
			}
			j++
		case c == '"':
			return j + 1, true
		case c < 0x20 || c > 0x7e:
			return j, false
		}
	}
	return len(v), false
}

// sfInteger returns the non-negative Integer val, or -1 if it is not one.
func sfInteger(val string) int64 {
	if val == "" || len(val) > 15 {
		return -1
	}
	n, ok := parseCount(val)
	if !ok {
		return -1
	}
	return n
}

func isTchar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || contains("!#$%&'*+-.^_`|~", c)
}

func contains(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}
