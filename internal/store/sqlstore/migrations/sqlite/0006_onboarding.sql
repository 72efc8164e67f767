CREATE TABLE svc_plans (
  tenant TEXT NOT NULL,
  plans TEXT NOT NULL,
  PRIMARY KEY (tenant)
);
CREATE TABLE onboarding_requests (
  id TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  scenario TEXT NOT NULL,
  created INTEGER NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX onboarding_requests_tenant ON onboarding_requests(tenant, created);
CREATE TABLE onboarded (
  tenant TEXT NOT NULL,
  scenario TEXT NOT NULL,
  request_id TEXT NOT NULL,
  officers TEXT NOT NULL,
  enabled INTEGER NOT NULL,
  PRIMARY KEY (tenant, scenario)
);
