package vault

import (
	"fmt"
	"slices"
	"strings"
)

// Role is a built-in role: data actions act on keys, control actions on the
// vault resource itself (access policies, role assignments, settings).
type Role struct {
	Name        string   `json:"name"`
	ID          string   `json:"id"`
	DataActions []string `json:"dataActions"`
	Control     string   `json:"control"` // "", "read", "write" (vault settings, access policies), "owner" (also role assignments)
}

const keysPrefix = "Microsoft.KeyVault/vaults/keys/"

// Roles are the built-in roles the vault knows (SPEC V5, reference §4).
var Roles = []Role{
	{Name: "Key Vault Administrator", ID: "00482a5a-887f-4fb3-b363-3b7fe8e74483", DataActions: []string{"Microsoft.KeyVault/vaults/*"}},
	{Name: "Key Vault Crypto Officer", ID: "14b46e9e-c2b7-41b4-b07b-48a6ebf60603", DataActions: []string{"Microsoft.KeyVault/vaults/keys/*", "Microsoft.KeyVault/vaults/keyrotationpolicies/*"}},
	{Name: "Key Vault Crypto User", ID: "12338af0-0e69-4776-bea7-57ae8d297424", DataActions: []string{
		keysPrefix + "read", keysPrefix + "update/action", keysPrefix + "backup/action", keysPrefix + "encrypt/action", keysPrefix + "decrypt/action",
		keysPrefix + "wrap/action", keysPrefix + "unwrap/action", keysPrefix + "sign/action", keysPrefix + "verify/action"}},
	{Name: "Key Vault Crypto Service Encryption User", ID: "e147488a-f6f5-4113-8e2d-b22465e65bf6", DataActions: []string{keysPrefix + "read", keysPrefix + "wrap/action", keysPrefix + "unwrap/action"}},
	{Name: "Key Vault Reader", ID: "21090545-7ca7-4776-b22c-e363652d74d2", DataActions: []string{"Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/secrets/readMetadata/action"}, Control: "read"},
	{Name: "Reader", ID: "acdd72a7-3385-48ef-bd42-f606fba81ae7", Control: "read"},
	{Name: "Contributor", ID: "b24988ac-6180-42a0-ab88-20f7382dd24c", Control: "write"},
	{Name: "Owner", ID: "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", Control: "owner"},
}

// LookupRole finds a role by name (case-insensitive) or ID.
func LookupRole(nameOrID string) (Role, bool) {
	for _, r := range Roles {
		if strings.EqualFold(r.Name, nameOrID) || strings.EqualFold(r.ID, nameOrID) {
			return r, true
		}
	}
	return Role{}, false
}

func roleNames() string {
	var names []string
	for _, r := range Roles {
		names = append(names, fmt.Sprintf("%q", r.Name))
	}
	return strings.Join(names, ", ")
}

// KeyPermissions are the legacy access-policy key permissions (reference §4).
var KeyPermissions = []string{"all", "backup", "create", "decrypt", "delete", "encrypt", "get", "getrotationpolicy", "import", "list",
	"purge", "recover", "release", "restore", "rotate", "setrotationpolicy", "sign", "unwrapKey", "update", "verify", "wrapKey"}

// canonicalPermission returns the canonical spelling of a key permission.
func canonicalPermission(p string) (string, bool) {
	for _, k := range KeyPermissions {
		if strings.EqualFold(k, strings.TrimSpace(p)) {
			return k, true
		}
	}
	return "", false
}

// matchAction reports whether action matches pattern, where '*' matches any
// run of characters (slashes included), as in Azure role definitions.
func matchAction(pattern, action string) bool {
	parts := strings.Split(strings.ToLower(pattern), "*")
	action = strings.ToLower(action)
	if !strings.HasPrefix(action, parts[0]) {
		return false
	}
	action = action[len(parts[0]):]
	for i, p := range parts[1:] {
		if i == len(parts)-2 { // last part must be a suffix
			return strings.HasSuffix(action, p)
		}
		j := strings.Index(action, p)
		if j < 0 {
			return false
		}
		action = action[j+len(p):]
	}
	return action == ""
}

func (r Role) allows(action string) bool {
	return slices.ContainsFunc(r.DataActions, func(p string) bool { return matchAction(p, action) })
}

// keyOp describes one data-plane operation: its log name, the access-policy
// permission and the RBAC data action it needs.
type keyOp struct {
	Name       string
	Permission string
	Action     string
	// PublicOK: keys/read also allows it, since it only needs the public key
	// (encrypt and wrap with an RSA key, reference §4).
	PublicOK bool
}

