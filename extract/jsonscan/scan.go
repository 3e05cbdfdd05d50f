package jsonscan

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrSyntax is what the scanner says of anything it does not accept.
var ErrSyntax = errors.New("invalid JSON")

// MaxDepth is the deepest nesting a strict scanner accepts (the top-level value is depth 1), as encoding/json and
// goccy/go-json accept.
const MaxDepth = 10000

// Scanner reads one JSON body from the start. The zero value scans nothing; use New or NewStrict.
type Scanner struct {
	b      []byte
	i      int
	depth  int
	strict bool
}

// New returns a lenient scanner of b.
func New(b []byte) Scanner { return Scanner{b: b} }

// NewStrict returns a scanner of b that refuses control characters in strings and nesting beyond MaxDepth.
func NewStrict(b []byte) Scanner { return Scanner{b: b, strict: true} }

// Pos is the offset of the next byte to read.
func (s *Scanner) Pos() int { return s.i }

// Skip whitespace: the four bytes JSON allows between tokens.
func (s *Scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// Peek returns the next non-space byte without consuming it (0 at the end).
func (s *Scanner) Peek() byte {
	s.ws()
	if s.i >= len(s.b) {
		return 0
	}
	return s.b[s.i]
}

// End consumes trailing whitespace and fails unless the body ends there.
func (s *Scanner) End() error {
	if s.ws(); s.i != len(s.b) {
		return ErrSyntax
	}
	return nil
}

func (s *Scanner) expect(c byte) error {
	if s.Peek() != c {
		return ErrSyntax
	}
	s.i++
	return nil
}

// Str reads a string and returns its raw contents and whether they must be decoded (Unescape, Decode) to be its
// value: they have escapes, or, read by a strict scanner, bytes beyond ASCII (which may not be valid UTF-8). The
// common case, a string without escapes, is found with one vectorised search for the closing quote (lenient) or one
// pass eight bytes at a time (strict, which also looks for control characters and bytes beyond ASCII).
func (s *Scanner) Str() (raw []byte, escaped bool, err error) {
	if s.Peek() != '"' {
		return nil, false, ErrSyntax
	}
	s.i++
	start := s.i
	if s.strict {
		j, nonASCII := special(s.b[start:])
		if j < 0 {
			return nil, false, ErrSyntax
		}
		switch s.b[start+j] {
		case '"':
			s.i = start + j + 1
			return s.b[start : start+j], nonASCII, nil
		case '\\':
			s.i = start + j
			return s.escapedStr(start)
		}
		return nil, false, ErrSyntax // a control character
	}
	end := bytes.IndexByte(s.b[start:], '"')
	if end < 0 {
		return nil, false, ErrSyntax
	}
	if bytes.IndexByte(s.b[start:start+end], '\\') < 0 {
		s.i = start + end + 1
		return s.b[start : start+end], false, nil
	}
	return s.escapedStr(start)
}

// escapedStr finishes a string that started at start, reading from s.i byte by byte.
func (s *Scanner) escapedStr(start int) (raw []byte, escaped bool, err error) {
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '"':
			raw = s.b[start:s.i]
			s.i++
			return raw, true, nil
		case c == '\\':
			if s.i+1 >= len(s.b) {
				return nil, false, ErrSyntax
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if _, ok := hex4(s.b[s.i+2:]); !ok {
					return nil, false, ErrSyntax
				}
				s.i += 6
			default:
				return nil, false, ErrSyntax
			}
		case c < 0x20 && s.strict:
			return nil, false, ErrSyntax
		default:
			s.i++
		}
	}
	return nil, false, ErrSyntax
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// special returns the index of the first '"', '\\' or control character of b (-1 if none) and whether a byte
// beyond ASCII comes before it, eight bytes at a time. Each test below is the classic "has a zero byte" trick, whose
// lowest set bit is exact; the lowest of the three is the first special byte.
func special(b []byte) (int, bool) {
	var seen uint64 // the bytes before the special one, or'ed
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		q := x ^ ('"' * ones)
		e := x ^ ('\\' * ones)
		m := ((q - ones) &^ q) | ((e - ones) &^ e) | ((x - 0x20*ones) &^ x)
		if m &= highs; m != 0 {
			j := bits.TrailingZeros64(m) / 8
			seen |= x & (1<<(8*j) - 1)
			return i + j, seen&highs != 0
		}
		seen |= x
	}
	for ; i < len(b); i++ {
		if c := b[i]; c == '"' || c == '\\' || c < 0x20 {
			return i, seen&highs != 0
		} else if c >= utf8.RuneSelf {
			seen = highs
		}
	}
	return -1, false
}

// Literal consumes word (true, false, null) if it is next.
func (s *Scanner) Literal(word string) bool {
	s.ws()
	if len(s.b)-s.i >= len(word) && string(s.b[s.i:s.i+len(word)]) == word {
		s.i += len(word)
		return true
	}
	return false
}

// Null consumes null if it is next.
func (s *Scanner) Null() bool { return s.Literal("null") }

