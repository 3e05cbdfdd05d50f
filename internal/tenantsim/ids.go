package tenantsim

import (
	"encoding/binary"
	"math/bits"
)

// mix is splitmix64's finaliser: fast and well distributed, so every generated value can be a pure function of
// (seed, position) and nothing has to be stored.
func Mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// hash folds parts into seed.
func Hash(seed int64, parts ...uint64) uint64 {
	h := Mix(uint64(seed))
	for _, p := range parts {
		h = Mix(h ^ p)
	}
	return h
}

const HexDigits = "0123456789abcdef"

// appendGUID writes a version-4-shaped GUID made of a and b, without quotes.
func AppendGUID(dst []byte, a, b uint64) []byte {
	var buf [16]byte
	binary.BigEndian.PutUint64(buf[:8], a)
	binary.BigEndian.PutUint64(buf[8:], b)
	buf[6] = buf[6]&0x0f | 0x40
	buf[8] = buf[8]&0x3f | 0x80
	for i, c := range buf {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, HexDigits[c>>4], HexDigits[c&15])
	}
	return dst
}

func GUID(a, b uint64) string { return string(AppendGUID(make([]byte, 0, 36), a, b)) }

// mulDiv is a*b/c without overflow (a, b, c >= 0, result < 2^63).
func mulDiv(a, b, c int64) int64 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	q, _ := bits.Div64(hi, lo, uint64(c))
	return int64(q)
}