// grantedBy reports whether role r allows op: its data action, or for an
// operation on the public key only, keys/read.
func (op keyOp) grantedBy(r Role) bool {
	return r.allows(op.Action) || op.PublicOK && r.allows(keysPrefix+"read")
}

var (
	opCreate      = keyOp{"KeyCreate", "create", keysPrefix + "create/action", false}
	opImport      = keyOp{"KeyImport", "import", keysPrefix + "import/action", false}
	opGet         = keyOp{"KeyGet", "get", keysPrefix + "read", false}
	opList        = keyOp{"KeyList", "list", keysPrefix + "read", false}
	opListVer     = keyOp{"KeyListVersions", "list", keysPrefix + "read", false}
	opUpdate      = keyOp{"KeyUpdate", "update", keysPrefix + "update/action", false}
	opRotate      = keyOp{"KeyRotate", "rotate", keysPrefix + "rotate/action", false}
	opDelete      = keyOp{"KeyDelete", "delete", keysPrefix + "delete", false}
	opGetDeleted  = keyOp{"KeyGetDeleted", "list", keysPrefix + "read", false}
	opListDeleted = keyOp{"KeyListDeleted", "list", keysPrefix + "read", false}
	opRecover     = keyOp{"KeyRecover", "recover", keysPrefix + "recover/action", false}
	opPurge       = keyOp{"KeyPurge", "purge", keysPrefix + "purge/action", false}
	opBackup      = keyOp{"KeyBackup", "backup", keysPrefix + "backup/action", false}
	opRestore     = keyOp{"KeyRestore", "restore", keysPrefix + "restore/action", false}
	opWrap        = keyOp{"KeyWrap", "wrapKey", keysPrefix + "wrap/action", true}
	opUnwrap      = keyOp{"KeyUnwrap", "unwrapKey", keysPrefix + "unwrap/action", false}
	opEncrypt     = keyOp{"KeyEncrypt", "encrypt", keysPrefix + "encrypt/action", true}
	opDecrypt     = keyOp{"KeyDecrypt", "decrypt", keysPrefix + "decrypt/action", false}
)

// servedOps are the key operations this vault serves that an access
// policy's permissions can allow.
var servedOps = []keyOp{opCreate, opImport, opGet, opList, opUpdate, opRotate, opDelete, opRecover, opPurge, opBackup, opRestore, opWrap, opUnwrap, opEncrypt, opDecrypt, opGetRotationPolicy}

// widening returns the key permissions that role allows beyond perms, in
// the order of servedOps. Reads are left out (a key's metadata and public
// key: keys/read gives get and list alike), and so are the operations on
// the public key alone, wrapKey and encrypt, which keys/read allows (as in
// Azure). What is left can reveal a key's secret, change or destroy keys:
// a migration must never grant it to a principal whose policy did not.
func widening(perms []string, role Role) []string {
	if slices.Contains(perms, "all") {
		return nil
	}
	var extra []string
	for _, op := range servedOps {
		if op.PublicOK || strings.HasSuffix(op.Action, "/read") || !op.grantedBy(role) || slices.Contains(perms, op.Permission) || slices.Contains(extra, op.Permission) {
			continue
		}
		extra = append(extra, op.Permission)
	}
	return extra
}

// bestRole returns the narrowest built-in role whose actions cover every
// operation that the access-policy permissions perms allow here; used when
// migrating a vault to RBAC. Narrowest first: a principal left with "get"
// (say, a workload whose unwrap the tenant took away) must not come out of
// the migration able to unwrap. ok is false when perms allow no operation
// this vault serves (no role is given). "all" is every key operation: the
// Crypto Officer.
func bestRole(perms []string) (Role, bool) {
	var need []keyOp // the operations perms allow
	for _, p := range perms {
		if p == "all" {
			r, _ := LookupRole("Key Vault Crypto Officer")
			return r, true
		}
		for _, op := range servedOps {
			if op.Permission == p {
				need = append(need, op)
			}
		}
	}
	if len(need) == 0 {
		return Role{}, false
	}
	// Covered as the keys API grants it (grantedBy): wrap and encrypt
	// need only keys/read, so a principal left with wrapKey is a Reader,
	// not a role that also unwraps.
	for _, name := range []string{"Key Vault Reader", "Key Vault Crypto Service Encryption User", "Key Vault Crypto User", "Key Vault Crypto Officer"} {
		role, _ := LookupRole(name)
		if !slices.ContainsFunc(need, func(op keyOp) bool { return !op.grantedBy(role) }) {
			return role, true
		}
	}
	r, _ := LookupRole("Key Vault Crypto Officer") // covers every key operation
	return r, true
}
