CREATE TABLE svc_assignments (
  tenant TEXT NOT NULL,
  scenario TEXT NOT NULL,
  dep TEXT NOT NULL,
  assigned BIGINT NOT NULL,
  PRIMARY KEY (tenant, scenario)
);
