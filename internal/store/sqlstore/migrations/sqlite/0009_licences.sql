CREATE TABLE svc_licences (
  tenant TEXT NOT NULL,
  user_name TEXT NOT NULL,
  plan TEXT NOT NULL,
  PRIMARY KEY (tenant, user_name)
);
