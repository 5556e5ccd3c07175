#!/usr/bin/env bash
# tests/terraform.sh - offline checks of terraform/, the module that deploys gosling.
# Prints TAP lines; exits non-zero when one failed.  A check whose tool is missing is
# reported as "ok N - ... # SKIP why", never silently dropped.
#
#   - terraform fmt -check -recursive (or, without terraform, hclwrite's Format through
#     @cdktf/hcl-tools, which is terraform fmt's core)
#   - tests/terraform/check.js: the module parsed with @cdktf/hcl2json and checked
#     (variables used and documented, outputs documented, no wildcard IAM action, runtime,
#     architecture, handler, package hash, environment == what the runtime reads, ...)
#   - the same checker on copies of the module broken on purpose: each must fail naming
#     the problem
#   - terraform init -backend=false + validate of the module and its examples, with the
#     AWS provider from a local plugin directory (GOSLING_TF_PLUGIN_DIR, default
#     /opt/tf-plugins) since no provider can be downloaded here; then terraform test
#     (terraform/tests/*.tftest.hcl) with that provider mocked: no account, no network
#   - the fleet sub-module (terraform/modules/fleet, issue 19): its Step Functions definition
#     rendered offline by terraform console for each way of using it, validated against the
#     Amazon States Language specification (asl-validator) and checked for a fleet's shape
#     (check.js --fleet: the canary before the Distributed Map, one target at a time, ...),
#     the same on copies broken on purpose, terraform validate, and its mocked terraform test
#
# The npm packages are installed from tests/terraform/package-lock.json into
# build/terraform-node/ (ignored by git).
set -u
cd "$(dirname "$0")/.."
. tests/lib/tap.sh
root=$PWD
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- tools ----------------------------------------------------------------------

have_tf=false
command -v terraform >/dev/null 2>&1 && have_tf=true
# No user CLI configuration: the machine's may point at a file that does not exist.
export TF_CLI_CONFIG_FILE="$tmp/terraformrc" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1
: >"$TF_CLI_CONFIG_FILE"

have_node=false
nodedir=$root/build/terraform-node
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
	mkdir -p "$nodedir"
	if ! cmp -s tests/terraform/package-lock.json "$nodedir/package-lock.json" ||
		[ ! -d "$nodedir/node_modules/@cdktf/hcl2json" ] || [ ! -d "$nodedir/node_modules/asl-validator" ]; then
		cp tests/terraform/package.json tests/terraform/package-lock.json "$nodedir/"
		(cd "$nodedir" && npm ci --no-audit --no-fund --loglevel=error) >"$tmp/npm.log" 2>&1 ||
			{ echo "# npm ci failed:"; diag "$tmp/npm.log"; }
	fi
	[ -d "$nodedir/node_modules/@cdktf/hcl2json" ] && have_node=true
fi
have_asl=false
[ -d "$nodedir/node_modules/asl-validator" ] && $have_node && have_asl=true
export NODE_PATH=$nodedir/node_modules
checkjs() { node "$root/tests/terraform/check.js" "$@"; }

# The names the runtime reads: from its settings table once the binary can dump it,
# else the committed stand-in list.
runtime_env=tests/terraform/runtime-env.txt
runtime_src="the stand-in list $runtime_env (build/gosling settings --json not available yet)"
if [ -x build/gosling ] && build/gosling settings --json >"$tmp/settings.json" 2>/dev/null &&
	[ -s "$tmp/settings.json" ]; then
	runtime_env=$tmp/settings.json
	runtime_src="build/gosling settings --json"
fi
echo "# runtime environment names from $runtime_src"

# --- formatting -----------------------------------------------------------------

if $have_tf; then
	if terraform fmt -check -recursive -diff terraform >"$tmp/fmt" 2>&1; then
		pass "terraform fmt -check -recursive terraform/"
	else
		fail "terraform fmt -check -recursive terraform/"
		diag "$tmp/fmt"
	fi
elif $have_node; then
	why=$(apt-cache policy terraform 2>/dev/null | grep -q 'Candidate: [0-9]' && echo "not installed" ||
		echo "not installed and not in Debian's archive")
	if checkjs --fmt terraform >"$tmp/fmt" 2>&1; then
		pass "terraform/ is formatted (hclwrite Format via @cdktf/hcl-tools; terraform $why)"
	else
		fail "terraform/ is formatted (hclwrite Format via @cdktf/hcl-tools; terraform $why)"
		diag "$tmp/fmt"
	fi
