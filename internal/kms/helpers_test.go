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

func setNotBefore(t *testing.T, c *azkeys.Client, nbf time.Time) {
	t.Helper()
	if _, err := c.UpdateKey(context.Background(), "key", "", azkeys.UpdateKeyParameters{KeyAttributes: &azkeys.KeyAttributes{NotBefore: &nbf}}, nil); err != nil {
		t.Fatal(err)
	}
}

func setOps(t *testing.T, c *azkeys.Client, ops ...azkeys.KeyOperation) {
	t.Helper()
	var p []*azkeys.KeyOperation
	for _, op := range ops {
		p = append(p, to.Ptr(op))
	}
	if _, err := c.UpdateKey(context.Background(), "key", "", azkeys.UpdateKeyParameters{KeyOps: p}, nil); err != nil {
		t.Fatal(err)
	}
}

func deleteKey(t *testing.T, c *azkeys.Client) {
	t.Helper()
	if _, err := c.DeleteKey(context.Background(), "key", nil); err != nil {
		t.Fatal(err)
	}
}

func recoverKey(t *testing.T, c *azkeys.Client) {
	t.Helper()
	if _, err := c.RecoverDeletedKey(context.Background(), "key", nil); err != nil {
		t.Fatal(err)
	}
}
