package packages_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/minifaas/minifaas/internal/packages"
)

// A function's folder packed into a layer and unpacked again, as a builder
// and a fetcher would.
func ExamplePack() {
	src, _ := os.MkdirTemp("", "src-")
	defer os.RemoveAll(src)
	_ = os.WriteFile(filepath.Join(src, "handler.py"), []byte("def handle(req):\n    return 'hi'\n"), 0o644)
	_ = os.WriteFile(filepath.Join(src, "requirements.txt"), []byte("six==1.16.0\n"), 0o644)

	var layer bytes.Buffer
	desc, err := packages.Pack(&layer, src, "code", packages.Limits{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(desc.MediaType, desc.Annotations["org.opencontainers.image.title"])

	dest, _ := os.MkdirTemp("", "dest-")
	defer os.RemoveAll(dest)
	if err := packages.Unpack(&layer, dest, packages.Limits{}); err != nil {
		fmt.Println(err)
		return
	}
	entries, _ := os.ReadDir(dest)
	for _, e := range entries {
		fmt.Println(e.Name())
	}
	// Output:
	// application/vnd.oci.image.layer.v1.tar+gzip code
	// handler.py
	// requirements.txt
}
