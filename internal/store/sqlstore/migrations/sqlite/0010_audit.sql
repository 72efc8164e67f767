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
  prev BLOB,
  hash BLOB NOT NULL,
  PRIMARY KEY (tenant, seq)
);
CREATE TRIGGER svc_audit_no_update BEFORE UPDATE ON svc_audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER svc_audit_no_delete BEFORE DELETE ON svc_audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