else
	skip_prereq "terraform fmt -check -recursive terraform/" "neither terraform nor node/npm is installed"
fi

# --- structural checks ----------------------------------------------------------

if $have_node; then
	checkjs terraform "$runtime_env" >"$tmp/check" 2>&1
	rc=$?
	tap_passfail "check.js: " <"$tmp/check"
	if [ "$rc" -ne 0 ] && ! grep -q '^FAIL ' "$tmp/check"; then
		fail "check.js exited $rc without naming a failure"
	fi
else
	skip_prereq "structural checks of terraform/ (tests/terraform/check.js)" "node/npm missing or npm ci of @cdktf/hcl2json failed"
fi

# broken_check WHAT ORIGINAL COPY WANT CMD...: COPY, ORIGINAL broken on purpose, must differ
# from it, and CMD (a checker run on the copy) must fail with output matching the regex WANT.
broken_check() {
	local what=$1 orig=$2 copy=$3 want=$4 rc
	shift 4
	if cmp -s "$orig" "$copy"; then
		fail "$what: the edit did not apply to ${orig##*/}"
		return
	fi
	"$@" >"$tmp/out" 2>&1
	rc=$?
	if [ "$rc" -ne 0 ] && grep -Eq -- "$want" "$tmp/out"; then
		pass "$what: the checker fails and says so"
	else
		fail "$what: the checker exited $rc without /$want/"
		diag "$tmp/out"
	fi
}

# --- the checker fails when the module is broken on purpose -------------------------
# Each case: a name, a file of the module, a perl substitution applied to it (or text
# appended when it starts with "+"), and a regex the checker's output must match.

