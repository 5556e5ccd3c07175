# tests/lib/pg.sh - a throwaway PostgreSQL 15 for a test suite (TAP from tests/lib/tap.sh).
#
#   . tests/lib/pg.sh
#   pg_start                 # initdb in a temp dir, server on a free port, socket in that dir
#   db=$(pg_newdb)           # a fresh, empty database per test
#   psql_q "$db" 'SELECT 1'  # one value, unaligned
#
# A suite that stops the server, or runs a second one, uses pg_initdb, pg_server_start,
# pg_server_stop and pg_restart_start (below) rather than pg_ctl itself.
#
# PG_OPTS adds server options (-c ssl=on ...); PG_HBA, lines put first in pg_hba.conf.
#
# It sources tests/lib/tap.sh for the TAP vocabulary (ok, is, like, skip, done_testing).
#
# The server runs as the `postgres` system user when we are root (initdb refuses
# root); it stops, and the temp dir goes, on any exit.  Exports PGHOST, PGPORT, PGUSER.
set -eu
export LC_ALL=C
. "$(dirname "${BASH_SOURCE[0]}")/tap.sh"

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_TMP=
PG_AS=()

# pg_initdb DATA LOG: a new cluster in DATA (superuser postgres, trust, UTF8), initdb's output to LOG
pg_initdb() {
	"${PG_AS[@]}" "$PG_BIN/initdb" -D "$1" -U postgres -A trust -E UTF8 --no-locale >"$2" 2>&1
}

# pg_server_start DATA PORT LOG [OPTIONS]: start DATA's server on PORT (TCP on 127.0.0.1, the
# socket in PG_TMP) with its log in LOG; returns once it accepts connections.
pg_server_start() {
	"${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$1" -l "$3" -w -t 60 \
		-o "-p $2 -k $PG_TMP -c listen_addresses=127.0.0.1 -c fsync=off ${4:-}" start >/dev/null
}

# pg_server_stop DATA [MODE]: stop DATA's server (MODE smart, fast or immediate; immediate
# unless given) and wait until it is gone.
pg_server_stop() {
	"${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$1" -m "${2:-immediate}" -w stop >/dev/null
}

# pg_restart_start: start the suite's server again after a pg_server_stop "$PG_TMP/data"
# (same port, same options).
pg_restart_start() {
	pg_server_start "$PG_TMP/data" "$PGPORT" "$PG_TMP/server.log" "-c max_connections=60 ${PG_OPTS:-}"
}

pg_stop() {
	[ -n "${PG_KEEP:-}" ] && { echo "# kept $PG_TMP" >&2; return; }
	if [ -n "$PG_TMP" ] && [ -f "$PG_TMP/data/postmaster.pid" ]; then
		pg_server_stop "$PG_TMP/data" 2>/dev/null || true
	fi
	[ -n "$PG_TMP" ] && rm -rf "$PG_TMP"
	PG_TMP=
}

# A port nobody listens on (TCP or our socket dir).
pg_free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 20000))
		if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

pg_start() {
	PG_TMP=$(mktemp -d /tmp/gosling-pg.XXXXXX)
	trap 'pg_stop' EXIT
	trap 'exit 130' INT TERM
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres: "$PG_TMP"
		chmod 755 "$PG_TMP"
		PG_AS=(runuser -u postgres --)
	else
		PG_AS=(env)
	fi
	pg_initdb "$PG_TMP/data" "$PG_TMP/initdb.log" || { cat "$PG_TMP/initdb.log" >&2; return 1; }
	if [ -n "${PG_HBA:-}" ]; then
		# lines that come first in pg_hba.conf (first match wins), e.g. password auth over TLS
		printf '%s\n' "$PG_HBA" | cat - "$PG_TMP/data/pg_hba.conf" >"$PG_TMP/pg_hba.conf" &&
			cat "$PG_TMP/pg_hba.conf" >"$PG_TMP/data/pg_hba.conf" && rm -f "$PG_TMP/pg_hba.conf"
	fi
	PGPORT=$(pg_free_port)
	pg_restart_start || { cat "$PG_TMP/server.log" >&2; return 1; }
	export PGHOST=$PG_TMP PGPORT PGUSER=postgres
	unset PGDATABASE PGPASSWORD DATABASE_URL DB_HOST DB_ADDRESS DB_PORT DB_NAME DB_USER DB_USERNAME \
		DB_PASSWORD DB_SSLMODE
}

# A fresh database; prints its name.  (Called in $(...): the counter lives in a file.)
pg_newdb() {
	local seq name
	seq=$(($(cat "$PG_TMP/dbseq" 2>/dev/null || echo 0) + 1))
	echo "$seq" >"$PG_TMP/dbseq"
	name="t$seq"
	psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $name" >/dev/null
	echo "$name"
}

# psql_q DB SQL: run SQL, print the result unaligned without headers.
psql_q() {
	psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$1" -c "$2"
}
