CREATE TABLE t (t timestamptz, v int) WITH (spiral.frames = '1m');
