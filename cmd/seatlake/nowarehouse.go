package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/seatlake/seatlake/pipelines"
)

// demoWarehouse is where `seatlake demo` writes by default: never ./warehouse, where a real run writes.
const demoWarehouse = "./seatlake-demo"

// noWarehouse is the usage error (exit 2) of a command pointed at a directory without a warehouse: what to run
// first, and, when the demo's warehouse is in the current directory, the flag that reads it.
func noWarehouse(dir string) error {
	msg := fmt.Sprintf("no warehouse at %s: run `seatlake run` or `seatlake demo` first", dir)
	if !sameDir(dir, demoWarehouse) && pipelines.HasViews(demoWarehouse) {
		msg += fmt.Sprintf(" (the demo's warehouse is %s: add --warehouse %s)", demoWarehouse, demoWarehouse)
	}
	return &exitError{code: exitUsage, err: errors.New(msg)}
}

// sameDir reports whether a and b name the same directory.
func sameDir(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	if errA == nil && errB == nil {
		return os.SameFile(sa, sb)
	}
	absA, _ := filepath.Abs(a)
	absB, _ := filepath.Abs(b)
	return absA == absB
}
