package python

import (
	"embed"
	"io/fs"
)

// contract holds runner/contract.py and the runner modules it imports, at
// their paths under runner/. internal/cli/scaffold checks that the set is
// closed under the relative imports of its files, so a new import in
// contract.py fails a Go test instead of a user's scaffolded test.
//
//go:embed runner/contract.py runner/protocol.py runner/runnerapi.py
var contract embed.FS

// ContractFiles returns the runner's handler contract and the modules it
// imports, as runner/<file>.py.
func ContractFiles() fs.FS { return contract }
