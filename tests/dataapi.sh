#!/usr/bin/env bash
# tests/dataapi.sh - the RDS Data API transport (runtime/dataapi_transport.c; issue 18): the
# CLI with DB_CLUSTER_ARN set, through the local Data API stand-in (tests/rdsdata/data_api.js,
# HTTPS, SigV4 checked, the service's limits) forwarding to a real PostgreSQL (tests/lib/pg.sh):
#
#   - configuration: the cluster with its secret and database, and no libpq connection beside it;
#   - up / status / verify / drift / down / baseline over the Data API, no libpq connection opened;
#   - a failing statement named by file, statement and SQLSTATE, nothing of its migration applied;
#   - 8 concurrent ups, and a Data API up racing a libpq up: each migration applied once;
#   - a goose database adopted (both layouts, goose's legacy down row, 200 versions), its results,
#     history and goose table as over libpq;
#   - DatabaseResumingException past rdsdata.c's three attempts: waited out within the deadline;
#   - up --atomic: one transaction for every migration, a failure rolling all of them back, a lost
#     transaction running the set again, a lost CommitTransaction answer decided by the history;
#   - calls per migration counted in the stand-in's log; multi-byte text, a migration over
#     65,536 characters, 200 migrations.
# Prints TAP.  Needs node and npm (as tests/rdsdata.sh), openssl.
cd "$(dirname "$0")/.."
ROOT=$PWD
T=$(mktemp -d /tmp/gosling-dataapi.XXXXXX)
. tests/lib/pg.sh
. tests/lib/gosling.sh
. tests/lib/fakes.sh
. tests/lib/rapi.sh	# rapi NAME BOOTSTRAP EVENTS, j NAME EXPR, is_j
. tests/lib/dataapi.sh	# dataapi_start, standin, dataapi_env, da
trap fakes_cleanup EXIT

dataapi_start dataapi

standin api 1 && API=$api && pass "the Data API stand-in listens" || fail "the stand-in listens" "$(cat "$T/api.err")"
# timeScale 0.02: the 45 s per call is 0.9 s
standin fast 0.02 && pass "a stand-in with its timeouts scaled by 0.02 listens" ||
	fail "a stand-in with its timeouts scaled by 0.02 listens" "$(cat "$T/fast.err")"

# da BIN DB ARGS... (tests/lib/dataapi.sh): gosling over the Data API; PGHOST points nowhere,
# so a libpq connection attempted would fail the run
dataapi_env "$API"
calls() { grep -c "\"operation\":\"$1\"" "$T/api.log" | tr -d ' '; }
mark() { : >"$T/api.log"; }

B=$T/basic
mig "$B" 000001_users.sql <<'EOF'
-- +goose Up
CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);
-- +goose Down
DROP TABLE users;
EOF
mig "$B" 000002_posts.sql <<'EOF'
-- +goose Up
CREATE TABLE posts (id bigint PRIMARY KEY, user_id bigint REFERENCES users (id), body text);
INSERT INTO users VALUES (1, 'a@example.org');
INSERT INTO posts VALUES (1, 1, 'héllo wörld ✓ ''quoted'' \backslash $$dollar$$');
-- +goose Down
DROP TABLE posts;
DELETE FROM users;
EOF
mig "$B" 000003_tags.sql <<'EOF'
-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION tag_count() RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
	RETURN 42;
END;
$$;
-- +goose StatementEnd
CREATE TABLE tags (name text PRIMARY KEY);
-- +goose Down
DROP TABLE tags;
DROP FUNCTION tag_count();
EOF
mkbin "$B" || fail "the basic bundle builds"

# --- configuration -------------------------------------------------------------------------------

db=$(pg_newdb)
da "$B/gosling" "" status
is "$rc" 3 "a cluster ARN without DB_NAME: a configuration error (exit 3)"
like "$err" "needs --secret-arn (DB_SECRET_ARN) and --dbname (DB_NAME): DB_NAME is not set" "... naming what is missing"
set +e
out=$(env "${da_env[@]}" DB_SECRET_ARN= DB_NAME=$db "$B/gosling" status 2>&1); rc=$?
set -e
is "$rc/$(grep -c 'DB_SECRET_ARN is not set' <<<"$out")" "3/1" "a cluster ARN without DB_SECRET_ARN: a configuration error naming it"
set +e
out=$(env "${da_env[@]}" DB_NAME=$db DB_HOST=db.example.org "$B/gosling" status 2>&1); rc=$?
set -e
is "$rc" 3 "a cluster ARN and DB_HOST both set: a configuration error"
like "$out" "selects the RDS Data API, and --host (DB_HOST) a libpq connection: set one of them" "... naming both"
set +e
out=$(env "${da_env[@]}" DB_CLUSTER_ARN= DB_RESOURCE_ARN=$CLUSTER DB_NAME=$db "$B/gosling" status 2>&1); rc=$?
set -e
is "$rc" 0 "DB_RESOURCE_ARN selects the Data API as DB_CLUSTER_ARN does"

# --- up / status / verify / down / baseline ------------------------------------------------------

mark
da "$B/gosling" "$db" status
is "$rc" 0 "status over the Data API on an empty database exits 0"
is "$(grep -c '^[0-9].*_.*\.sql *pending' <<<"$out")" 3 "status lists the bundle's three migrations as pending"
is "$(has_table "$db" gosling_migrations)" f "status creates nothing"
is "$(calls BeginTransaction)" 0 "status opens no transaction"
mark
da "$B/gosling" "$db" up
is "$rc" 0 "up over the Data API exits 0 $(tail -3 <<<"$err")"
is "$(rows "$db")" "1,2,3" "up records every migration"
is "$(psql_q "$db" 'SELECT tag_count()')" 42 "up ran the StatementBegin block (a dollar-quoted function)"
is "$(psql_q "$db" 'SELECT body FROM posts')" "héllo wörld ✓ 'quoted' \\backslash \$\$dollar\$\$" \
	"multi-byte text, quotes, a backslash and \$\$ arrive as written"
is "$(psql_q "$db" "SELECT count(*) FROM gosling_migrations WHERE file_checksum LIKE 'sha256:c1:%'
	AND chain LIKE 'sha256:h1:%' AND execution_ms >= 0 AND origin = 'gosling'")" 3 "history rows as the libpq path writes them"
ex=$(calls ExecuteStatement)
is "$(calls BeginTransaction)" 0 "up: no transaction: the history table and the migrations each one autocommit call"
is "$ex" 6 "up of 3 migrations: 6 ExecuteStatement calls (the lease, the tables, the history table, one DO block of all 3, the newest row, the lease's release)"
is "$(psql_q "$db" 'SELECT count(*) FROM gosling_lock')" 0 "the run lock's lease row is gone after the run"
da "$B/gosling" "$db" up
like "$out" "up: 0 migrations, version 3 -> 3" "a second up applies nothing"
da "$B/gosling" "$db" verify
is "$rc" 0 "verify over the Data API passes on an untouched database"
D=$T/drift
cp -r "$B" "$D" && rm -f "$D/gosling" "$D/bundle.c"
sed -i 's/INSERT INTO users VALUES (1/INSERT INTO users VALUES (2/' "$D/000002_posts.sql"
mkbin "$D" || fail "the edited bundle builds"
da "$D/gosling" "$db" verify
is "$rc" 4 "verify over the Data API finds an edited applied migration (drift, exit 4)"
like "$err" "000002_posts.sql" "... naming the migration"
dbd=$(pg_newdb)
mark
da "$B/gosling" "$dbd" plan
is "$rc" 0 "plan over the Data API exits 0 $(tail -2 <<<"$err")"
like "$out" "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);" "... showing the SQL that would run"
is "$(has_table "$dbd" gosling_migrations)$(has_table "$dbd" users)/$(calls BeginTransaction)" ff/0 \
	"... and changes nothing"
da "$B/gosling" "$dbd" up
psql_q "$dbd" "UPDATE gosling_migrations SET applied_at = '2001-01-01' WHERE version = 3" >/dev/null
psql_q "$dbd" "INSERT INTO tags VALUES ('kept?')" >/dev/null
da "$B/gosling" "$dbd" redo --allow-down
is "$rc/$(rows "$dbd")/$(has_table "$dbd" tags)" "0/1,2,3/t" "redo over the Data API rolls back and re-applies the newest $(tail -2 <<<"$err")"
is "$(psql_q "$dbd" "SELECT applied_at > '2001-01-01' FROM gosling_migrations WHERE version = 3")/$(psql_q "$dbd" 'SELECT count(*) FROM tags')" \
	t/0 "... a new history row, and the table made anew by its Up (the row inserted before is gone)"
