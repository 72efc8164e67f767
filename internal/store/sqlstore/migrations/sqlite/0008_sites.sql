CREATE TABLE site_registrations (
  tenant TEXT NOT NULL,
  geo TEXT NOT NULL,
  dep TEXT NOT NULL,
  state TEXT NOT NULL,
  total INTEGER NOT NULL,
  done INTEGER NOT NULL,
  started INTEGER NOT NULL,
  updated INTEGER NOT NULL,
  PRIMARY KEY (tenant, geo)
);
