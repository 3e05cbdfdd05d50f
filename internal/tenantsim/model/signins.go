package model

import (
	"math/bits"
	"time"

	"github.com/seatlake/seatlake/internal/tenantsim/ids"
)

// Events generates the sign-in log without storing it. The history [start, anchor) is cut into one-minute
// buckets; bucket k holds count(k) events, a formula over cumulative weights, so totals are exact without
// generating anything; event j of bucket k is a pure function of (seed, k, j). Within a bucket, times increase
// with j, so walking k and j downwards yields the newest-first order Graph serves.
type Events struct {
	seed    int64
	Start   int64 // Unix microseconds, midnight of the first day
	Buckets int
	cum     []int64 // cum[k] = weight of the buckets before k
	Total   int64

	// Who signs in: an alias table over the active users' rates picks a user in O(1) (Vose's method, integer).
	activeIdx []int32 // active user -> index in Tenant.Users
	slots     []slot  // one per active user
	wsum      uint64
}

// slot is one column of the alias table, packed so a draw touches one cache line.
type slot struct {
	prob      uint64 // keep self when a uniform draw in [0, wsum) is below prob
	self, alt int32  // user indexes in Tenant.Users
}

// SignIn is one sign-in.
type SignIn struct {
	At    int64 // Unix microseconds
	H, H2 uint64
	User  int32 // index in Tenant.Users
	Fail  int8  // index in failures, -1 = success
}

func (e *Events) build(m *Tenant, cfg Params, start int64) {
	e.seed = cfg.Seed
	e.Start = start
	if m.Anchor > start {
		e.Buckets = int((m.Anchor - start) / MicrosPerMinute)
	}
	e.cum = make([]int64, e.Buckets+1)
	for k := 0; k < e.Buckets; k++ {
		e.cum[k+1] = e.cum[k] + bucketWeight(start+int64(k)*MicrosPerMinute)
	}
	var rates []uint64
	for i := range m.Users {
		if m.Users[i].Act == Active {
			e.activeIdx = append(e.activeIdx, int32(i))
			rates = append(rates, uint64(m.Users[i].Rate))
		}
	}
	e.Total = cfg.SignIns
	if e.Total == 0 {
		e.Total = int64(len(e.activeIdx)) * int64(cfg.Days) * 2 // about two interactive sign-ins a day
	}
	if len(e.activeIdx) == 0 || e.Buckets == 0 {
		e.Total = 0
		return
	}
	e.buildAlias(rates)
}

// bucketWeight favours working hours on weekdays, as real sign-in logs do.
func bucketWeight(us int64) int64 {
	t := time.UnixMicro(us).UTC()
	work := t.Hour() >= 7 && t.Hour() < 18
	switch wd := t.Weekday(); {
	case wd != time.Saturday && wd != time.Sunday && work:
		return 8
	case work:
		return 2
	}
	return 1
}

func (e *Events) buildAlias(rates []uint64) {
	n := uint64(len(rates))
	for _, r := range rates {
		e.wsum += r
	}
	prob := make([]uint64, n)
	alias := make([]int32, n)
	scaled := make([]uint64, n) // rate * n, compared with wsum: exact integer arithmetic, so deterministic
	var small, large []int32
	for i, r := range rates {
		scaled[i] = r * n
		if scaled[i] < e.wsum {
			small = append(small, int32(i))
		} else {
			large = append(large, int32(i))
		}
	}
	for len(small) > 0 && len(large) > 0 {
		s, l := small[len(small)-1], large[len(large)-1]
		small, large = small[:len(small)-1], large[:len(large)-1]
		prob[s], alias[s] = scaled[s], l
		scaled[l] -= e.wsum - scaled[s]
		if scaled[l] < e.wsum {
			small = append(small, l)
		} else {
			large = append(large, l)
		}
	}
	for _, i := range append(small, large...) {
		prob[i], alias[i] = e.wsum, i
	}
	e.slots = make([]slot, n)
	for i := range e.slots {
		e.slots[i] = slot{prob: prob[i], self: e.activeIdx[i], alt: e.activeIdx[alias[i]]}
	}
}

// Count is the number of events in bucket k.
func (e *Events) Count(k int) int64 {
	if e.Total == 0 {
		return 0
	}
	w := e.cum[e.Buckets]
	return mulDiv(e.Total, e.cum[k+1], w) - mulDiv(e.Total, e.cum[k], w)
}

// countBuckets is the number of events in buckets [a, b).
func (e *Events) countBuckets(a, b int) int64 {
	if e.Total == 0 || a >= b {
		return 0
	}
	w := e.cum[e.Buckets]
	return mulDiv(e.Total, e.cum[b], w) - mulDiv(e.Total, e.cum[a], w)
}

