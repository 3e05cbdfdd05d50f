package graphsim

import (
	"net/http/httptest"
	"testing"
	"time"
)

func TestDirectoryResourceUnits(t *testing.T) {
	tests := []struct {
		family, query string
		want          float64
	}{
		{"users", "", 2},
		{"users", "?$select=id", 1},
		{"users", "?$select=id&$top=5", 1}, // at least 1
		{"users", "?$top=5", 1},
		{"users", "?$expand=manager", 3},
		{"subscribedSkus", "", 3},
		{"subscribedSkus", "?$select=skuId", 2},
	}
	for _, tt := range tests {
		c := costOf(tt.family, httptest.NewRequest("GET", "/v1.0/"+tt.family+tt.query, nil))
		if c.ru != tt.want {
			t.Errorf("%s%s: %v RU, want %v", tt.family, tt.query, c.ru, tt.want)
		}
	}
	// The bucket: a tenant over 500 users has 8,000 RU per 10 s, refilled continuously.
	l := newLimits("realistic", 2000, "app", "tenant")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, _, ok := l.admit(now, cost{ru: 8000}); !ok {
		t.Fatal("a full bucket refused 8,000 RU")
	}
	wait, dir, ok := l.admit(now, cost{ru: 2})
	if ok || !dir || wait != 2500*time.Microsecond {
		t.Errorf("empty bucket: wait %s directory %v ok %v, want 2.5ms for 2 RU", wait, dir, ok)
	}
	if _, _, ok := l.admit(now.Add(wait), cost{ru: 2}); !ok {
		t.Error("refused after the wait it asked for")
	}
}
