CREATE TABLE IF NOT EXISTS public.readings (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL CHECK (at > '2000-01-01'),
  device uuid NOT NULL REFERENCES devices (id),
  note varchar(200) DEFAULT '-- Spiral: sum', -- not magic: the comment is a string above
  "-- Spiral: max" int,
  reading numeric(12, 4) -- Spiral: sum, tdigest
) WITH (fillfactor = 70, spiral.frames = '1m,1h', autovacuum_enabled = false, spiral.tenant = 'device', toast.autovacuum_enabled = false)
TABLESPACE pg_default;