breaks=(
	"a wildcard action|main.tf|s/\"logs:CreateLogStream\"/\"logs:*\"/|wildcard action logs:\\*"
	"a wildcard action in a jsonencode policy|main.tf|+resource \"aws_iam_role_policy\" \"extra\" {\n  role   = aws_iam_role.this.id\n  policy = jsonencode({ Statement = [{ Effect = \"Allow\", Action = [\"s3:Get*\"], Resource = \"x\" }] })\n}\n|wildcard action s3:Get\\*"
	"an undocumented variable|variables.tf|+variable \"extra_knob\" {\n  description = \"x\"\n  type        = string\n  default     = null\n}\n|variable extra_knob is not documented"
	"an unused variable|variables.tf|+variable \"extra_knob\" {\n  description = \"x\"\n  type        = string\n  default     = null\n}\n|variable extra_knob is declared but never used"
	"an undocumented output|outputs.tf|+output \"extra_out\" {\n  description = \"x\"\n  value       = 1\n}\n|output extra_out is not documented"
	"an environment variable the runtime does not read|main.tf|s/^(\\s*)DB_SSLMODE(\\s*)=/\$1DB_SSL_MODE\$2=/m|sets DB_SSL_MODE, which is not read by the runtime"
	"a missing environment variable|main.tf|s/^\\s*DB_NAME\\s*=.*\\n//m|does not set DB_NAME"
	"the wrong runtime|main.tf|s/\"provided.al2023\"/\"provided.al2\"/|runtime is \"provided.al2\", want \"provided.al2023\""
	"the wrong handler|main.tf|s/\"bootstrap\"/\"index.handler\"/|handler is \"index.handler\""
	"x86_64 as the default architecture|variables.tf|s/default     = \"arm64\"/default     = \"x86_64\"/|architecture defaults to \"x86_64\""
	"retries of asynchronous invocations|main.tf|s/maximum_retry_attempts = 0/maximum_retry_attempts = 2/|maximum_retry_attempts is 2"
	"a resource-wide secret grant|main.tf|s/resources = \\[statement.value\\]\\n    }\\n  }\\n\\n  dynamic \"statement\" {\\n    for_each = local.db_secret_kms_key_arn/resources = [\"*\"]\\n    }\\n  }\\n\\n  dynamic \"statement\" {\\n    for_each = local.db_secret_kms_key_arn/|resources = \\[\"\\*\"\\]"
	"a new required input the seeds do not pass|variables.tf|+variable \"vpc_id\" {\n  description = \"x\"\n  type        = string\n}\n|variable vpc_id is required, but the seeds do not pass it"
	"source_code_hash not from the package|main.tf|s/filebase64sha256\\(local.package_path\\)/\"fixed\"/|source_code_hash is"
	"a README usage block without a seeds input|README.md|s/^  db_cluster_id      = module.aurora.cluster_id\\n//m|does not pass the required db_cluster_id"
	"a package_path defaulting into gosling's tree|variables.tf|s/(variable \"package_path\" \\{\\n.*\\n  type        = string\\n)/\$1  default     = \"..\\/build\\/dist\\/gosling-arm64.zip\"\\n/|package_path has a default"
	"a filename falling back to gosling's build|main.tf|s/package_path = var.package_path/package_path = coalesce(var.package_path, \"\\\${path.module}\\/..\\/build\\/dist\\/gosling-arm64.zip\")/|falls back to a zip in gosling's tree"
	# The Data API mode (issue 18).
	"a fifth rds-data action|main.tf|s/\"rds-data:BeginTransaction\", /\"rds-data:BatchExecuteStatement\", \"rds-data:BeginTransaction\", /|its actions are rds-data:BatchExecuteStatement, "
	"a wildcard rds-data action|main.tf|s/\"rds-data:ExecuteStatement\"/\"rds-data:Execute*\"/|wildcard action rds-data:Execute\\*"
	"rds-data on every cluster|main.tf|s/for_each = local.data_api_mode \\? \\[local.data_api_cluster_arn\\] : \\[\\]/for_each = local.data_api_mode ? [\"arn:aws:rds:eu-west-2:123456789012:cluster:*\"] : []/|want \\[statement.value\\] over var.data_api.cluster_arn"
	"a vpc_config in the Data API mode|main.tf|s/for_each = local.data_api_mode \\? \\[\\] : \\[1\\]/for_each = [1]/|vpc_config is not a dynamic block absent in the Data API mode"
	"the network interface policy in the Data API mode|main.tf|s/count = local.data_api_mode \\? 0 : 1\\n/count = 1\\n/|network interface policy is attached in the Data API mode too"
	"no DB_CLUSTER_ARN|main.tf|s/^\\s*DB_CLUSTER_ARN\\s*=.*\\n//m|does not set DB_CLUSTER_ARN"
	"a Data API example without the HTTP endpoint|examples/aurora-data-api/main.tf|s/enable_http_endpoint        = true/enable_http_endpoint        = false/|no enable_http_endpoint = true"
	"a Data API example that scales to 0.5 ACU|examples/aurora-data-api/main.tf|s/min_capacity             = 0\\n/min_capacity             = 0.5\\n/|min_capacity 0.5"
	"a Data API example in a VPC too|examples/aurora-data-api/main.tf|s/  db_name = \"hometest\"\\n/  db_name = \"hometest\"\\n  subnet_ids = var.private_subnet_ids\\n/|passes subnet_ids with data_api"
)
if $have_node; then
	for b in "${breaks[@]}"; do
		IFS='|' read -r what file edit want <<<"$b"
		rm -rf "$tmp/broken" && cp -r terraform "$tmp/broken"
		if [ "${edit:0:1}" = + ]; then
			printf "\n${edit:1}" >>"$tmp/broken/$file"
		else
			perl -0pi -e "$edit" "$tmp/broken/$file"
		fi
		broken_check "broken on purpose ($what)" "terraform/$file" "$tmp/broken/$file" "$want" \
			checkjs "$tmp/broken" "$runtime_env"
	done
	# And a runtime that stops reading a name the module sets.
	grep -v '^DB_SSLMODE$' tests/terraform/runtime-env.txt >"$tmp/env-less.txt"
	if ! checkjs terraform "$tmp/env-less.txt" >"$tmp/out" 2>&1 &&
		grep -q 'sets DB_SSLMODE, which is not read by the runtime' "$tmp/out"; then
		pass "a runtime that does not read DB_SSLMODE: the checker fails and says so"
	else
		fail "a runtime that does not read DB_SSLMODE: the checker did not fail on it"
		diag "$tmp/out"
	fi
	# DB_CLUSTER_ARN is set ahead of the runtime (check.js's AHEAD_OF_RUNTIME): its check is
	# a SKIP until the runtime reads it, then a PASS.
	{ cat tests/terraform/runtime-env.txt; echo DB_CLUSTER_ARN; } >"$tmp/env-more.txt"
	if checkjs terraform "$tmp/env-more.txt" >"$tmp/out" 2>&1 &&
		grep -q '^PASS the runtime reads DB_CLUSTER_ARN' "$tmp/out"; then
		pass "a runtime that reads DB_CLUSTER_ARN: the checker's SKIP for it becomes a PASS"
	else
		fail "a runtime that reads DB_CLUSTER_ARN: the checker's SKIP for it did not become a PASS"
		diag "$tmp/out"
	fi
