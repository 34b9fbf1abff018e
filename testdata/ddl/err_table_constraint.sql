CREATE TABLE t (t timestamptz NOT NULL, s int, PRIMARY KEY (t, s)) WITH (spiral.frames = '1m');
