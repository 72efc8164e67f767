package kms_test

import (
	"context"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
)

func setEnabled(t *testing.T, c *azkeys.Client, on bool) {
	t.Helper()
	if _, err := c.UpdateKey(context.Background(), "key", "", azkeys.UpdateKeyParameters{KeyAttributes: &azkeys.KeyAttributes{Enabled: to.Ptr(on)}}, nil); err != nil {
		t.Fatal(err)
	}
}

func setExpiry(t *testing.T, c *azkeys.Client, exp time.Time) {
	t.Helper()
	if _, err := c.UpdateKey(context.Background(), "key", "", azkeys.UpdateKeyParameters{KeyAttributes: &azkeys.KeyAttributes{Expires: &exp}}, nil); err != nil {
		t.Fatal(err)
	}
}
