CREATE TABLE site_registrations (
  tenant TEXT NOT NULL,
  geo TEXT NOT NULL,
  dep TEXT NOT NULL,
  state TEXT NOT NULL,
  total BIGINT NOT NULL,
  done BIGINT NOT NULL,
  started BIGINT NOT NULL,
  updated BIGINT NOT NULL,
  PRIMARY KEY (tenant, geo)
);
