# tests/lib/rapi.sh - a bootstrap served scripted events by the local Runtime API
# (tests/lambda/runtime_api.py), and questions about what it answered.  T is the suite's
# scratch folder.
#
#   rapi NAME BOOTSTRAP EVENTS [runtime_api.py options]
#                            serve EVENTS (a JSON list) to BOOTSTRAP (unquoted: it may be
#                            "valgrind ... gosling"); the record goes to $T/NAME.json, the
#                            bootstrap's stderr to $T/NAME.err; RAPI_TIMEOUT (60 s) bounds it
#   j NAME EXPR              a Python expression over the record d of run NAME: inv (the
#                            invocations), err(i) (an error's body), res(i) (the result, of a
#                            response or inside an error)
#   is_j NAME EXPR WANT WHAT

rapi() {
	local name=$1 boot=$2 events=$3
	shift 3
	printf '%s' "$events" >"$T/$name.events"
	python3 tests/lambda/runtime_api.py --events "$T/$name.events" --log "$T/$name.json" \
		--timeout "${RAPI_TIMEOUT:-60}" "$@" -- $boot 2>"$T/$name.err"
}

j() {
	python3 - "$T/$1.json" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
inv = d["invocations"]
def err(i): return inv[i]["body"] or {}
def res(i): return inv[i]["body"] if inv[i]["kind"] == "response" else (inv[i]["body"] or {}).get("result") or {}
r = eval(sys.argv[2])
print(json.dumps(r) if isinstance(r, (dict, list)) else r)
PY
}

is_j() { is "$(j "$1" "$2")" "$3" "$4"; }
