package dataversesim

import "testing"

// The execution-time limit's message prints the limit as the service protection page does.
func TestThousandsAsThePagePrintsThem(t *testing.T) {
	if got := thousands(1200000); got != "1,200,000" {
		t.Errorf("the execution-time limit reads %s, want 1,200,000 as the page prints it", got)
	}
}
