CREATE TABLE typed (
  t timestamptz(3) NOT NULL,
  i2 int2,              -- Spiral: sum
  i4 integer,           -- Spiral: sum
  i8 int8,              -- Spiral: sum
  f4 float(10),         -- Spiral: sum
  f8 float,             -- Spiral: sum
  n numeric,            -- Spiral: sum
  s smallserial,
  tenant_text varchar(10) NOT NULL,
  tenant_uuid uuid NOT NULL,
  flag boolean,
  tags text[],
  ts timestamp
) WITH (spiral.frames = '1m', spiral.tenant = 'tenant_text,tenant_uuid');
