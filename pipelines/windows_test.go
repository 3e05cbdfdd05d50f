package pipelines

import (
	"testing"
	"time"
)

func TestSignInWindows(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name     string
		from, to string
		size     time.Duration
		want     []string
	}{
		{
			name: "days split at midnight", from: "2026-11-20T00:00:00Z", to: "2026-11-22T03:30:00Z", size: 24 * time.Hour,
			want: []string{
				"2026-11-20T00:00:00Z..2026-11-21T00:00:00Z",
				"2026-11-21T00:00:00Z..2026-11-22T00:00:00Z",
				"2026-11-22T00:00:00Z..2026-11-22T03:30:00Z",
			},
		},
		{
			name: "resume mid-day never crosses midnight", from: "2026-11-21T22:00:00Z", to: "2026-11-22T01:00:00Z", size: 24 * time.Hour,
			want: []string{"2026-11-21T22:00:00Z..2026-11-22T00:00:00Z", "2026-11-22T00:00:00Z..2026-11-22T01:00:00Z"},
		},
		{
			name: "smaller windows", from: "2026-11-22T00:00:00Z", to: "2026-11-22T20:00:00Z", size: 8 * time.Hour,
			want: []string{"2026-11-22T00:00:00Z..2026-11-22T08:00:00Z", "2026-11-22T08:00:00Z..2026-11-22T16:00:00Z", "2026-11-22T16:00:00Z..2026-11-22T20:00:00Z"},
		},
		{name: "empty", from: "2026-11-22T00:00:00Z", to: "2026-11-22T00:00:00Z", size: time.Hour, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := signInWindows(at(tt.from), at(tt.to), tt.size)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d windows %v, want %d %v", len(got), got, len(tt.want), tt.want)
			}
			for i := range got {
				if got[i].String() != tt.want[i] {
					t.Errorf("window %d = %s, want %s", i, got[i], tt.want[i])
				}
			}
		})
	}
}
