#!/usr/bin/env bash
# Mutation testing of one pure-core module with the tests that exercise it (issue 19).
#
#   tools/mutation.sh                       # list the modules and their tests
#   tools/mutation.sh monitor/route.py      # one module, with its tests from the table below
#   tools/mutation.sh monitor/route.py tests/test_route.py   # one module, tests given
#   tools/mutation.sh all                   # every module of the table, one after the other
#
# mutmut (pip install -e '.[mutation]') copies the tree into a scratch directory,
# .mutation/<module>/ (git-ignored), so the work tree, its tests and its caches are never
# touched; mutmut's own mutants/ lives inside that directory.  The scratch pyproject.toml
# is this one with the module (only_mutate) and its tests added to [tool.mutmut].
# Results: a summary line per module and the surviving mutants, each shown with
# `cd .mutation/<module> && mutmut show <name>` (the directory stays until the next run).
#
# Environment: MUTATION_JOBS (parallel test processes, default 1: the run is CPU bound),
# MUTMUT (the mutmut command, default `mutmut`), MUTATION_DIR (default .mutation).
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD

# The pure core and the tests that exercise it: kept small so a module takes minutes.
declare -A TESTS=(
    [monitor/route.py]="tests/test_route.py tests/test_route_targets.py"
    [monitor/fetch/schedule.py]="tests/fetch/test_schedule.py tests/fetch/test_schedule_edges.py"
    [monitor/dedupe/decide.py]="tests/dedupe/test_dedupe_copies.py tests/dedupe/test_dedupe_properties.py tests/dedupe/test_dedupe_stories.py tests/dedupe/test_story_precision.py tests/dedupe/test_decide_exact.py"
    [monitor/match/offsets.py]="tests/match/test_match_normalize.py tests/match/test_match_snippets.py tests/match/test_offsets_exact.py"
    [monitor/render/schedule.py]="tests/test_digest_schedule.py tests/test_digest_schedule_edges.py tests/pipeline/test_telegram_options.py::test_quiet_hours_follow_the_wall_clock_across_a_dst_change"
)
ORDER=(
    monitor/route.py monitor/fetch/schedule.py monitor/dedupe/decide.py monitor/match/offsets.py
    monitor/render/schedule.py
)

if [[ $# -eq 0 ]]; then
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
    echo
    for m in "${ORDER[@]}"; do printf '%-28s %s\n' "$m" "${TESTS[$m]}"; done
    exit 0
fi
if [[ $1 == all ]]; then
    for m in "${ORDER[@]}"; do "$0" "$m"; done
    exit 0
fi

module=$1
shift
[[ -f $module ]] || { echo "mutation: no such module: $module" >&2; exit 2; }
if [[ $# -gt 0 ]]; then
    tests=("$@")
elif [[ -n ${TESTS[$module]:-} ]]; then
    read -r -a tests <<<"${TESTS[$module]}"
else
    echo "mutation: $module has no tests in the table; name them after the module" >&2
    exit 2
fi
for t in "${tests[@]}"; do
    [[ -e ${t%%::*} ]] || { echo "mutation: no such test file: $t" >&2; exit 2; }
done

mutmut=${MUTMUT:-mutmut}
command -v "$mutmut" >/dev/null || {
    echo "mutation: mutmut not found; pip install -e '.[mutation]'" >&2
    exit 2
}
slug=${module//\//_}
slug=${slug%.py}
work=${MUTATION_DIR:-$root/.mutation}/$slug
# A fresh copy each run: mutmut's cache in mutants/ would keep earlier verdicts after
# a test changed, and a figure must come from one run of today's code and tests.
rm -rf "$work"
mkdir -p "$work"
cp -r monitor tests "$work/"
cp tools/mutation_conftest.py "$work/conftest.py"
find "$work/monitor" "$work/tests" -name __pycache__ -prune -exec rm -rf {} +

python3 - "$root/pyproject.toml" "$work/pyproject.toml" "$module" "${tests[@]}" <<'EOF'
import json
import sys

src, dst, module, *tests = sys.argv[1:]
text = open(src, encoding="utf-8").read()
header = "[tool.mutmut]\n"
if header not in text:
    sys.exit(f"mutation: {src} has no {header.strip()} table")
extra = (
    'also_copy = ["conftest.py"]\n'
    f"only_mutate = {json.dumps([module])}\n"
    f"pytest_add_cli_args_test_selection = {json.dumps(tests)}\n"
)
open(dst, "w", encoding="utf-8").write(text.replace(header, header + extra, 1))
EOF

cd "$work"
echo "mutation: $module with ${tests[*]}"
nice -n 10 "$mutmut" run --max-children "${MUTATION_JOBS:-1}" >run.log 2>&1 || {
    tail -n 40 run.log >&2
    echo "mutation: mutmut failed, see $work/run.log" >&2
    exit 1
}
"$mutmut" export-cicd-stats >/dev/null
python3 - "$module" <<'EOF'
import json
import sys

s = json.load(open("mutants/mutmut-cicd-stats.json"))
# Killed by a failing test or by a timeout (a mutant that loops forever is noticed);
# a survivor, a mutant no test runs, and a suspicious one all count against the score.
killed = s["killed"] + s["timeout"]
total = s["total"] - s["skipped"]
score = 100.0 * killed / total if total else 0.0
print(
    f"{sys.argv[1]}: {total} mutants, {killed} killed, {s['survived']} survived, "
    f"{s['no_tests']} without tests, {s['suspicious']} suspicious, score {score:.1f} %"
)
EOF
"$mutmut" results | sed -n '/: \(survived\|no tests\|suspicious\)$/p'
