# tests/lib/corpus.sh - the goose corpus (DESIGN.md: ../shared/goose-corpus) for the suites.
#
#   . tests/lib/corpus.sh
#   corpus_valid_cases       # fills the array `cases` with every valid case's input file
#
# CORPUS is the corpus directory: GOOSE_CORPUS, else ../shared/goose-corpus relative to
# the project root (the suites run from there), never a path outside the checkout's
# parent; a suite that needs it fails when it is not there.  The valid cases: valid-up,
# envsub, valid-txn, and the inline and upstream-down cases whose expected.json names
# no error.
CORPUS=${GOOSE_CORPUS:-../shared/goose-corpus}

corpus_valid_cases() {
	local d f
	cases=()
	for d in "$CORPUS"/valid-up/* "$CORPUS"/envsub/*; do cases+=("$d/input.sql"); done
	for d in "$CORPUS"/inline/* "$CORPUS"/upstream-down/*; do
		grep -q '"error"' "$d/expected.json" || cases+=("$d/input.sql")
	done
	for f in "$CORPUS"/valid-txn/*.sql; do cases+=("$f"); done
}
