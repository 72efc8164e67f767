-- A job asked to run again while it is active (an assignment changed
-- while the job that applies assignments was finishing) goes back to the
-- queue when it finishes instead of succeeding: no change is missed.
ALTER TABLE svc_jobs ADD COLUMN again INTEGER NOT NULL DEFAULT 0;
