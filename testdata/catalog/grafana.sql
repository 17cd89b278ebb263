-- grafana health check [diff]
SELECT 1;

-- grafana table list (query builder) [diff]
SELECT quote_ident(table_name) AS "table" FROM information_schema.tables WHERE quote_ident(table_schema) NOT IN ('information_schema', 'pg_catalog', '_timescaledb_cache', '_timescaledb_catalog', '_timescaledb_internal', '_timescaledb_config', 'timescaledb_information', 'timescaledb_experimental') AND table_type = 'BASE TABLE' AND quote_ident(table_schema) IN (SELECT CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END FROM generate_series(array_lower(string_to_array(current_setting('search_path'),','),1), array_upper(string_to_array(current_setting('search_path'),','),1)) as i, string_to_array(current_setting('search_path'),',') s);

-- grafana table list, search path as ANY (simplified form) [diff]
SELECT quote_ident(table_name) AS "table" FROM information_schema.tables WHERE table_schema = ANY(current_schemas(false)) AND table_type = 'BASE TABLE' ORDER BY 1;

-- grafana column list [diff]
SELECT quote_ident(column_name) AS "column", data_type AS "type" FROM information_schema.columns WHERE quote_ident(table_name) = 'cpu' ORDER BY ordinal_position;

-- metabase/pgjdbc style table list [diff]
SELECT n.nspname AS table_schem, c.relname AS table_name, CASE c.relkind WHEN 'r' THEN 'TABLE' WHEN 'v' THEN 'VIEW' END AS table_type FROM pg_catalog.pg_namespace n, pg_catalog.pg_class c WHERE c.relnamespace = n.oid AND n.nspname = 'public' AND c.relkind IN ('r', 'v') ORDER BY table_type, table_schem, table_name;

-- pgjdbc style column list [diff]
SELECT a.attname, a.attnum, t.typname, a.attnotnull, format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid JOIN pg_catalog.pg_type t ON a.atttypid = t.oid WHERE a.attnum > 0 AND NOT a.attisdropped AND n.nspname LIKE 'public' AND c.relname LIKE 'cpu' ORDER BY n.nspname, c.relname, a.attnum;

-- pgjdbc type map [diff]
SELECT typname, oid FROM pg_catalog.pg_type WHERE typname IN ('bool', 'int8', 'int4', 'int2', 'text', 'oid', 'float8', 'float4', 'timestamptz', 'interval', 'date', 'numeric', 'varchar', 'name', 'char', '_text', '_int4') ORDER BY oid;

-- information_schema.tables for public [diff]
SELECT table_catalog, table_schema, table_name, table_type FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name;

-- information_schema.columns for cpu [diff]
SELECT column_name, ordinal_position, is_nullable, data_type, udt_name, character_maximum_length, numeric_precision, numeric_scale, datetime_precision, column_default FROM information_schema.columns WHERE table_name = 'cpu' ORDER BY ordinal_position;

-- information_schema.schemata [diff]
SELECT schema_name FROM information_schema.schemata ORDER BY 1;
