CREATE TABLE tenants (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created INTEGER NOT NULL
);
CREATE TABLE subscriptions (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  name TEXT NOT NULL,
  kind TEXT NOT NULL,
  owner TEXT NOT NULL,
  state TEXT NOT NULL,
  created INTEGER NOT NULL
);
CREATE INDEX subscriptions_tenant ON subscriptions(tenant_id);
CREATE TABLE features (
  subscription_id TEXT NOT NULL REFERENCES subscriptions(id),
  namespace TEXT NOT NULL,
  name TEXT NOT NULL,
  requested_at INTEGER NOT NULL,
  registered_at INTEGER NOT NULL,
  PRIMARY KEY (subscription_id, namespace, name)
);
CREATE TABLE providers (
  subscription_id TEXT NOT NULL REFERENCES subscriptions(id),
  namespace TEXT NOT NULL,
  state TEXT NOT NULL,
  updated INTEGER NOT NULL,
  PRIMARY KEY (subscription_id, namespace)
);
CREATE TABLE principals (
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  lname TEXT NOT NULL,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,
  display_name TEXT NOT NULL,
  created INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, lname)
);
CREATE TABLE vaults (
  name TEXT PRIMARY KEY,
  subscription_id TEXT NOT NULL REFERENCES subscriptions(id),
  tenant_id TEXT NOT NULL,
  region TEXT NOT NULL,
  sku TEXT NOT NULL,
  retention_days INTEGER NOT NULL,
  purge_protection INTEGER NOT NULL,
  permission_model TEXT NOT NULL,
  created INTEGER NOT NULL,
  deleted_at INTEGER,
  purge_at INTEGER
);
CREATE TABLE access_policies (
  vault TEXT NOT NULL REFERENCES vaults(name),
  principal TEXT NOT NULL,
  permissions TEXT NOT NULL,
  updated INTEGER NOT NULL,
  PRIMARY KEY (vault, principal)
);
CREATE TABLE role_assignments (
  id TEXT PRIMARY KEY,
  vault TEXT NOT NULL REFERENCES vaults(name),
  principal TEXT NOT NULL,
  role TEXT NOT NULL,
  created INTEGER NOT NULL,
  UNIQUE (vault, principal, role)
);
CREATE TABLE keys (
  vault TEXT NOT NULL REFERENCES vaults(name),
  lname TEXT NOT NULL,
  name TEXT NOT NULL,
  next_seq INTEGER NOT NULL,
  deleted_at INTEGER,
  purge_at INTEGER,
  PRIMARY KEY (vault, lname)
);
CREATE TABLE key_versions (
  vault TEXT NOT NULL,
  lname TEXT NOT NULL,
  version TEXT NOT NULL,
  seq INTEGER NOT NULL,
  kty TEXT NOT NULL,
  size INTEGER NOT NULL,
  ops TEXT NOT NULL,
  enabled INTEGER NOT NULL,
  nbf INTEGER,
  exp INTEGER,
  created INTEGER NOT NULL,
  updated INTEGER NOT NULL,
  tags TEXT NOT NULL,
  n BLOB NOT NULL,
  e BLOB NOT NULL,
  sealed BLOB NOT NULL,
  PRIMARY KEY (vault, lname, version),
  UNIQUE (vault, lname, seq),
  FOREIGN KEY (vault, lname) REFERENCES keys(vault, lname)
);
CREATE TABLE ops (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  time INTEGER NOT NULL,
  principal TEXT NOT NULL,
  tenant TEXT NOT NULL,
  operation TEXT NOT NULL,
  vault TEXT NOT NULL,
  key_name TEXT NOT NULL,
  version TEXT NOT NULL,
  status INTEGER NOT NULL,
  code TEXT NOT NULL,
  client_ip TEXT NOT NULL
);
CREATE INDEX ops_vault ON ops(vault, id);