da "$B/gosling" "$dbd" down --allow-down
is "$rc/$(rows "$dbd")" "0/1,2" "down over the Data API rolls back the newest migration $(tail -2 <<<"$err")"
is "$(has_table "$dbd" tags)" f "... running its Down statements"
da "$B/gosling" "$dbd" down-to 0 --allow-down
is "$rc/$(rows "$dbd")/$(has_table "$dbd" users)" "0//f" "down-to 0 over the Data API"
dbb=$(pg_newdb)
da "$B/gosling" "$dbb" baseline 2
is "$rc/$(rows "$dbb")" "0/1,2" "baseline 2 over the Data API records 1 and 2"
is "$(psql_q "$dbb" "SELECT string_agg(origin, ',' ORDER BY version) FROM gosling_migrations")" "baseline,baseline" "... as baseline rows"
da "$B/gosling" "$dbb" up
is "$rc/$(rows "$dbb")/$(has_table "$dbb" tags)/$(has_table "$dbb" users)" "0/1,2,3/t/f" "up after the baseline applies only 3"

# --- adoption of a goose database (tests/engine.sh's scenarios, over the Data API) ---------------
# each scenario on two identical databases, one over the Data API and one over libpq: the results,
# gosling's history and goose's table must come out the same (times aside)

# goose_db DB LAYOUT: goose's table (serial: goose's older layout, identity: its newer) as goose
# leaves it after applying 1 and 2 (its version 0 row first), and their tables
goose_db() {
	if [ "$2" = serial ]; then
		psql_q "$1" "CREATE TABLE goose_db_version (id serial NOT NULL, version_id bigint NOT NULL,
			is_applied boolean NOT NULL, tstamp timestamp NULL default now(), PRIMARY KEY(id))" >/dev/null
	else
		psql_q "$1" "CREATE TABLE goose_db_version (id integer PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY,
			version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp NOT NULL DEFAULT now())" >/dev/null
	fi
	psql_q "$1" "INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true), (1, true), (2, true);
		CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);
		CREATE TABLE posts (id bigint PRIMARY KEY, user_id bigint REFERENCES users (id));" >/dev/null
}
# snap DB: gosling's history and goose's table as text, times left out
snap() {
	psql_q "$1" "SELECT coalesce(string_agg(concat_ws('|', version, name, file_checksum, exec_checksum, chain,
		build_id, origin, execution_ms IS NULL, failed_statement, error), ';' ORDER BY version), '')
		FROM gosling_migrations"
	psql_q "$1" "SELECT string_agg(version_id || ':' || is_applied || ':' || (tstamp IS NOT NULL), ',' ORDER BY id)
		FROM goose_db_version"
}
# items FILE: a --json result's migrations as name/state/action
items() {
	python3 -c 'import json,sys
r = json.load(open(sys.argv[1]))
print(r.get("ok"), r.get("version_before"), r.get("version_after"),
      ";".join("%s/%s/%s" % (m["name"], m["state"], m.get("action", "")) for m in r["migrations"]))' "$1"
}
# both DA_DB PG_DB ARGS...: gosling ARGS over the Data API on DA_DB, then over libpq on PG_DB; the
# results' items in $da_items and $pg_items
both() {
	local dadb=$1 pgdb=$2
	shift 2
	run "$B/gosling" "$pgdb" --json "$@"
	pg_rc=$rc
	pg_items=$(items "$T/out")
	da "$B/gosling" "$dadb" --json "$@"
	da_items=$(items "$T/out")
}
for variant in serial identity; do
	# the newer layout's up is --atomic: goose's row of 3 written inside the one transaction
	atomic=$([ $variant = identity ] && echo --atomic || true)
	dbg=$(pg_newdb)
	dbp=$(pg_newdb)
	goose_db "$dbg" $variant
	goose_db "$dbp" $variant
	both "$dbg" "$dbp" status
	is "$rc/$da_items" "0/True 2 2 000001_users.sql/applied/;000002_posts.sql/applied/;000003_tags.sql/pending/" \
		"$variant goose table: status over the Data API sees goose's versions"
	is "$da_items" "$pg_items" "... as over libpq"
	is "$(has_table "$dbg" gosling_migrations)" f "$variant goose table: status over the Data API adopts nothing"
	both "$dbg" "$dbp" up $atomic
	is "$rc/$(rows "$dbg")" "0/1,2,3" \
		"$variant goose table: up $atomic over the Data API adopts 1, 2 and applies 3 only $(tail -2 <<<"$err")"
	is "$da_items" "$pg_items" "... its result as over libpq ($da_items)"
	is "$(psql_q "$dbg" "SELECT count(*) FROM users")/$(has_table "$dbg" tags)" "0/t" \
		"... the adopted migrations did not run again, 3 did"
	is "$(psql_q "$dbg" "SELECT string_agg(origin, ',' ORDER BY version) FROM gosling_migrations")" "goose,goose,gosling" \
		"... the adopted rows say goose"
	is "$(psql_q "$dbg" "SELECT string_agg(version_id || ':' || is_applied, ',' ORDER BY id) FROM goose_db_version")" \
		"0:true,1:true,2:true,3:true" "... goose's table gets version 3"
	is "$(snap "$dbg")" "$(snap "$dbp")" "... gosling's history and goose's table as over libpq"
	both "$dbg" "$dbp" down --allow-down
	is "$rc/$(psql_q "$dbg" "SELECT max(version_id) FROM goose_db_version")/$(rows "$dbg")" "0/2/1,2" \
		"$variant goose table: down over the Data API removes goose's row too"
	is "$da_items/$(snap "$dbg")" "$pg_items/$(snap "$dbp")" "... as over libpq"
done

# a goose row of a later version marked not applied (goose's legacy down): not applied
dbg=$(pg_newdb)
dbp=$(pg_newdb)
for db in "$dbg" "$dbp"; do
	goose_db "$db" serial
	psql_q "$db" "INSERT INTO goose_db_version (version_id, is_applied) VALUES (2, false); DROP TABLE posts" >/dev/null
done
both "$dbg" "$dbp" up
is "$rc:$(rows "$dbg"):$(psql_q "$dbg" "SELECT string_agg(origin, ',' ORDER BY version) FROM gosling_migrations")" \
	"0:1,2,3:goose,gosling,gosling" "goose's legacy is_applied=false row over the Data API: version 2 is applied again"
is "$da_items/$(snap "$dbg")" "$pg_items/$(snap "$dbp")" "... the result, the history and goose's table as over libpq"

# --- out of order: two migrations put in below an applied one, in one block --------------------
# 2 and 3 go in below 4: the block's rows, then 4's chain re-computed as each went in (rechain),
# and verify passes on the chains; the history equal to a libpq run's
O=$T/order
# omig V...: migration V of the order bundle, a table of its own
omig() {
	for v in "$@"; do
		mig "$O" 00000${v}_o.sql <<<"-- +goose Up
CREATE TABLE o$v (x int);
-- +goose Down
DROP TABLE o$v;"
	done
}
omig 1 4
mkbin "$O" || fail "the order bundle builds"
dbo=$(pg_newdb)
dbq=$(pg_newdb)
da "$O/gosling" "$dbo" up
run "$O/gosling" "$dbq" up
omig 2 3
rm -f "$O/gosling" "$O/bundle.c"
mkbin "$O" || fail "the order bundle builds again"
mark
da "$O/gosling" "$dbo" up --allow-out-of-order
is "$rc/$(rows "$dbo")/$(grep -c '"operation":"ExecuteStatement"' "$T/api.log" | tr -d ' ')" "0/1,2,3,4/6" \
	"--allow-out-of-order over the Data API puts 2 and 3 in below 4, one block (6 calls: 5 of gosling's own) $(tail -2 <<<"$err")"
run "$O/gosling" "$dbq" up --allow-out-of-order
is "$(psql_q "$dbo" "SELECT string_agg(version || ':' || chain, ',' ORDER BY version) FROM gosling_migrations")" \
	"$(psql_q "$dbq" "SELECT string_agg(version || ':' || chain, ',' ORDER BY version) FROM gosling_migrations")" \
	"... every row's chain as over libpq (4's re-chained twice)"
