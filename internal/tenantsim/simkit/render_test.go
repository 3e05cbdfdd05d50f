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