// Number reads a JSON number's bytes: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *Scanner) Number() ([]byte, error) {
	s.ws()
	start := s.i
	digits := func() int {
		n := 0
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	first := s.i
	if n := digits(); n == 0 || (n > 1 && s.b[first] == '0') {
		return nil, ErrSyntax
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if digits() == 0 {
			return nil, ErrSyntax
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if digits() == 0 {
			return nil, ErrSyntax
		}
	}
	return s.b[start:s.i], nil
}

// Skip consumes one value of any kind.
func (s *Scanner) Skip() error {
	switch c := s.Peek(); {
	case c == '"':
		_, _, err := s.Str()
		return err
	case c == '{':
		return s.Object(func([]byte) error { return s.Skip() })
	case c == '[':
		return s.Array(s.Skip)
	case c == 't':
		return must(s.Literal("true"))
	case c == 'f':
		return must(s.Literal("false"))
	case c == 'n':
		return must(s.Literal("null"))
	default:
		_, err := s.Number()
		return err
	}
}

func must(ok bool) error {
	if !ok {
		return ErrSyntax
	}
	return nil
}

// enter counts one more level of nesting; a strict scanner refuses more than MaxDepth.
func (s *Scanner) enter() error {
	s.depth++
	if s.strict && s.depth > MaxDepth {
		return ErrSyntax
	}
	return nil
}

// Object walks {"key": value, ...}; field must consume the value. Keys are raw: a key with escapes comes as it is
// written (callers that must match such keys decode them, see Decode).
func (s *Scanner) Object(field func(key []byte) error) error {
	if err := s.expect('{'); err != nil {
		return err
	}
	if err := s.enter(); err != nil {
		return err
	}
	err := s.members(field)
	s.depth--
	return err
}

func (s *Scanner) members(field func(key []byte) error) error {
	if s.Peek() == '}' {
		s.i++
		return nil
	}
	for {
		key, _, err := s.Str()
		if err != nil {
			return err
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		if err := field(key); err != nil {
			return err
		}
		switch s.Peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return ErrSyntax
		}
	}
}

// Array walks [value, ...]; elem must consume one value.
func (s *Scanner) Array(elem func() error) error {
	if err := s.expect('['); err != nil {
		return err
	}
	if err := s.enter(); err != nil {
		return err
	}
	err := s.elems(elem)
	s.depth--
	return err
}

func (s *Scanner) elems(elem func() error) error {
	if s.Peek() == ']' {
		s.i++
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		switch s.Peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return nil
		default:
			return ErrSyntax
		}
	}
}

// Field is a string value found on a page: raw bytes of the body, decoded when appended.
type Field struct {
	Raw     []byte
	Escaped bool // Raw must be decoded (see Str)
	Set     bool // false: absent or null
}

// StrOrNull reads a string or null into f.
func (s *Scanner) StrOrNull(f *Field) error {
	if s.Peek() == 'n' {
		f.Set = false
		return must(s.Literal("null"))
	}
	raw, esc, err := s.Str()
	if err != nil {
		return err
	}
	*f = Field{Raw: raw, Escaped: esc, Set: true}
	return nil
}

// Unescape decodes a JSON string's escapes into dst; other bytes are copied as they are.
func Unescape(dst, raw []byte) ([]byte, error) {
	return decode(dst, raw, false)
}

// Decode appends the value of a JSON string (raw, as Str returns it) to dst as encoding/json decodes it: escapes
// decoded, each byte that is not valid UTF-8 and each unpaired surrogate replaced by U+FFFD.
func Decode(dst, raw []byte) ([]byte, error) {
	return decode(dst, raw, true)
}

func decode(dst, raw []byte, valid bool) ([]byte, error) {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			if c < utf8.RuneSelf || !valid {
				dst = append(dst, c)
				continue
			}
			r, n := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && n == 1 {
				dst = utf8.AppendRune(dst, utf8.RuneError)
				continue
			}
			dst = append(dst, raw[i:i+n]...)
			i += n - 1
			continue
		}
		i++
		if i >= len(raw) {
			return nil, ErrSyntax
		}
		switch raw[i] {
		case '"', '\\', '/':
			dst = append(dst, raw[i])
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(raw[i+1:])
			if !ok {
				return nil, ErrSyntax
			}
			i += 4
			if utf16.IsSurrogate(r) && i+6 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
				if r2, ok := hex4(raw[i+3:]); ok {
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						r = d
						i += 6
					}
				}
			}
			dst = utf8.AppendRune(dst, r)
		default:
			return nil, ErrSyntax
		}
	}
	return dst, nil
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// Atoi32 reads an integer number's bytes (as Number returns them) as an int32; ok is false for a fraction, an
// exponent or a value out of range.
func Atoi32(b []byte) (int32, bool) {
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg, b = true, b[1:]
	}
	if len(b) == 0 || len(b) > 10 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	if n < -1<<31 || n > 1<<31-1 {
		return 0, false
	}
	return int32(n), true
}
