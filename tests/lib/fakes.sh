# tests/lib/fakes.sh - what the suites with local AWS fakes share (tests/credentials.sh,
# tests/rdsdata.sh): a test CA and server certificates made with openssl in $T, and the wait
# for a fake's "port N" line.  Source it after setting T (a temp dir the suite owns).
#
#   ca testca                              # $T/testca.{key,crt}, a self-signed CA
#   cert testca server DNS:localhost       # $T/server.{key,crt}, signed by it
#   fake_port "$T/API.port" API            # waits (10 s at most) and sets API=<port>
#   FAKES+=($!); trap fakes_cleanup EXIT   # kills the fakes, stops PostgreSQL, removes $T

# ca NAME: a self-signed CA in $T/NAME.{key,crt}
ca() {
	openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj "/CN=gosling test $1" -keyout "$T/$1.key" -out "$T/$1.crt" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}
# cert CA NAME SAN: a server certificate $T/NAME.{key,crt} signed by CA
cert() {
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=${3#*:}" \
		-keyout "$T/$2.key" -out "$T/$2.csr" 2>/dev/null &&
	printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$3" >"$T/$2.ext" &&
	openssl x509 -req -in "$T/$2.csr" -CA "$T/$1.crt" -CAkey "$T/$1.key" -CAcreateserial -days 2 \
		-extfile "$T/$2.ext" -out "$T/$2.crt" 2>/dev/null
}
# fake_port FILE VAR: wait until FILE (a fake's stdout) says "port N"; N into the variable VAR.
# False when it never does.
fake_port() {
	local port=
	for _ in $(seq 100); do
		port=$(sed -n 's/^port //p' "$1" 2>/dev/null)
		[ -n "$port" ] && break
		sleep 0.1
	done
	printf -v "$2" '%s' "$port"
	[ -n "$port" ]
}

FAKES=()
fakes_cleanup() {
	for p in "${FAKES[@]}"; do kill "$p" 2>/dev/null; done
	pg_stop
	rm -rf "$T"
}