// BucketStart is when bucket k starts (Unix microseconds).
func (e *Events) BucketStart(k int) int64 { return e.Start + int64(k)*MicrosPerMinute }

// BucketSeed is the seed of bucket k's sign-ins.
func (e *Events) BucketSeed(k int) uint64 { return ids.Hash(e.seed, 0x5167, uint64(k)) }

// At is the time and first hash of event j of the n in the bucket starting at bs.
func (e *Events) At(bs int64, seed uint64, j, n int64) (int64, uint64) {
	h := ids.Mix(seed ^ uint64(j))
	step := uint64(MicrosPerMinute / n)
	if step == 0 {
		step = 1
	}
	hi, _ := bits.Mul64(h&0xffffffff, step<<32)
	return bs + j*int64(step) + int64(hi), h
}

// SignIn completes an event from its time and first hash.
func (e *Events) SignIn(at int64, h uint64) SignIn {
	h2 := ids.Mix(h ^ 0x2545f4914f6cdd1d)
	hi, _ := bits.Mul64(h>>32, uint64(len(e.slots))<<32)
	sl := &e.slots[hi]
	ev := SignIn{At: at, H: h, H2: h2, User: sl.self, Fail: -1}
	if x, _ := bits.Mul64(h2, e.wsum); x >= sl.prob {
		ev.User = sl.alt
	}
	if h2&1023 < 41 { // about 4% fail
		ev.Fail = int8((h2 >> 10) % uint64(len(Failures)))
	}
	return ev
}

// lastEvent is the time and request id (= the sign-in's id) of a user's newest event.
type lastEvent struct {
	at  int64
	req [2]uint64
}

// lastPerUser walks every event once, oldest first, and keeps each user's newest sign-in and newest successful
// sign-in (indexed like Tenant.Users): what signInActivity must say. It also counts the failed sign-ins from
// servedFrom on, for the truth, and hands every successful sign-in served to served, oldest first.
func (e *Events) lastPerUser(users int, servedFrom int64, served func(SignIn)) (lastAny, lastOK []lastEvent, failed int64) {
	lastAny = make([]lastEvent, users)
	lastOK = make([]lastEvent, users)
	for k := 0; k < e.Buckets; k++ {
		n := e.Count(k)
		bs, seed := e.BucketStart(k), e.BucketSeed(k)
		for j := int64(0); j < n; j++ {
			ev := e.SignIn(e.At(bs, seed, j, n))
			last := lastEvent{at: ev.At, req: [2]uint64{ev.H, ev.H2}}
			lastAny[ev.User] = last // times only grow: the last write is the newest
			if ev.Fail < 0 {
				lastOK[ev.User] = last
				if ev.At >= servedFrom {
					served(ev)
				}
			} else if ev.At >= servedFrom {
				failed++
			}
		}
	}
	return lastAny, lastOK, failed
}

// BucketOf is the bucket holding instant us, clamped to the history.
func (e *Events) BucketOf(us int64) int {
	if us < e.Start {
		return -1
	}
	k := (us - e.Start) / MicrosPerMinute
	return int(min(k, int64(e.Buckets)))
}

// CountBetween counts the events with lo <= at <= hi: whole buckets by formula, the two edge buckets by walking.
func (e *Events) CountBetween(lo, hi int64) int64 {
	if e.Total == 0 || lo > hi {
		return 0
	}
	kl, kh := max(e.BucketOf(lo), 0), min(e.BucketOf(hi), e.Buckets-1)
	if kh < 0 || kl > kh {
		return 0
	}
	edge := func(k int) int64 {
		var c int64
		n := e.Count(k)
		bs, seed := e.BucketStart(k), e.BucketSeed(k)
		for j := int64(0); j < n; j++ {
			if at, _ := e.At(bs, seed, j, n); at >= lo && at <= hi {
				c++
			}
		}
		return c
	}
	if kl == kh {
		return edge(kl)
	}
	return edge(kl) + e.countBuckets(kl+1, kh) + edge(kh)
}

// FirstSignInServed is the time of the oldest sign-in the log serves (0 when none).
func (m *Tenant) FirstSignInServed() int64 {
	e := &m.Events
	for k := max(e.BucketOf(m.ServedFrom), 0); k < e.Buckets; k++ {
		n := e.Count(k)
		bs, seed := e.BucketStart(k), e.BucketSeed(k)
		first := int64(0)
		for j := int64(0); j < n; j++ {
			if at, _ := e.At(bs, seed, j, n); at >= m.ServedFrom && (first == 0 || at < first) {
				first = at
			}
		}
		if first > 0 {
			return first
		}
	}
	return 0
}

// mulDiv is a*b/c without overflow (a, b, c >= 0, result < 2^63).
func mulDiv(a, b, c int64) int64 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	q, _ := bits.Div64(hi, lo, uint64(c))
	return int64(q)
}
