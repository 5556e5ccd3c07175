-- COPY to or from the client: gosling sends no COPY data and reads none
-- (issue 13.11), in either kind of migration.  COPY with a server file is fine.
-- +goose Up
CREATE TABLE t (a int, stdin_note text);
COPY t (a, stdin_note) FROM STDIN;
copy t from stdin with (format csv);
COPY t TO STDOUT;
COPY (SELECT 1) TO STDOUT WITH (FORMAT csv);
COPY t FROM '/srv/data/t.csv';
COPY t TO PROGRAM 'cat > /dev/null';

-- +goose Down
DROP TABLE t;
