CREATE TABLE svc_audit (
  tenant TEXT NOT NULL,
  seq BIGINT NOT NULL,
  time BIGINT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  key_id TEXT NOT NULL,
  reason TEXT NOT NULL,
  outcome TEXT NOT NULL,
  prev BYTEA,
  hash BYTEA NOT NULL,
  PRIMARY KEY (tenant, seq)
);
CREATE FUNCTION svc_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
CREATE TRIGGER svc_audit_append_only BEFORE UPDATE OR DELETE ON svc_audit
FOR EACH ROW EXECUTE FUNCTION svc_audit_append_only();
