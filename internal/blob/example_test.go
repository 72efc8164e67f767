package blob_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/customerkey/customerkey/internal/blob"
)

// A blob written out of order, committed, and read back in a range.
func ExampleDir() {
	ctx := context.Background()
	root, err := os.MkdirTemp("", "blobs")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(root)
	st, err := blob.Dir(root, 8) // chunks of at most 8 bytes (the service: 64 KiB + 16)
	if err != nil {
		log.Fatal(err)
	}
	r := blob.Ref{Tenant: "contoso", Container: "site:finance", ID: "3f2a9c"}
	for _, c := range []struct {
		seq   int64
		bytes string
	}{{2, "end"}, {0, "sealed-0"}, {1, "sealed-1"}} {
		if err := st.Put(ctx, r, c.seq, []byte(c.bytes)); err != nil {
			log.Fatal(err)
		}
	}
	if err := st.Commit(ctx, r); err != nil {
		log.Fatal(err)
	}
	err = st.Read(ctx, r, 1, 3, func(seq int64, chunk []byte) error {
		fmt.Printf("chunk %d: %s\n", seq, chunk)
		return nil
	})
	fmt.Println(err)
	fmt.Println(st.Read(ctx, r, 3, 4, func(int64, []byte) error { return nil }))
	n, err := st.DeleteContainer(ctx, "contoso", "site:finance")
	fmt.Println(n, err)
	// Output:
	// chunk 1: sealed-1
	// chunk 2: end
	// <nil>
	// blob contoso/site:finance/3f2a9c: chunk 3: blob: not found
	// 1 <nil>
}
