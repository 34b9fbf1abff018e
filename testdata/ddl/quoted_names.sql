-- Identifiers follow PostgreSQL rules: unquoted fold, "quoted" keep case.
CREATE TABLE Metrics."Sensor Readings" (
  "Recorded At" timestamp with time zone NOT NULL,
  created timestamptz NOT NULL DEFAULT now(),
  "Sensor ID" bigint NOT NULL,
  Region text NOT NULL,
  "Value" real -- spiral: min, max, count
) WITH (
  SPIRAL.FRAMES = '5m,1h,1d',
  spiral.tenant = '"Sensor ID", REGION',
  spiral.time_column = '"Recorded At"',
  spiral.timezone = 'Europe/Berlin'
);
