// Package ids derives the simulator's values from its seed: splitmix64 hashing, so every generated value is a pure
// function of (seed, position) and nothing has to be stored, and GUIDs made of two hashes. The same seed gives the
// same ids in every simulator, which is what lets one simulator send the events another serves.
package ids

import (
	"encoding/binary"
)

// Mix is splitmix64's finaliser: fast and well distributed, so every generated value can be a pure function of
// (seed, position) and nothing has to be stored.
func Mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Hash folds parts into seed.
func Hash(seed int64, parts ...uint64) uint64 {
	h := Mix(uint64(seed))
	for _, p := range parts {
		h = Mix(h ^ p)
	}
	return h
}

// HexDigits are the lower-case hexadecimal digits, indexed by value.
const HexDigits = "0123456789abcdef"

// AppendGUID writes a version-4-shaped GUID made of a and b, without quotes.
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

// GUID is AppendGUID as a string.
func GUID(a, b uint64) string { return string(AppendGUID(make([]byte, 0, 36), a, b)) }
