# tests/lib/fault.sh - the fixtures tests/fault.sh (libpq) and tests/dataapi_fault.sh (the RDS
# Data API) share.  Source after tests/lib/gosling.sh, with T set and PostgreSQL started.
#
# A migration's progress is visible from outside through a helper the test installs in each
# database, mark(k): it sets the sequence fault_progress to k (sequences are not transactional,
# so another session sees it at once), and returns k.  mark(k) holds for 3 s only in the
# statement the test aims at (hold K sets the target), so the fault lands in that statement
# however slowly the machine runs the test's polls; the other statements pass at once.
#
#   db=$(faultdb)            a fresh database with the progress sequence and mark(k)
#   hold DB K                mark(K) holds for 3 s from now on (0: no statement holds)
#   progress DB; wait_progress DB K     the statement running; wait (20 s at most) until K runs
#   fault_bundles            $K: 1 makes a table the later ones write to, 2 has four statements,
#                            each a visible change, 3 comes after; $KD: the same with 2 three
#                            plain INSERTs (nothing else would stop it running twice); each built
#   fault_statements DB      what the statements of $K wrote: "1,2|3|4,30" when each ran once
#   fault_begin RUN START K WHAT        a run of $K held in statement K of a new $db (below)

faultdb() {
	local d
	d=$(pg_newdb)
	psql_q "$d" "CREATE SEQUENCE fault_progress MINVALUE 0 START 0;
		CREATE SEQUENCE fault_target MINVALUE 0 START 0;
		CREATE FUNCTION mark(k int) RETURNS int LANGUAGE plpgsql AS \$\$
		BEGIN
			PERFORM pg_catalog.setval('fault_progress', k);
			IF k = (SELECT last_value FROM fault_target) THEN PERFORM pg_catalog.pg_sleep(3); END IF;
			RETURN k;
		END \$\$" >/dev/null
	echo "$d"
}
hold() { psql_q "$1" "SELECT pg_catalog.setval('fault_target', $2)" >/dev/null; }
progress() { psql_q "$1" "SELECT last_value FROM fault_progress"; }
wait_progress() {
	for _ in $(seq 400); do
		[ "$(progress "$1")" = "$2" ] && return 0
		sleep 0.05
	done
	return 1
}

fault_bundles() {
	K=$T/kill
	KD=$T/killdml
	mig "$K" 000001_base.sql <<'EOF'
-- +goose Up
CREATE TABLE marks (k int);
-- +goose Down
DROP TABLE marks;
EOF
	mig "$K" 000002_four.sql <<'EOF'
-- +goose Up
CREATE TABLE four_a AS SELECT mark(1) AS x;
INSERT INTO four_a SELECT mark(2);
CREATE TABLE four_c AS SELECT mark(3) AS x;
INSERT INTO marks SELECT mark(4);
-- +goose Down
DELETE FROM marks WHERE k = 4;
DROP TABLE four_c;
DROP TABLE four_a;
EOF
	mig "$K" 000003_after.sql <<'EOF'
-- +goose Up
INSERT INTO marks VALUES (30);
EOF
	mkdir -p "$KD" && cp "$K/000001_base.sql" "$K/000003_after.sql" "$KD/"
	mig "$KD" 000002_dml.sql <<'EOF'
-- +goose Up
INSERT INTO marks SELECT mark(1);
INSERT INTO marks SELECT 10 + mark(2);
INSERT INTO marks SELECT 20 + mark(3);
EOF
	mkbin "$K" && mkbin "$KD"
}

fault_statements() {
	psql_q "$1" "SELECT (SELECT string_agg(x::text, ',' ORDER BY x) FROM four_a) || '|' ||
		(SELECT string_agg(x::text, ',') FROM four_c) || '|' || (SELECT string_agg(k::text, ',' ORDER BY k) FROM marks)"
}

# fault_begin RUN START K WHAT: a faultdb ($db) brought to version 1 by RUN (run, or da over the
# Data API), then START's (start, dstart) up --json of $K held in statement K; false, a failure
# WHAT naming why, when statement K never runs
fault_begin() {
	db=$(faultdb)
	"$1" "$K/gosling" "$db" up-to 1
	hold "$db" "$3"
	"$2" "$K/gosling" "$db" up --json
	wait_progress "$db" "$3" && return 0
	fail "$4: statement $3 never ran" "$(cat "$T/err")"
	finish
	return 1
}