da "$O/gosling" "$dbo" verify
is "$rc" 0 "... and verify passes"
da "$O/gosling" "$dbo" down-to 0 --allow-down
is "$rc/$(rows "$dbo")/$(has_table "$dbo" o2)" "0//f" "down-to 0 over the Data API takes all four out in a block $(tail -2 <<<"$err")"

# --- the Lambda bootstrap (tests/lib/rapi.sh's local Runtime API) --------------------------------

dbl=$(pg_newdb)
(export "${da_env[@]}" DB_NAME=$dbl; rapi lam "$B/gosling" '[{"body": {}}, {"body": {"command": "status"}},
	{"body": {"command": "verify"}}]')
is_j lam '[i["kind"] for i in inv]' '["response", "response", "response"]' "the bootstrap over the Data API: three events, three responses $(tail -2 "$T/lam.err")"
is_j lam '[res(0)["ok"], res(0)["version_after"], [m["action"] for m in res(0)["migrations"]]]' \
	'[true, 3, ["applied", "applied", "applied"]]' "{} migrates to version 3 over the Data API"
is_j lam '[m["state"] for m in res(1)["migrations"]]' '["applied", "applied", "applied"]' "a status event over the Data API"
is_j lam 'res(2)["ok"]' True "a verify event over the Data API"
is "$(rows "$dbl")" "1,2,3" "the database holds the history the bootstrap wrote"

# --- the Lambda suite's scenarios over the Data API ----------------------------------------------
# tests/lambda/scenarios/*.json (tests/lambda.sh runs them over libpq) with the bootstrap
# configured for the Data API (tests/lambda/scenarios.py --transport dataapi), against a stand-in
# taking the scenarios' own AWS credentials (the CodeDeploy ones); their "sql" checks read the
# PostgreSQL behind it.  A scenario, run or check that cannot apply names why in its file ("only": "libpq", "why").
standin scen 1 AKIDEXAMPLE wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY session-token-sekrit ||
	fail "the scenarios' stand-in listens" "$(cat "$T/scen.err")"
SC=$T/scenarios
mkdir -p "$SC"
for b in ok fail drift sleep utf8; do
	"$GOSLINGC" build --quiet --out "$SC/$b.c" "tests/lambda/migrations/$b" && gosling_link "$SC/$b" "$SC/$b.c" ||
		fail "bundle $b compiles and links"
done
dataapi_env "$scen"
scen_env=()
for v in "${da_env[@]}"; do
	case $v in PGHOST=* | PGPORT=*) ;; AWS_ACCESS_KEY_ID=* | AWS_SECRET_ACCESS_KEY=*) ;; *) scen_env+=(--dataapi-env "$v") ;; esac
done
scen_env+=(--dataapi-env AWS_ACCESS_KEY_ID=AKIDEXAMPLE --dataapi-env AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
	--dataapi-env AWS_SESSION_TOKEN=session-token-sekrit)
