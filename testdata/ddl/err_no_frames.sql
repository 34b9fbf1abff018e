CREATE TABLE t (t timestamptz NOT NULL) WITH (spiral.tenant = '');
