#!/usr/bin/env bash
# tests/memory.sh - gosling's peak memory against a real PostgreSQL 15 on the shapes
# that used to grow it without bound: a migration whose SELECT returns 3,000,000 rows
# (in a transaction and NO TRANSACTION), a 29 MB migration, and 10,000 migrations
# applied in one up.  Each run's peak RSS (getrusage of the child: resident pages, the
# mapped binary's included) is printed; the checks have a wide margin, they are not
# benchmarks.  Also: the batch is capped in bytes, so the number of queries grows with
# the bytes sent, not with the number of migrations.  Prints TAP.
cd "$(dirname "$0")/.."
ROOT=$PWD
. tests/lib/pg.sh
. tests/lib/gosling.sh

pg_start
T=$PG_TMP/t
mkdir -p "$T"
export GOSLING_LOG_LEVEL=warn

# peak BIN DB ARGS...: run gosling; sets rc and rss (peak resident set, in KiB)
peak() {
	local bin=$1 db=$2
	shift 2
	read -r rc rss < <(DB_NAME=$db python3 -c '
import resource, subprocess, sys
p = subprocess.run(sys.argv[2:], stdout=open(sys.argv[1] + ".out", "w"), stderr=open(sys.argv[1] + ".err", "w"))
print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$T/peak" "$bin" "$@")
}
mb() { awk -v k="$1" 'BEGIN { printf "%.1f MB", k / 1024 }'; }

# --- a migration that returns 3,000,000 rows -----------------------------------------
R=$T/rows
mig "$R" 000001_rows.sql <<'EOF2'
-- +goose Up
CREATE TABLE big (id int);
SELECT g, pg_catalog.repeat('x', 100) AS filler FROM pg_catalog.generate_series(1, 3000000) g;
INSERT INTO big VALUES (1);
EOF2
mkbin "$R"
db=$(pg_newdb)
peak "$R/gosling" "$db" up
echo "# up of a migration returning 3,000,000 rows of 110 bytes: peak RSS $(mb "$rss")"
is "$rc:$(rows "$db"):$(psql_q "$db" 'SELECT count(*) FROM big')" "0:1:1" "3,000,000 rows in a transactional migration: applied"
ok "3,000,000 rows in a transactional migration: peak RSS $(mb "$rss") < 32 MB (the rows are dropped as they come)" \
	test "$rss" -lt 32768

RN=$T/rows-nt
mig "$RN" 000001_rows.sql <<'EOF2'
-- +goose NO TRANSACTION
-- +goose Up
SELECT g, pg_catalog.repeat('x', 100) AS filler FROM pg_catalog.generate_series(1, 3000000) g;
CREATE TABLE big (id int);
EOF2
mkbin "$RN"
db=$(pg_newdb)
peak "$RN/gosling" "$db" up
echo "# up of a NO TRANSACTION migration returning 3,000,000 rows: peak RSS $(mb "$rss")"
is "$rc:$(rows "$db"):$(has_table "$db" big)" "0:1:t" "3,000,000 rows in a NO TRANSACTION migration: applied"
ok "3,000,000 rows in a NO TRANSACTION migration: peak RSS $(mb "$rss") < 32 MB" test "$rss" -lt 32768

# --- a 29 MB migration ---------------------------------------------------------------------
# 120,000 INSERTs of a 240-byte row: the text lives in the binary, once in the batch and
# once in libpq's buffer (sent as batches of about 256 KiB, so neither grows past that),
# and the binary's pages of text already sent are released (db_batch.c, release_sent_text):
# the peak stays below the migration's own size.
H=$T/huge
mkdir -p "$H"
python3 - "$H/000001_huge.sql" <<'EOF2'
import sys
with open(sys.argv[1], "w") as f:
    f.write("-- +goose Up\nCREATE TABLE huge (id int PRIMARY KEY, body text);\n")
    for i in range(1, 120001):
        f.write("INSERT INTO huge VALUES (%d, '%s');\n" % (i, "é" * 100 + "x" * 10))
EOF2
mkbin "$H"
db=$(pg_newdb)
size=$(stat -c %s "$H/000001_huge.sql")
peak "$H/gosling" "$db" up
echo "# up of a $(mb $((size / 1024))) migration (120,000 statements): peak RSS $(mb "$rss")"
is "$rc:$(psql_q "$db" 'SELECT count(*) FROM huge')" "0:120000" "a $(mb $((size / 1024))) migration: applied"
ok "a $(mb $((size / 1024))) migration: peak RSS $(mb "$rss") < its size" test "$rss" -lt $((size / 1024))

# --- 10,000 migrations ---------------------------------------------------------------------
N=$T/many
mkdir -p "$N"
python3 - "$N" <<'EOF2'
import sys
for i in range(1, 10001):
    with open("%s/%06d_m.sql" % (sys.argv[1], i), "w") as f:
        f.write("-- +goose Up\nCREATE TABLE m_%d (id bigint PRIMARY KEY, v text);\n"
                "CREATE INDEX m_%d_v ON m_%d (v);\n"
                "INSERT INTO m_%d VALUES (1, 'a'), (2, 'b'), (3, 'c');\n"
                "-- +goose Down\nDROP TABLE m_%d;\n" % (i, i, i, i, i))
EOF2
mkbin "$N"
db=$(pg_newdb)
psql_q "$db" "ALTER DATABASE $db SET log_statement = 'all'" >/dev/null
before=$(wc -l <"$PG_TMP/server.log")
peak "$N/gosling" "$db" up
sleep 0.3
queries=$(tail -n +"$((before + 1))" "$PG_TMP/server.log" | grep -cE 'LOG:  (statement|execute [^:]*):')
echo "# up of 10,000 migrations: peak RSS $(mb "$rss"), $queries queries at the server"
is "$rc:$(psql_q "$db" 'SELECT count(*) FROM gosling_migrations')" "0:10000" "10,000 migrations: applied"
ok "10,000 migrations: peak RSS $(mb "$rss") < 32 MB" test "$rss" -lt 32768
# 10,000 migrations are about 11 MB of batch text (statements and history rows): 44
# batches or more of at most 256 KiB, on top of the fixed queries of an up (14 for a
# single batch, tests/engine.sh)
ok "10,000 migrations: the batches follow the bytes, at most 256 KiB each ($queries queries)" \
	test "$queries" -ge 58 -a "$queries" -le 100
peak "$N/gosling" "$db" up --json
echo "# a second up of 10,000 (nothing to do, --json): peak RSS $(mb "$rss")"
is "$rc" 0 "10,000 migrations, nothing to do: exits 0"
ok "10,000 migrations, nothing to do: peak RSS $(mb "$rss") < 32 MB" test "$rss" -lt 32768

done_testing