dataapi_env "$API"
rc=0
python3 tests/lambda/scenarios.py --bin-dir "$SC" --work "$SC" --transport dataapi "${scen_env[@]}" \
	--dataapi-log "$T/scen.log" tests/lambda/scenarios/*.json >"$SC/scenarios.tap" || rc=$?
tap_include "over the Data API: " <"$SC/scenarios.tap"
[ "$rc" = 0 ] || [ "$tap_included_failed" != 0 ] || fail "the scenario runner exited $rc without reporting a failure"

# --- a failing statement ---------------------------------------------------------------------------

F=$T/fail
mig "$F" 000001_ok.sql <<'EOF'
-- +goose Up
CREATE TABLE a (id int);
EOF
mig "$F" 000002_bad.sql <<'EOF'
-- +goose Up
CREATE TABLE b (id int);
INSERT INTO b VALUES (1);

INSERT INTO nowhere VALUES (1);
CREATE TABLE c (id int);
EOF
mkbin "$F" || fail "the failing bundle builds"
dbf=$(pg_newdb)
da "$F/gosling" "$dbf" up
is "$rc" 1 "a failing statement over the Data API: up exits 1"
like "$err$out" "000002_bad.sql" "... the error names the file"
like "$err$out" "statement 3" "... the statement"
like "$err$out" "line 5" "... its line"
like "$err$out" "42P01" "... and the SQLSTATE"
like "$err$out" 'relation "nowhere" does not exist' "... with PostgreSQL's message"
is "$(rows "$dbf")/$(has_table "$dbf" b)" "1/f" "migration 1 stays applied, nothing of migration 2 is"

# --- --atomic: every pending migration in one transaction ------------------------------------------

A=$T/atomic
mig "$A" 000001_a.sql <<<"-- +goose Up
CREATE TABLE z (v int);"
for i in 2 3 4; do
	mig "$A" 00000${i}_a.sql <<<"-- +goose Up
INSERT INTO z VALUES ($i);"
done
mkbin "$A" || fail "the atomic bundle builds"
dba=$(pg_newdb)
mark
da "$A/gosling" "$dba" --json up --atomic
is "$rc/$(rows "$dba")/$(psql_q "$dba" 'SELECT string_agg(v::text, $$,$$ ORDER BY v) FROM z')" "0/1,2,3,4/2,3,4" \
	"up --atomic over the Data API applies the 4 pending migrations $(tail -2 <<<"$err")"
is "$(python3 -c 'import json,sys; print(",".join(m["action"] for m in json.load(open(sys.argv[1]))["migrations"]))' "$T/out")" \
	"applied,applied,applied,applied" "... the result says each was applied"
is "$(calls BeginTransaction)/$(calls CommitTransaction)" "1/1" \
	"... in one transaction, the migrations' (BeginTransaction/CommitTransaction; the history table is one autocommit call)"
# the calls between the migrations' BeginTransaction and its CommitTransaction
inside=$(grep -o '"operation":"[A-Za-z]*"\|"in_transaction":[a-z]*' "$T/api.log" | paste -d' ' - - |
	awk '/BeginTransaction/ {s = ""; next} /CommitTransaction/ {last = s; next} {s = s $0 ";"} END {print last}')
is "$inside" '"operation":"ExecuteStatement" "in_transaction":true;' \
	"... the 4 migrations in one DO block, a call naming that transaction"
atomic_commit=$(grep -n '"operation":"CommitTransaction"' "$T/api.log" | tail -1 | cut -d: -f1)

# the failing second of two: the first is rolled back with it
dbaf=$(pg_newdb)
da "$F/gosling" "$dbaf" up --atomic
is "$rc" 1 "a failing last migration in up --atomic over the Data API: exit 1"
like "$err$out" "000002_bad.sql" "... the error names the file"
like "$err$out" "statement 3 (line 5)" "... the statement and its line"
like "$err$out" "42P01" "... the SQLSTATE"
like "$err$out" 'relation "nowhere" does not exist' "... PostgreSQL's message"
like "$err$out" "atomic: none of the 2 migrations was applied" "... and that none was applied"
is "$(rows "$dbaf")/$(has_table "$dbaf" a)/$(has_table "$dbaf" b)" "/f/f" "... none is: no history row, no table of either"

# TransactionNotFoundException after the block of 2 to 4 ran in the transaction: the set goes again
dbat=$(pg_newdb)
printf 'expire:INSERT INTO z VALUES (3\n' >"$T/api.faults"
mark
da "$A/gosling" "$dbat" up --atomic
is "$rc/$(rows "$dbat")" "0/1,2,3,4" "TransactionNotFoundException mid-way through up --atomic: the run succeeds $(tail -1 <<<"$err")"
like "$err" "lost the atomic run's transaction (TransactionNotFoundException): running its 4 migrations again" \
	"... saying it runs the whole set again"
is "$(psql_q "$dbat" 'SELECT string_agg(v::text, $$,$$ ORDER BY v) FROM z')" "2,3,4" "... each migration's work stands once"
is "$(calls BeginTransaction)/$(calls CommitTransaction)" "2/1" "... in a second transaction after the one the stand-in expired"

# the transaction lost on every call: UNIT_RESTARTS restarts, then a clear failure, nothing applied
dbae=$(pg_newdb)
da "$A/gosling" "$dbae" up-to 1
for _ in $(seq 60); do echo expire; done >"$T/api.faults"
mark
da "$A/gosling" "$dbae" up --atomic
: >"$T/api.faults"
is "$rc/$(rows "$dbae")/$(psql_q "$dbae" 'SELECT count(*) FROM z')" "1/1/0" \
	"the atomic run's transaction lost again and again: exit 1, nothing of 2-4 applied"
like "$err$out" "lost the atomic run's transaction again and again" "... saying why"
is "$(calls BeginTransaction)" 4 "... after 3 restarts (4 transactions)"
# the last "expire" stays armed in the stand-in until a call names a live transaction: spend it
# on a throwaway atomic run (its transaction lost once, then run again), so later runs do not
# inherit it
da "$A/gosling" "$(pg_newdb)" up --atomic

# CommitTransaction's answer lost: after it committed (drop-after), and before it arrived (drop)
for fault in drop-after drop; do
	dbac=$(pg_newdb)
	{ for _ in $(seq $((atomic_commit - 1))); do echo ok; done; echo "$fault"; } >"$T/api.faults"
	mark
	da "$A/gosling" "$dbac" up --atomic
	: >"$T/api.faults"
	is "$rc/$(rows "$dbac")/$(psql_q "$dbac" 'SELECT string_agg(v::text, $$,$$ ORDER BY v) FROM z')" "0/1,2,3,4/2,3,4" \
		"up --atomic whose CommitTransaction's answer is lost ($fault): succeeds, each migration once $(tail -1 <<<"$err")"
	is "$(grep -c '"fault":"'$fault'"' "$T/api.log" | tr -d ' ')/$(grep '"fault":"'$fault'"' "$T/api.log" | grep -c CommitTransaction)" \
		"1/1" "... the fault hit the CommitTransaction"
	case $fault in
	drop-after) want="but the history shows the 4 migrations committed" ;;
	*) want="the history shows the 4 migrations did not commit: running them again" ;;
	esac
	like "$err" "$want" "... the last migration's history row read back decides ($fault)"
done

# --- concurrency ---------------------------------------------------------------------------------

C=$T/conc
mig_runs "$C" 12
mkbin "$C" || fail "the concurrency bundle builds"
dbc=$(pg_newdb)
pids=()
for i in 1 2 3 4 5 6 7 8; do
	# set +e: the script runs under set -e (da), which would end a failing up's subshell
	# before its exit status is written
	(set +e; env "${da_env[@]}" DB_NAME="$dbc" "$C/gosling" up >"$T/c$i.out" 2>"$T/c$i.err"; echo $? >"$T/c$i.rc") &
	pids+=($!)
done
wait "${pids[@]}" || true
conc_rcs=$(for i in 1 2 3 4 5 6 7 8; do cat "$T/c$i.rc" 2>/dev/null || echo none; done | sort -u | tr '\n' ' ')
ok_rc "$([ "$conc_rcs" = "0 " ] && echo 0 || echo 1)" "8 concurrent ups over the Data API all exit 0" \
	"$(for i in 1 2 3 4 5 6 7 8; do r=$(cat "$T/c$i.rc" 2>/dev/null); [ "$r" = 0 ] || { echo "up $i exited ${r:-?}:"; tail -5 "$T/c$i.err"; }; done)"
is "$(psql_q "$dbc" 'SELECT count(*), count(DISTINCT v) FROM runs')" "11|11" "... and apply each migration once"
is "$(rows "$dbc" | tr ',' '\n' | wc -l | tr -d ' ')" 12 "... all 12 recorded"

dbr=$(pg_newdb)
(set +e; env "${da_env[@]}" DB_NAME="$dbr" "$C/gosling" up >"$T/r1.out" 2>"$T/r1.err"; echo $? >"$T/r1.rc") &
p1=$!
(set +e; DB_NAME=$dbr "$C/gosling" up >"$T/r2.out" 2>"$T/r2.err"; echo $? >"$T/r2.rc") &
p2=$!
wait $p1 $p2 || true
race=$(cat "$T/r1.rc" 2>/dev/null)/$(cat "$T/r2.rc" 2>/dev/null)
ok_rc "$([ "$race" = 0/0 ] && echo 0 || echo 1)" "a Data API up racing a libpq up: both exit 0" \
	"exit statuses $race; Data API: $(tail -3 "$T/r1.err"); libpq: $(tail -3 "$T/r2.err")"
is "$(psql_q "$dbr" 'SELECT count(*), count(DISTINCT v) FROM runs')" "11|11" "... and each migration is applied once"

# --- the run lock's lease: extended between migrations, lapsing after a crash --------------------

# 5 migrations of about 1 s each, too large to share a DO block (a call each): a run of about 5 s
# under a 2 s lease (GOSLING_LEASE=2), which lapses mid-run unless it is extended
E=$T/lease
pad=$(python3 -c 'print("p" * 33000)')
mig "$E" 000001_e.sql <<<"-- +goose Up
CREATE TABLE e (v int);
SELECT pg_sleep(1), length('$pad');"
for i in 2 3 4 5; do
	mig "$E" 00000${i}_e.sql <<<"-- +goose Up
INSERT INTO e VALUES ($i);
SELECT pg_sleep(1), length('$pad');"
done
mkbin "$E" || fail "the lease bundle builds"
dbe=$(pg_newdb)
(env "${da_env[@]}" DB_NAME="$dbe" GOSLING_LEASE=2 "$E/gosling" up >"$T/e1.out" 2>"$T/e1.err"; echo $? >"$T/e1.rc") &
pe=$!
sleep 3
live=$(psql_q "$dbe" "SELECT count(*) FROM gosling_lock WHERE lease_expires_at > clock_timestamp()")
wait $pe
is "$live" 1 "3 s into a 5 s run under a 2 s lease, the lease row is still live (extended between migrations)"
is "$(cat "$T/e1.rc")/$(rows "$dbe")/$(psql_q "$dbe" 'SELECT count(*), count(DISTINCT v) FROM e')" "0/1,2,3,4,5/4|4" \
	"... the first run completes, each migration applied once $(tail -1 "$T/e1.err")"
is "$(psql_q "$dbe" 'SELECT count(*) FROM gosling_lock')" 0 "... and its lease row is gone after it"

# a run killed mid-migration leaves its lease row; it lapses after GOSLING_LEASE, and the next run
# proceeds.  Killed once migration 1 has committed: inside a unit's autocommit call, not inside the
# transaction of gosling's own rows (which the Data API would keep, with the key's lock, 3 minutes)
dbk=$(pg_newdb)
(exec env "${da_env[@]}" DB_NAME="$dbk" GOSLING_LEASE=3 "$E/gosling" up >"$T/k1.out" 2>"$T/k1.err") &
pk=$!
for _ in $(seq 100); do
	[ "$(psql_q "$dbk" "SELECT count(*) FROM pg_tables WHERE tablename = 'gosling_migrations'")" = 1 ] &&
		[ "$(psql_q "$dbk" 'SELECT count(*) FROM gosling_migrations')" -ge 1 ] && break
	sleep 0.1
done
kill -KILL $pk
wait $pk 2>/dev/null || true
is "$(psql_q "$dbk" 'SELECT count(*) FROM gosling_lock')" 1 "a run killed mid-run leaves its lease row"
t0=$(date +%s%N)
da "$E/gosling" "$dbk" up
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
is "$rc/$(rows "$dbk")/$(psql_q "$dbk" 'SELECT count(*), count(DISTINCT v) FROM e')" "0/1,2,3,4,5/4|4" \
	"the next run (default lease, lock wait 60 s) takes the lapsed lease and applies the rest once $(tail -1 <<<"$err")"
is "$((ms < 20000))" 1 "... within the killed run's 3 s lease and the migrations' 5 s: $ms ms"
like "$err" "waiting for the migration lock" "... after waiting for the lease to lapse"

# --- DatabaseResumingException ---------------------------------------------------------------------

dbz=$(pg_newdb)
printf 'resuming\nresuming\nresuming\nresuming\nresuming\n' >"$T/api.faults"
t0=$(date +%s)
da "$B/gosling" "$dbz" up
is "$rc/$(rows "$dbz")" "0/1,2,3" "up through 5 DatabaseResumingExceptions in a row (past rdsdata's 3 attempts)"
like "$err" "the database is resuming" "... saying it waits for the cluster"
: >"$T/api.faults"

# --- sizes: 200 migrations, a migration over 65,536 characters, the calls they take ------------------

S=$T/sizes
python3 - "$S" <<'EOF'
import os, sys
d = sys.argv[1]
os.makedirs(d, exist_ok=True)
with open(os.path.join(d, "000001_t.sql"), "w") as f:
    f.write("-- +goose Up\nCREATE TABLE t (v int, s text);\n")
for i in range(2, 201):
    with open(os.path.join(d, "%06d_m.sql" % i), "w", encoding="utf-8") as f:
        f.write("-- +goose Up\nINSERT INTO t VALUES (%d, 'ünïcödé %d');\n" % (i, i))
# a migration of 122,000 characters: two DO blocks of two and one 20,000-character statements, and one
# of 62,000 sent alone (its DO block would pass the 65,536-character limit)
with open(os.path.join(d, "000201_big.sql"), "w", encoding="utf-8") as f:
    f.write("-- +goose Up\n")
    for k, n in enumerate((20000, 20000, 20000, 62000)):
        f.write("INSERT INTO t VALUES (%d, '%s');\n" % (1000 + k, "é" * n))
EOF
mkbin "$S" || fail "the sizes bundle builds"
dbs=$(pg_newdb)
mark
da "$S/gosling" "$dbs" up
is "$rc" 0 "up of 201 migrations over the Data API exits 0 $(tail -2 <<<"$err")"
is "$(psql_q "$dbs" "SELECT count(*), sum(length(s)) FILTER (WHERE v >= 1000) FROM t")" "203|122000" \
	"... every row, the 122,000-character migration whole"
ex=$(calls ExecuteStatement)
# the bound: the migrations' SQL and each one's share of its block's history rows (version, name,
# three checksums: about 250 characters) in DO blocks of 60 KiB, the big migration's 4 calls, and 5
# of gosling's own (the lease and its release, the tables, the history table, the newest row)
bytes=$(cat "$S"/*.sql | wc -c)
bound=$(( (bytes + 250 * 201 + 61439) / 61440 + 4 + 5 ))
is "$((ex <= bound))" 1 "201 migrations ($bytes bytes of SQL): $ex ExecuteStatement calls, at most $bound"
is "$(calls BeginTransaction)/$(calls CommitTransaction)" "1/1" "... one transaction: the big migration's"
echo "calls for 201 migrations: ExecuteStatement $ex, BeginTransaction $(calls BeginTransaction), CommitTransaction $(calls CommitTransaction)" | diag
is "$(psql_q "$dbs" "SELECT count(*) FROM gosling_migrations")" 201 "... all 201 recorded"
# the same 201 with --atomic: the blocks and the big migration's calls all in one transaction
dbsa=$(pg_newdb)
mark
da "$S/gosling" "$dbsa" up --atomic
is "$rc/$(psql_q "$dbsa" "SELECT count(*) FROM gosling_migrations")" "0/201" \
	"up --atomic of the 201 migrations over the Data API applies all $(tail -2 <<<"$err")"
ex=$(calls ExecuteStatement)
is "$(calls BeginTransaction)/$(calls CommitTransaction)/$(grep '"operation":"ExecuteStatement"' "$T/api.log" | grep -c '"in_transaction":true')" \
	"1/1/$((ex - 5))" "... one transaction holding every ExecuteStatement but gosling's own 5"
is "$((ex - 5 >= 4))" 1 "... the blocks and the big migration's calls: $((ex - 5)) in it for the 201"
# a transaction of gosling's own rows past one call's 60 KiB: baseline writes 201 history rows
# (about 150 KB of SQL), so its DO blocks go in one BeginTransaction .. CommitTransaction
dbb=$(pg_newdb)
mark
da "$S/gosling" "$dbb" baseline 201
is "$rc" 0 "baseline of 201 migrations over the Data API exits 0 $(tail -2 <<<"$err")"
is "$(psql_q "$dbb" "SELECT count(*) FILTER (WHERE origin = 'baseline'), count(*) FROM gosling_migrations")" "201|201" \
	"... records all 201, and nothing ran: no table t"
is "$(calls BeginTransaction)/$(calls CommitTransaction)/$(calls RollbackTransaction)" "1/1/0" \
	"... in one transaction, as its rows are more than one call holds"
ex=$(calls ExecuteStatement)
is "$((ex >= 3 + 5))" 1 "... its rows in DO blocks of 60 KiB: $ex ExecuteStatement calls (5 of them gosling's own)"
is "$(has_table "$dbb" t)" f "... nothing of the migrations ran"
da "$S/gosling" "$dbb" verify
is "$rc" 0 "... and verify passes on the baselined history (every chain as the build computes it)"

# adopting 200 versions goose applied: the rows go in DO blocks of DO_CAP, not a call each
for db in dbg dbp; do
	printf -v "$db" '%s' "$(pg_newdb)"
	psql_q "${!db}" "CREATE TABLE goose_db_version (id serial NOT NULL, version_id bigint NOT NULL,
		is_applied boolean NOT NULL, tstamp timestamp NULL default now(), PRIMARY KEY(id));
		INSERT INTO goose_db_version (version_id, is_applied) SELECT v, true FROM generate_series(0, 200) v;
		CREATE TABLE t (v int, s text);" >/dev/null
done
mark
da "$S/gosling" "$dbg" up
ex=$(calls ExecuteStatement)
is "$rc/$(psql_q "$dbg" "SELECT count(*) FILTER (WHERE origin = 'goose') || ',' || count(*) FROM gosling_migrations")" "0/200,201" \
	"up over the Data API on a goose database of 200 versions adopts them and applies 201 $(tail -1 <<<"$err")"
is "$((ex <= 30))" 1 "... in $ex ExecuteStatement calls (at most 30; one call a version would be over 200)"
run "$S/gosling" "$dbp" up
is "$(snap "$dbg")" "$(snap "$dbp")" "... gosling's history and goose's table as over libpq"
echo "adopting 200 goose versions over the Data API: ExecuteStatement $ex" | diag

# goose's table of a database goose ran for years: 60,000 versions, past one 1 MiB answer (about
# 25 bytes a version): read in pages, status over the Data API as over libpq
dbg=$(pg_newdb)
dbp=$(pg_newdb)
for db in "$dbg" "$dbp"; do
	goose_db "$db" serial
	psql_q "$db" "INSERT INTO goose_db_version (version_id, is_applied) SELECT v, true FROM generate_series(3, 60000) v" >/dev/null
done
mark
both "$dbg" "$dbp" status
is "$rc/$pg_rc/$(grep -c '"status":200' "$T/api.log" | tr -d ' ')/$(grep -c . "$T/api.log" | tr -d ' ')" "$pg_rc/$pg_rc/8/8" \
	"status over the Data API on goose's table of 60,000 versions: as over libpq (exit $rc), every call answered (the tables, 7 pages of 10,000)"
is "$da_items" "$pg_items" "... the same result"

L=$T/long
mig "$L" 000001_long.sql <<EOF
-- +goose Up
CREATE TABLE l (s text);
INSERT INTO l VALUES ('$(python3 -c 'print("x" * 70000)')');
EOF
mkbin "$L" || fail "the long bundle builds"
dbl=$(pg_newdb)
da "$L/gosling" "$dbl" up
is "$rc/$(has_table "$dbl" l)" "1/f" "a 70,000-character statement: up fails, nothing of its migration applied"
like "$err" "000001_long.sql statement 2 (line 3)" "... naming the file, the statement and its line"
like "$err" "Member must have length less than or equal to 65536" "... and the service's limit"

# --- StatementTimeoutException: the history row decides, nothing is sent again -------------------

W=$T/slow
mig "$W" 000001_slow.sql <<'EOF'
-- +goose Up
CREATE TABLE slow (id int);
SELECT pg_sleep(3);
EOF
mkbin "$W" || fail "the slow bundle builds"
dbw=$(pg_newdb)
set +e
env "${da_env[@]}" AWS_ENDPOINT_URL_RDS_DATA=https://localhost:$fast DB_NAME="$dbw" "$W/gosling" up >"$T/out" 2>"$T/err"
rc=$?
set -e
err=$(cat "$T/err")
is "$rc" 1 "a migration past the Data API's 45 s per call (scaled to 0.9 s): up fails"
like "$err" "000001_slow.sql" "... naming the file"
like "$err" "StatementTimeoutException" "... and the service's timeout"
sleep 3
is "$(has_table "$dbw" slow)/$(rows "$dbw")" "f/" "... nothing of it applied (the call's statement was cancelled)"
is "$(grep -c '"error":"StatementTimeoutException"\|StatementTimeoutException' "$T/fast.log" | tr -d ' ')" 1 \
	"... and it was sent once: no blind retry after the timeout"
# --- TransactionNotFoundException and lost answers: read back, run again, never twice -------------

X=$T/restart
pad=$(python3 -c 'print("q" * 35000)')
mig "$X" 000001_x.sql <<<"-- +goose Up
CREATE TABLE x (v int, s text);"
# two statements too long to share a DO block: a transaction of two calls
mig "$X" 000002_x.sql <<<"-- +goose Up
INSERT INTO x VALUES (2, '$pad');
INSERT INTO x VALUES (3, '$pad');"
for i in 4 5 6 7; do
	mig "$X" 00000${i}_x.sql <<<"-- +goose Up
INSERT INTO x VALUES ($i, 'x$i');"
done
mkbin "$X" || fail "the restart bundle builds"
dbx=$(pg_newdb)
da "$X/gosling" "$dbx" up-to 1
echo expire >"$T/api.faults"
mark
da "$X/gosling" "$dbx" up-to 2
is "$rc/$(rows "$dbx")" "0/1,2" "TransactionNotFoundException inside a migration's transaction: up applies it all the same $(tail -1 <<<"$err")"
like "$err" "lost its transaction (TransactionNotFoundException): running it again" "... saying it runs the migration again"
is "$(psql_q "$dbx" 'SELECT string_agg(v::text, $$,$$ ORDER BY v) FROM x')" "2,3" "... once: its statements ran once"
is "$(calls BeginTransaction)/$(grep '"operation":"ExecuteStatement"' "$T/api.log" | grep -c TransactionNotFoundException)" "2/1" \
	"... a second transaction after the one the stand-in expired"
printf 'drop-after:INSERT INTO x VALUES (4\n' >"$T/api.faults"
da "$X/gosling" "$dbx" up-to 4
is "$rc/$(rows "$dbx")" "0/1,2,4" "a migration's answer lost after it ran: up succeeds $(tail -1 <<<"$err")"
like "$err" "but the history shows it committed" "... its history row read back says it committed"
is "$(psql_q "$dbx" 'SELECT count(*) FROM x WHERE v = 4')" 1 "... and it ran once"
printf 'drop-after:INSERT INTO x VALUES (6\n' >"$T/api.faults"
da "$X/gosling" "$dbx" up-to 6
is "$rc/$(rows "$dbx")" "0/1,2,4,5,6" "a DO block of two migrations whose answer is lost after it ran: up succeeds $(tail -1 <<<"$err")"
like "$err" "but the history shows the 2 migrations committed" "... the history read back says they committed"
is "$(psql_q "$dbx" 'SELECT count(*) FROM x WHERE v IN (5, 6)')" 2 "... and each ran once"
printf 'drop:INSERT INTO x VALUES (7\n' >"$T/api.faults"
da "$X/gosling" "$dbx" up
is "$rc/$(rows "$dbx")" "0/1,2,4,5,6,7" "a migration's call lost before it ran: up succeeds $(tail -1 <<<"$err")"
like "$err" "the history shows it did not commit: running it again" "... sent again once its history row says it did not run"
is "$(psql_q "$dbx" 'SELECT count(*) FROM x WHERE v = 7')" 1 "... and it ran once"
: >"$T/api.faults"

# --- what another run applied meanwhile is reported as such ------------------------------------------

# while migration 1 runs (2 s), rows of 2 and 3 appear in the history as another run would leave
# them: 2 (a call of its own) and 3 (in a block with 4) are found under the key's lock and not run
Y=$T/another
pad=$(python3 -c 'print("r" * 35000)')
mig "$Y" 000001_y.sql <<<"-- +goose Up
CREATE TABLE y (v int);
SELECT pg_sleep(2), length('$pad');"
mig "$Y" 000002_y.sql <<<"-- +goose Up
INSERT INTO y VALUES (2);
SELECT length('$pad');"
for i in 3 4; do
	mig "$Y" 00000${i}_y.sql <<<"-- +goose Up
INSERT INTO y VALUES ($i);"
done
mkbin "$Y" || fail "the another-run bundle builds"
dby=$(pg_newdb)
(env "${da_env[@]}" DB_NAME="$dby" "$Y/gosling" --json up >"$T/y.out" 2>"$T/y.err"; echo $? >"$T/y.rc") &
py=$!
for _ in $(seq 100); do
	[ "$(psql_q "$dby" "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
		AND pid <> pg_backend_pid() AND query LIKE '%pg_sleep(2)%'")" = 1 ] && break
	sleep 0.05
done
psql_q "$dby" "INSERT INTO gosling_migrations (version, name, file_checksum, exec_checksum, chain, applied_at, build_id, origin)
	SELECT v, 'other', 'other', 'other', 'other', now(), 'other', 'gosling' FROM generate_series(2, 3) v" >/dev/null
wait $py
is "$(cat "$T/y.rc")/$(psql_q "$dby" 'SELECT string_agg(v::text, $$,$$ ORDER BY v) FROM y')" "0/4" \
	"migrations another run applied meanwhile are not run again $(tail -1 "$T/y.err")"
is "$(python3 -c 'import json,sys; print(",".join(m["action"] for m in json.load(open(sys.argv[1]))["migrations"]))' "$T/y.out")" \
	"applied,applied by another run,applied by another run,applied" \
	"... and the result says so: action \"applied by another run\" (a call of its own, and in a block)"
like "$(cat "$T/y.err")" "version 3: applied by another run meanwhile" "... with a warning naming the version"

# --- NO TRANSACTION: one call per statement, the resume point recorded ------------------------------

N=$T/notx
mig "$N" 000001_n.sql <<'EOF'
-- +goose Up
CREATE TABLE n (id int);
EOF
mig "$N" 000002_idx.sql <<'EOF'
-- +goose NO TRANSACTION
-- +goose Up
CREATE INDEX CONCURRENTLY n_id ON n (id);
INSERT INTO later VALUES (1);
CREATE INDEX CONCURRENTLY n_id2 ON n (id);
EOF
mkbin "$N" || fail "the NO TRANSACTION bundle builds"
dbn=$(pg_newdb)
da "$N/gosling" "$dbn" up
is "$rc" 1 "a NO TRANSACTION migration's failing statement over the Data API: up exits 1"
like "$err" "000002_idx.sql statement 2" "... naming the file and the statement"
is "$(psql_q "$dbn" "SELECT failed_statement FROM gosling_migrations WHERE version = 2")/$(has_table "$dbn" n_id)" "2/t" \
	"... statement 1 stays, the partial row records statement 2 as the resume point"
psql_q "$dbn" "CREATE TABLE later (v int)" >/dev/null
da "$N/gosling" "$dbn" up
is "$rc/$(psql_q "$dbn" "SELECT coalesce(failed_statement, 0) FROM gosling_migrations WHERE version = 2")" "0/0" \
	"the next up resumes at statement 2 and completes the row"
is "$(psql_q "$dbn" "SELECT count(*) FROM later")/$(has_table "$dbn" n_id2)" "1/t" "... running statements 2 and 3 once"

# --- a CREATE INDEX CONCURRENTLY that failed, resumed over the Data API -----------------------------
# tests/locks.sh's scenario over the Data API: a unique index built concurrently over duplicates
# fails and leaves the index INVALID; once they are fixed, up resumes at that statement, drops the
# INVALID index concurrently (index_invalid, index_drop) and builds it again.  The name is unquoted
# mixed case, the table schema-qualified, behind a comment: the server folds and resolves them.
I=$T/cic
mig "$I" 000001_uniq.sql <<'EOF'
-- +goose NO TRANSACTION
-- +goose Up
CREATE TABLE audit (id int);
/* one address per user */ CREATE UNIQUE INDEX CONCURRENTLY Users_Email_Key
	ON public.users (email);
