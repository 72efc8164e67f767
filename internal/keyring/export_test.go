package keyring

import (
	"context"

	"github.com/customerkey/customerkey/internal/envelope"
	"github.com/customerkey/customerkey/internal/store"
)

// Test access to the keystore's unexported steps.
func (ks *Keystore) CreateForTest(ctx context.Context, tenant, dep string) (string, *envelope.Key, error) {
	return ks.create(ctx, tenant, dep, store.AvailabilityKey{})
}

func (ks *Keystore) GetForTest(ctx context.Context, id string) (*envelope.Key, error) {
	return ks.get(ctx, id)
}
