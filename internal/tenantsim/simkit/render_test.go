package simkit

import (
	"testing"
	"time"
)

func TestRetryAfterIsWholeSecondsRoundedUp(t *testing.T) {
	for _, tt := range []struct {
		wait time.Duration
		want string
	}{
		{0, "1"}, {40 * time.Millisecond, "1"}, {time.Second, "1"}, {time.Second + time.Nanosecond, "2"},
		{9985 * time.Millisecond, "10"}, {10 * time.Second, "10"}, {10*time.Second + 500*time.Microsecond, "11"},
	} {
		if got := RetryAfterSeconds(tt.wait); got != tt.want {
			t.Errorf("wait %s: Retry-After %q, want %q", tt.wait, got, tt.want)
		}
	}
}

func TestRetryAfterInTenths(t *testing.T) {
	for _, tt := range []struct {
		wait time.Duration
		want string
	}{
		{0, "0.1"}, {2 * time.Millisecond, "0.1"}, {300 * time.Millisecond, "0.3"}, {301 * time.Millisecond, "0.4"},
		{time.Second, "1.0"}, {1250 * time.Millisecond, "1.3"}, {2 * time.Second, "2.0"},
	} {
		if got := RetryAfter(tt.wait, 100*time.Millisecond); got != tt.want {
			t.Errorf("wait %s: Retry-After %q, want %q", tt.wait, got, tt.want)
		}
	}
}