INSERT INTO audit VALUES (1);
EOF
mkbin "$I" || fail "the CREATE INDEX CONCURRENTLY bundle builds"
dbi=$(pg_newdb)
psql_q "$dbi" "CREATE TABLE users (id int PRIMARY KEY, email text);
	INSERT INTO users SELECT g, 'u' || g || '@example.com' FROM generate_series(1, 1000) g;
	INSERT INTO users VALUES (1001, 'u7@example.com')" >/dev/null
invalid() { psql_q "$1" "SELECT coalesce(string_agg(c.relname || ':' || i.indisvalid, ','), 'none')
	FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = '$2'"; }
# jqo PATH: a value of the last result ($out), dot-separated keys and indices; null as "null"
jqo() { python3 -c 'import json, sys
v = json.loads(sys.argv[2])
for k in sys.argv[1].split("."):
    v = v[int(k)] if k.isdigit() else v.get(k)
print("null" if v is None else v)' "$1" "$out"; }
da "$I/gosling" "$dbi" --json up
is "$rc" 1 "a unique index built concurrently over duplicates, over the Data API: exit 1"
is "$(jqo migrations.0.failed_statement):$(jqo error.sqlstate)" "2:23505" \
	"... it stops at statement 2 with PostgreSQL's unique violation"
is "$(invalid "$dbi" users_email_key)" "users_email_key:false" "... and leaves the index INVALID"
psql_q "$dbi" "DELETE FROM users WHERE id = 1001" >/dev/null
mark
da "$I/gosling" "$dbi" --json up
is "$rc" 0 "once the duplicates are fixed, up over the Data API resumes and succeeds $(tail -2 <<<"$err")"
is "$(jqo migrations.0.action):$(jqo migrations.0.dropped_invalid_index)" "applied:public.users_email_key" \
	"... the result names the INVALID index it dropped"
like "$err" "dropping the INVALID index public.users_email_key that 000001_uniq.sql statement 2 left when it failed, before running it again" \
	"... the log says it drops it before running the statement again"
is "$(invalid "$dbi" users_email_key)" "users_email_key:true" "... the index is valid afterwards, the only one of its name"
is "$(rows "$dbi"):$(psql_q "$dbi" "SELECT count(*) FROM audit")" "1:1" \
	"... the migration recorded complete, its earlier statement not run twice"
is "$(calls RollbackTransaction)" 1 "... the lookup read in a transaction of its own, rolled back"

# a valid index of that name is never dropped: the statement fails (already exists), first and on resume
dbi=$(pg_newdb)
psql_q "$dbi" "CREATE TABLE users (id int PRIMARY KEY, email text);
	CREATE UNIQUE INDEX users_email_key ON users (email)" >/dev/null
da "$I/gosling" "$dbi" --json up
is "$rc:$(jqo error.sqlstate)" "1:42P07" "a valid index of that name stays: the statement fails (already exists)"
da "$I/gosling" "$dbi" --json up
is "$rc:$(jqo migrations.0.dropped_invalid_index)" "1:null" "... and on resume over the Data API nothing is dropped"
is "$(invalid "$dbi" users_email_key)" "users_email_key:true" "... the valid index is still there"

# --- NO TRANSACTION statements past the call's limit: continueAfterTimeout, the catalog decides ------
# Through the stand-in whose 45 s per call is 0.9 s.  A session from psql holds a transaction open
# on the table (a CREATE INDEX CONCURRENTLY waits for it) until the call has timed out, then
# commits: gosling must not send the statement again, but wait for its backend (found in
# pg_stat_activity by the comment it leads with) to end, then ask the catalog.
fastlog() { grep -c "$1" "$T/fast.log" | tr -d ' '; }
# likere TEXT ERE NAME: a line of TEXT matches ERE
likere() {
	if printf '%s' "$1" | grep -qE -- "$2"; then pass "$3"; else fail "$3" "$(printf 'in:   %s\nwant: %s' "$1" "$2")"; fi
}
# holder DB SQL: a psql session that runs SQL in an open transaction and waits for holder_commit
holder() {
	rm -f "$T/hold.fifo" && mkfifo "$T/hold.fifo"
	psql -X -q -d "$1" <"$T/hold.fifo" >"$T/hold.out" 2>&1 &
	hold_pid=$!
	exec 7>"$T/hold.fifo"
	echo "BEGIN; $2; SELECT 'held';" >&7
	for _ in $(seq 200); do
		[ "$(psql_q "$1" "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND state = 'idle in transaction' AND query LIKE '%''held''%'")" = 1 ] && return 0
		sleep 0.05
	done
	echo "# the holding session did not open its transaction: $(cat "$T/hold.out")"
	return 1
}
holder_commit() { echo "COMMIT;" >&7; exec 7>&-; wait "$hold_pid" || true; }
# dafast_bg DIR DB: gosling --json up over the fast stand-in in the background; its pid in fast_pid
dafast_bg() {
	: >"$T/fast.log"
	(set +e; env "${da_env[@]}" AWS_ENDPOINT_URL_RDS_DATA=https://localhost:$fast DB_NAME="$2" "$1/gosling" --json up \
		>"$T/f.out" 2>"$T/f.err"; echo $? >"$T/f.rc") &
	fast_pid=$!
}
# fast_wait_timeout: until the stand-in has answered a StatementTimeoutException (at most 10 s)
fast_wait_timeout() {
	for _ in $(seq 200); do
		[ "$(fastlog StatementTimeoutException)" -ge 1 ] && return 0
		sleep 0.05
	done
	return 1
}
fast_done() { wait "$fast_pid" || true; rc=$(cat "$T/f.rc"); out=$(cat "$T/f.out"); err=$(cat "$T/f.err"); }

LW=$T/longcic
mig "$LW" 000001_w.sql <<'EOF'
-- +goose NO TRANSACTION
-- +goose Up
CREATE INDEX CONCURRENTLY w_v ON w (v);
EOF
mkbin "$LW" || fail "the long CREATE INDEX CONCURRENTLY bundle builds"
dbl2=$(pg_newdb)
psql_q "$dbl2" "CREATE TABLE w (v int); INSERT INTO w SELECT generate_series(1, 10000)" >/dev/null
holder "$dbl2" "INSERT INTO w VALUES (0)" || fail "a session holds a transaction open on w"
t0=$(date +%s%N)
dafast_bg "$LW" "$dbl2"
fast_wait_timeout
timed_out=$?
running=$(psql_q "$dbl2" "SELECT left(query, 160) FROM pg_stat_activity WHERE datname = current_database()
	AND state = 'active' AND query LIKE '%CREATE INDEX CONCURRENTLY w_v%' AND pid <> pg_backend_pid()")
sleep 0.5
holder_commit
fast_done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
is "$timed_out" 0 "a CREATE INDEX CONCURRENTLY waiting on an open transaction: the call times out (StatementTimeoutException)"
likere "$running" '^/\* gosling [0-9]+\.[0-9]+\.[0-9a-f]+ version 1 statement 1 \*/ CREATE INDEX CONCURRENTLY w_v' \
	"... the statement runs on, its backend's pg_stat_activity.query leading with the run, version and statement"
is "$rc/$(rows "$dbl2")" "0/1" "... gosling waits for it to end and reports success $(tail -2 <<<"$err")"
is "$(psql_q "$dbl2" "SELECT string_agg(c.relname || ':' || i.indisvalid, ',') FROM pg_index i
	JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'w'::regclass")" "w_v:true" "... with the index valid"
is "$(fastlog '"continue_after_timeout":true')/$(fastlog StatementTimeoutException)" "1/1" \
	"... sent once, with continueAfterTimeout, never again after the timeout"
like "$err" "waiting for it in pg_stat_activity" "... saying it waits for the statement"
is "$((ms >= 1400))" 1 "... it waited past the call's limit for the held transaction: $ms ms"

# the same build failing after the timeout: the held transaction inserts a duplicate the unique
# index then finds; reported as failed (the index INVALID), and the next run drops it and builds it
LU=$T/longuniq
mig "$LU" 000001_u.sql <<'EOF'
-- +goose NO TRANSACTION
-- +goose Up
CREATE UNIQUE INDEX CONCURRENTLY u_email ON u (email);
EOF
mkbin "$LU" || fail "the long unique index bundle builds"
dbu=$(pg_newdb)
psql_q "$dbu" "CREATE TABLE u (id int PRIMARY KEY, email text);
	INSERT INTO u SELECT g, 'u' || g || '@example.com' FROM generate_series(1, 10000) g" >/dev/null
holder "$dbu" "INSERT INTO u VALUES (10001, 'u7@example.com')" || fail "a session holds a duplicate uncommitted"
dafast_bg "$LU" "$dbu"
fast_wait_timeout
timed_out=$?
sleep 0.3
holder_commit
fast_done
is "$timed_out/$rc" "0/1" "a unique index build that fails after the call timed out: up exits 1"
like "$err" "000001_u.sql statement 1 (line 3): the statement ran past the RDS Data API's per-call limit" \
	"... naming the file and the statement, and that it ran past the call's limit"
like "$err" "the index public.u_email it builds is INVALID, so it failed (the next up drops it and builds it again)" \
	"... the catalog's verdict: the index is INVALID"
is "$(fastlog '"continue_after_timeout":true')/$(psql_q "$dbu" "SELECT failed_statement FROM gosling_migrations")" "1/1" \
	"... sent once; the partial row records statement 1 as the resume point"
psql_q "$dbu" "DELETE FROM u WHERE id = 10001" >/dev/null
da "$LU/gosling" "$dbu" --json up
is "$rc" 0 "the next up resumes $(tail -1 <<<"$err")"
like "$err" "dropping the INVALID index public.u_email that 000001_u.sql statement 1 left" "... dropping the INVALID index first"
is "$(psql_q "$dbu" "SELECT string_agg(c.relname || ':' || i.indisvalid, ',') FROM pg_index i
	JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'u'::regclass AND c.relname <> 'u_pkey'")" "u_email:true" \
	"... and builds it again, valid"

# a statement the catalog cannot judge: it runs on past the call and ends, and its outcome is unknown
LX=$T/longother
mig "$LX" 000001_x.sql <<'EOF'
-- +goose NO TRANSACTION
-- +goose Up
CREATE TABLE ran_on AS SELECT 1 AS x FROM pg_sleep(2);
EOF
mkbin "$LX" || fail "the long statement bundle builds"
dbx2=$(pg_newdb)
dafast_bg "$LX" "$dbx2"
fast_done
is "$rc" 1 "a statement the catalog cannot judge, past the call's limit: up exits 1"
like "$err" "000001_x.sql statement 1 (line 3): the statement ran past the RDS Data API's per-call limit (StatementTimeoutException) and ended on the server later" \
	"... naming the file and the statement, once it has ended"
like "$err" "its outcome is unknown; gosling does not run it again: check whether it took effect" "... saying its outcome is unknown, and what to check"
is "$(has_table "$dbx2" ran_on)/$(fastlog '"continue_after_timeout":true')" "t/1" "... it ran on to its end (continueAfterTimeout), sent once"

# still running at the run's deadline: cancelled there, as a libpq run cancels its statement (the
# deadline 6 s away, of which gosling keeps 3 s as its margin)
LD=$T/longdeadline
mig "$LD" 000001_d.sql <<'EOF'
-- +goose NO TRANSACTION
-- +goose Up
CREATE TABLE never AS SELECT 1 AS x FROM pg_sleep(30);
EOF
mkbin "$LD" || fail "the deadline bundle builds"
dbd2=$(pg_newdb)
t0=$(date +%s%N)
set +e
env "${da_env[@]}" AWS_ENDPOINT_URL_RDS_DATA=https://localhost:$fast DB_NAME="$dbd2" "$LD/gosling" --json \
	--deadline-ms $(( $(date +%s%3N) + 6000 )) up >"$T/out" 2>"$T/err"
rc=$?
set -e
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
err=$(cat "$T/err")
is "$rc" 1 "a statement still running at the run's deadline: up exits 1"
like "$err" "was still running at the run's deadline: cancelled (pg_cancel_backend)" "... saying it cancelled it"
for _ in $(seq 40); do
	left=$(psql_q "$dbd2" "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()")
	[ "$left" = 0 ] && break
	sleep 0.05
done
is "$left/$(has_table "$dbd2" never)" "0/f" "... its backend no longer runs it, nothing of it stays"
is "$((ms >= 2500 && ms < 9000))" 1 "... at the deadline (its margin kept), not before: $ms ms"

# --- a fleet target naming the cluster (issue 19 over issue 18) -------------------------------------
# the function's own cluster is one the allow-list admits; the target names it, a database and a
# tenant schema: the migrations land in that schema, over the Data API, with the history there
dbt=$(pg_newdb)
tgt_env=(DB_CLUSTER_ARN=arn:aws:rds:$REGION:123456789012:cluster:other
	GOSLING_TARGET_CLUSTER_ARNS="arn:aws:rds:$REGION:123456789012:cluster:gosling-[a-z]+"
	GOSLING_TARGET_SCHEMAS="[Tt]enant_[0-9]+" GOSLING_TARGET_DATABASES="$dbt")
mark
set +e
env "${da_env[@]}" "${tgt_env[@]}" "$B/gosling" --json --target-json "{\"id\": \"t1\", \"cluster_arn\": \"$CLUSTER\",
	\"database\": \"$dbt\", \"schema\": \"tenant_1\"}" up >"$T/out" 2>"$T/err"
rc=$?
set -e
is "$rc" 0 "a target naming an admitted cluster, a database and a schema: up over the Data API"
is "$(psql_q "$dbt" "SELECT string_agg(version::text, ',' ORDER BY version) FROM tenant_1.gosling_migrations")" "1,2,3" \
	"... the history lives in the tenant's schema"
is "$(psql_q "$dbt" "SELECT to_regclass('tenant_1.posts') IS NOT NULL AND to_regclass('public.posts') IS NULL")" t \
	"... and so do its tables (the search_path holds inside the Data API's transaction)"
like "$(cat "$T/out")" '"target":"t1"' "... the result carries the target id"
# a schema whose name has capitals: its search_path is the quoted identifier, as libpq's session
# sets it, never folded to tenant_2
set +e
env "${da_env[@]}" "${tgt_env[@]}" "$B/gosling" --json --target-json "{\"id\": \"t2\", \"cluster_arn\": \"$CLUSTER\",
	\"database\": \"$dbt\", \"schema\": \"Tenant_2\"}" up >"$T/out" 2>"$T/err"
rc=$?
set -e
is "$rc/$(psql_q "$dbt" "SELECT count(*) FROM \"Tenant_2\".gosling_migrations")" 0/3 \
	"a target schema with capitals (Tenant_2): up over the Data API records its history there $(tail -2 "$T/err")"
is "$(psql_q "$dbt" "SELECT to_regclass('\"Tenant_2\".posts') IS NOT NULL AND to_regclass('tenant_2.posts') IS NULL")" t \
	"... and its tables land in \"Tenant_2\", not a folded tenant_2"
# a NO TRANSACTION migration in a target's schema: no session to set its search_path in, so it is
# refused before it runs (its unqualified names would land in public), the one before it applied
TN=$T/tenant_nt
mig "$TN" 000001_t.sql <<<"-- +goose Up
CREATE TABLE items (id int);"
mig "$TN" 000002_ix.sql <<<"-- +goose NO TRANSACTION
-- +goose Up
CREATE INDEX CONCURRENTLY items_id_idx ON items (id);"
mkbin "$TN" || fail "the tenant NO TRANSACTION bundle builds"
set +e
env "${da_env[@]}" "${tgt_env[@]}" "$TN/gosling" --target-json "{\"id\": \"t3\", \"cluster_arn\": \"$CLUSTER\",
	\"database\": \"$dbt\", \"schema\": \"tenant_3\"}" up >"$T/out" 2>"$T/err"
rc=$?
set -e
is "$rc/$(psql_q "$dbt" "SELECT count(*) FROM tenant_3.gosling_migrations WHERE failed_statement IS NULL")" 1/1 \
	"a NO TRANSACTION migration in a target's schema over the Data API: up exits 1, the migration before it applied"
like "$(cat "$T/err")" "cannot run in a target's schema (\"tenant_3\") over the RDS Data API" "... saying why"
is "$(psql_q "$dbt" "SELECT count(*) FROM pg_indexes WHERE indexname = 'items_id_idx'")" 0 "... and nothing of it ran anywhere"
mark
set +e
env "${da_env[@]}" "${tgt_env[@]}" "$B/gosling" --json --target-json "{\"id\": \"t2\",
	\"cluster_arn\": \"arn:aws:rds:$REGION:123456789012:cluster:elsewhere\", \"database\": \"$dbt\"}" up >"$T/out" 2>"$T/err"
rc=$?
set -e
is "$rc" 2 "a target naming a cluster outside GOSLING_TARGET_CLUSTER_ARNS: refused (exit 2)"
like "$(cat "$T/out" "$T/err")" 'target.cluster_arn' "... naming the field"
is "$(grep -c . "$T/api.log" | tr -d ' ')" 0 "... before any Data API call"
done_testing
