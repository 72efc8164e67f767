package vaultclient

import "time"

// Types of the management API (docs/vault-api.md).

type Tenant struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
}

type Principal struct {
	TenantID    string    `json:"tenantId"`
	Name        string    `json:"name"`
	Kind        string    `json:"kind"`
	DisplayName string    `json:"displayName"`
	Created     time.Time `json:"created"`
}

type Subscription struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	TenantID string    `json:"tenantId"`
	Kind     string    `json:"kind"`
	Owner    string    `json:"owner"`
	State    string    `json:"state"`
	Created  time.Time `json:"created"`
	Features []Feature `json:"features"`
}

type Feature struct {
	Namespace    string     `json:"namespace"`
	Name         string     `json:"name"`
	State        string     `json:"state"`
	RequestedAt  *time.Time `json:"requestedAt,omitempty"`
	RegisteredAt *time.Time `json:"registeredAt,omitempty"`
}

type Provider struct {
	Namespace         string `json:"namespace"`
	RegistrationState string `json:"registrationState"`
}

type Vault struct {
	Name                      string           `json:"name"`
	URI                       string           `json:"uri"`
	SubscriptionID            string           `json:"subscriptionId"`
	TenantID                  string           `json:"tenantId"`
	Region                    string           `json:"region"`
	SKU                       string           `json:"sku"`
	SoftDeleteEnabled         bool             `json:"softDeleteEnabled"`
	SoftDeleteRetentionInDays int              `json:"softDeleteRetentionInDays"`
	PurgeProtectionEnabled    bool             `json:"purgeProtectionEnabled"`
	PermissionModel           string           `json:"permissionModel"`
	RecoveryLevel             string           `json:"recoveryLevel"`
	Created                   time.Time        `json:"created"`
	DeletedDate               *time.Time       `json:"deletedDate,omitempty"`
	ScheduledPurgeDate        *time.Time       `json:"scheduledPurgeDate,omitempty"`
	AccessPolicies            []AccessPolicy   `json:"accessPolicies"`
	RoleAssignments           []RoleAssignment `json:"roleAssignments"`
	MigratedAssignments       []RoleAssignment `json:"migratedAssignments,omitempty"`
}

type AccessPolicy struct {
	Principal   string              `json:"principal"`
	Permissions map[string][]string `json:"permissions"`
}

type RoleAssignment struct {
	ID        string `json:"id"`
	Principal string `json:"principal"`
	Role      string `json:"role"`
	RoleID    string `json:"roleId"`
}

type Op struct {
	ID        int64     `json:"id"`
	Time      time.Time `json:"time"`
	Principal string    `json:"principal"`
	TenantID  string    `json:"tenantId,omitempty"`
	Operation string    `json:"operation"`
	Vault     string    `json:"vault,omitempty"`
	Key       string    `json:"key,omitempty"`
	Version   string    `json:"version,omitempty"`
	Status    int       `json:"status"`
	Code      string    `json:"code,omitempty"`
	ClientIP  string    `json:"clientIp,omitempty"`
}

// List is the shape of every list answer.
type List[T any] struct {
	Value []T `json:"value"`
}

// Fault is a region's fault drill (SPEC B6): mode off, outage, slow,
// throttled or failing.
type Fault struct {
	Region  string     `json:"region"`
	Mode    string     `json:"mode"`
	DelayMS int64      `json:"delayMs,omitempty"`
	Until   *time.Time `json:"until,omitempty"`
}
