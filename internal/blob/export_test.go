package blob

import "path/filepath"

// Internals the external tests check.
var (
	HashName = hashName
	IDOfFile = idOfFile
	FilePath = func(root string, r Ref) string { return (&DirStore{root: filepath.Clean(root)}).file(r) }
)