else
	skip_prereq "the checker fails on modules broken on purpose" "node/npm missing or npm ci of @cdktf/hcl2json failed"
fi

# tf_test DIR WHAT: terraform test in DIR (its tests/*.tftest.hcl, the AWS provider mocked),
# one TAP line a run, named WHAT: RUN.
tf_test() {
	local dir=$1 what=$2 rc runs line r
	(cd "$dir" && terraform test -no-color) >"$tmp/test" 2>&1
	rc=$?
	runs=$(grep -cE '^  run "[^"]+"\.\.\. ' "$tmp/test")
	while IFS= read -r line; do
		r=$(sed -E 's/^  run "([^"]+)".*/\1/' <<<"$line")
		case $line in
		*"... pass") pass "$what: $r" ;;
		*"... skip") skip "$what: $r" "an earlier run failed" ;;
		*) fail "$what: $r" ;;
		esac
	done < <(grep -E '^  run "[^"]+"\.\.\. ' "$tmp/test")
	if [ "$rc" -ne 0 ] || [ "$runs" -eq 0 ]; then
		fail "terraform test in ${dir#"$tmp"/} exited $rc after $runs runs"
		diag "$tmp/test"
	fi
}

# --- terraform validate -------------------------------------------------------------

plugin_dir=${GOSLING_TF_PLUGIN_DIR:-/opt/tf-plugins}
if ! $have_tf; then
	why=$(apt-cache policy terraform 2>/dev/null | grep -q 'Candidate: [0-9]' && echo "not installed" ||
		echo "not installed and not in Debian's archive")
	skip "terraform validate terraform/ and its examples" "terraform $why"
