SELECT count(*) FROM ticks WHERE t > clock_timestamp() - interval '1 hour'
