package runnerapi

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite "+ContractFile)

// TestContractFile keeps the file every runtime's contract test reads in
// step with the Go constants: it fails when they differ, and -update
// rewrites it.
func TestContractFile(t *testing.T) {
	want, err := File()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "..", ContractFile)
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v (run go test ./internal/runnerapi -update)", path, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: run go test ./internal/runnerapi -update", ContractFile)
	}
}