else
	cp -r terraform "$tmp/tf"
	init_args=(-backend=false -input=false -no-color)
	src="the registry"
	if [ -d "$plugin_dir/registry.terraform.io/hashicorp/aws" ]; then
		init_args+=("-plugin-dir=$plugin_dir")
		src=$plugin_dir
	fi
	if ! (cd "$tmp/tf" && timeout 120 terraform init "${init_args[@]}") >"$tmp/init" 2>&1; then
		reason=$(grep -m1 -E 'Error|Failed' "$tmp/init" | sed 's/[│╷╵]//g; s/^ *//')
		skip "terraform validate terraform/ and its examples" "terraform init could not get the AWS provider from $src: ${reason:-see init output}"
	else
		for d in . $(cd "$tmp/tf" && ls -d examples/*/); do
			d=${d%/}
			name=terraform/${d#./}
			[ "$d" = . ] && name=terraform/
			if (cd "$tmp/tf/$d" && { [ "$d" = . ] || timeout 120 terraform init "${init_args[@]}" >/dev/null 2>&1; } &&
				terraform validate -no-color) >"$tmp/validate" 2>&1; then
				pass "terraform validate $name (AWS provider from $src)"
			else
				fail "terraform validate $name (AWS provider from $src)"
				diag "$tmp/validate"
			fi
		done
		# terraform test with the AWS provider mocked (terraform/tests/*.tftest.hcl):
		# plans of each way of using the module, checked by value. One TAP line a run.
		printf 'PK\005\006\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0' >"$tmp/tf/tests/fixture.zip"
		tf_test "$tmp/tf" "terraform test (AWS provider mocked)"
		# And on copies broken on purpose, which must fail: the Data API mode's checks by value.
		tf_breaks=(
			'both modes at once accepted|s/condition     = !local.data_api_mode .. length\(local.vpc_mode_inputs_set\) == 0/condition     = local.data_api_mode == local.data_api_mode/|run "data_api_and_vpc_refused"... fail'
			'BatchExecuteStatement granted|s/"rds-data:BeginTransaction", /"rds-data:BatchExecuteStatement", "rds-data:BeginTransaction", /|rds-data is not exactly'
		)
		for b in "${tf_breaks[@]}"; do
			IFS='|' read -r what edit want <<<"$b"
			rm -rf "$tmp/tf-broken" && cp -r "$tmp/tf" "$tmp/tf-broken"
			perl -0pi -e "$edit" "$tmp/tf-broken/main.tf"
			broken_check "broken on purpose ($what, terraform test)" "$tmp/tf/main.tf" "$tmp/tf-broken/main.tf" "$want" \
				terraform -chdir="$tmp/tf-broken" test -no-color
		done
	fi
fi

# --- the fleet sub-module (terraform/modules/fleet) -----------------------------------
# Its definition depends on its inputs alone, so terraform console renders it offline (no
# provider call): one console, in a harness that calls the module once per way of using it
# and once per copy broken on purpose, prints every definition.

# The ways of using it: the targets in an S3 file or in the input, with and without a canary.
fleet_cases=(
	's3-canary|items_bucket = "fleet-items", items_key = "fleets/tenants.json", canary_count = 3, function_version = "7", max_concurrency = 37, tolerated_failure_percentage = 13'
	's3-no-canary|items_bucket = "fleet-items", items_key = "fleets/tenants.json", canary_count = 0'
	'input-canary|canary_count = 2'
	'input-no-canary|canary_count = 0'
)
# Copies broken on purpose: a name, a perl substitution on main.tf, the case rendered from
# the copy, and a regex the checker's output must match.
fleet_breaks=(
	'state names repeated across the maps|s/MigrateCanaryTarget/MigrateTarget/g|s3-canary|DUPLICATE_STATE_NAMES'
	'a transition to a state that does not exist|s/Next       = "Report"/Next       = "Reprot"/|s3-no-canary|MISSING_TRANSITION_TARGET: .*Reprot'
	'a JsonPath Step Functions would reject|s/"\$\.targets\[0:\$\{var.canary_count\}\]"/"\$.targets[0:"/|input-canary|SelectCanary/Parameters/canary\.\$ is invalid'
	'the fleet started without the canary|s/first_stage = local.canary \? \(local.items_from_s3 \? "Canary" : "SelectCanary"\) : "Fleet"/first_stage = "Fleet"/|s3-canary|Fleet map is reachable without passing the Canary'
	'a fleet verify that reads every history|s/Result     = true/Result     = false/|s3-canary|\{"command":"verify"\} invoked .*"head_only":false'
	'head_only not passed to the canary|s/\n        "head_only.\$" = "\$.head_only"(\n        "target.\$"    = "\$\$.Map.Item.Value"\n      \})/$1/|input-canary|head_only.. = .+head_only is not in the input'
	'head_only with up let through|s/local.is_verify, local.head_only_given/local.head_only_given/|input-no-canary|\{"command":"up","head_only":true\}: succeeded'
	'a canary of several targets at once|s/MaxConcurrency             = 1\n/MaxConcurrency             = 5\n/|input-canary|canary.s MaxConcurrency is 5'
	'an unbounded map|s/MaxConcurrency             = var.max_concurrency/MaxConcurrency             = 0/|s3-canary|want a bound of at least 1'
	'EXPRESS children|s/ExecutionType = "STANDARD"/ExecutionType = "EXPRESS"/|s3-canary|ExecutionType STANDARD'
	'a failed migration retried|s/ErrorEquals     = \["Function.LockTimeout"\]/ErrorEquals     = ["States.TaskFailed"]/|s3-canary|States.TaskFailed is retried'
	'a wildcard action in the role|s/"states:DescribeExecution", "states:StopExecution"/"states:Describe*", "states:StopExecution"/|s3-canary|wildcard action states:Describe\*'
)
case_vars() { printf '%s\n' "${fleet_cases[@]}" | sed -n "s/^$1|//p"; }

# render_all: $tmp/render/NAME.json for each case (from $tmp/fleet) and broken-N.json for
# each break (from $tmp/fleet-broken-N), through one terraform console.
render_all() {
	local i=0 c b name vars edit case blobs
	mkdir -p "$tmp/render"
	: >"$tmp/render/main.tf"
	names=() exprs=()
	# harness_call NAME SOURCE VARS: a call of the module, and the expression of its definition.
	harness_call() {
		printf 'module "%s" {\n  source = "%s"\n  function_arn = "arn:aws:lambda:eu-west-2:123456789012:function:gosling"\n  results_bucket = "fleet-results"\n%s\n}\n' \
			"$1" "$2" "$(tr ',' '\n' <<<"$3")" >>"$tmp/render/main.tf"
		exprs+=("base64encode(module.$1.definition)")
		names+=("$1")
	}
	for c in "${fleet_cases[@]}"; do
		IFS='|' read -r name vars <<<"$c"
		harness_call "$name" ../fleet "$vars"
	done
	for b in "${fleet_breaks[@]}"; do
		IFS='|' read -r _ edit case _ <<<"$b"
		i=$((i + 1))
		rm -rf "$tmp/fleet-broken-$i" && cp -r "$tmp/fleet" "$tmp/fleet-broken-$i"
		perl -0pi -e "$edit" "$tmp/fleet-broken-$i/main.tf"
		harness_call "broken-$i" "../fleet-broken-$i" "$(case_vars "$case")"
	done
	# A piped console prints its last expression only: one string, the definitions in base64
	# separated by spaces.
	(IFS=,; echo "join(\" \", [${exprs[*]}])") >"$tmp/render/exprs"
	(cd "$tmp/render" && timeout 120 terraform init "${init_args[@]}" && terraform console -no-color <exprs >out) \
		>"$tmp/render/log" 2>&1 || return 1
	read -r -a blobs < <(tr -d '"' <"$tmp/render/out")
	[ ${#blobs[@]} -eq ${#names[@]} ] || return 1
	for i in "${!names[@]}"; do
		base64 -d <<<"${blobs[$i]}" >"$tmp/render/${names[$i]}.json" || return 1
	done
}

if ! $have_tf; then
	skip "the fleet sub-module: rendered, validated, tested" "terraform not installed"
elif ! { cp -r terraform/modules/fleet "$tmp/fleet" &&
	(cd "$tmp/fleet" && timeout 120 terraform init "${init_args[@]}") >"$tmp/init" 2>&1; }; then
	reason=$(grep -m1 -E 'Error|Failed' "$tmp/init" | sed 's/[│╷╵]//g; s/^ *//')
	skip "the fleet sub-module: rendered, validated, tested" "terraform init could not get the AWS provider from $src: ${reason:-see init output}"
else
	if (cd "$tmp/fleet" && terraform validate -no-color) >"$tmp/validate" 2>&1; then
		pass "terraform validate terraform/modules/fleet (AWS provider from $src)"
	else
		fail "terraform validate terraform/modules/fleet (AWS provider from $src)"
		diag "$tmp/validate"
	fi
	if ! render_all; then
		fail "the fleet's definitions render offline (terraform console)"
		diag "$tmp/render/log" "$tmp/render/out"
	else
		pass "the fleet's definitions render offline (terraform console): ${#fleet_cases[@]} ways of using it, ${#fleet_breaks[@]} broken copies"
		defs=()
		for c in "${fleet_cases[@]}"; do defs+=("$tmp/render/${c%%|*}.json"); done
		if $have_asl; then
			checkjs --fleet "$tmp/fleet" "${defs[@]}" >"$tmp/check" 2>&1
			rc=$?
			tap_passfail "fleet: " <"$tmp/check"
			if [ "$rc" -ne 0 ] && ! grep -q '^FAIL ' "$tmp/check"; then
				fail "check.js --fleet exited $rc without naming a failure"
				diag "$tmp/check"
			fi
			i=0
			for b in "${fleet_breaks[@]}"; do
				IFS='|' read -r what _ _ want <<<"$b"
				i=$((i + 1))
				broken_check "fleet broken on purpose ($what)" "$tmp/fleet/main.tf" "$tmp/fleet-broken-$i/main.tf" "$want" \
					checkjs --fleet "$tmp/fleet-broken-$i" "$tmp/render/broken-$i.json"
			done
		else
			skip_prereq "the fleet's definitions against the ASL specification (check.js --fleet)" "node/npm missing or npm ci of asl-validator failed"
		fi
	fi
	# terraform test: the definition and the role's policy by value (tests/fleet.tftest.hcl),
	# and once more on a copy whose role has a wildcard action and on one whose verify reads every
# history, which must fail.
	tf_test "$tmp/fleet" "terraform test of modules/fleet (AWS provider mocked)"
	rm -rf "$tmp/fleet-broken" && cp -r "$tmp/fleet" "$tmp/fleet-broken"
	perl -0pi -e 's/Action   = \["s3:GetObject"\]/Action   = ["s3:Get*"]/' "$tmp/fleet-broken/main.tf"
	broken_check "fleet broken on purpose (s3:Get* in the role, terraform test)" "$tmp/fleet/main.tf" \
		"$tmp/fleet-broken/main.tf" 'the role has a wildcard action' terraform -chdir="$tmp/fleet-broken" test -no-color
	rm -rf "$tmp/fleet-broken" && cp -r "$tmp/fleet" "$tmp/fleet-broken"
	perl -0pi -e 's/Result     = true/Result     = false/' "$tmp/fleet-broken/main.tf"
	broken_check "fleet broken on purpose (a verify that is not head-only, terraform test)" "$tmp/fleet/main.tf" \
		"$tmp/fleet-broken/main.tf" 'verify is not head-only by default' terraform -chdir="$tmp/fleet-broken" test -no-color
fi

done_testing
