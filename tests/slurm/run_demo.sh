#!/usr/bin/env bash
# Run the demo cohort on a real single-node SLURM (tests/slurm/cluster.sh) through
# snakemake-executor-plugin-slurm with the shipped profile (config/profiles/slurm), run the
# same workflow locally, and compare every table under results/ (*.tsv, *.json) byte for byte.
#
#   tests/slurm/run_demo.sh [--local-run DIR] [--keep]
#
#   --local-run DIR  reuse a finished local run of the demo (a workflow copy whose results/
#                    is complete, e.g. the e2e tests' one) instead of running it again
#   --keep           keep the work folder (workflow copies, logs) for inspection
#
# Environment: SORTPCR_PYTHON (default: the repository's .venv python),
# SORTPCR_SLURM_TIMEOUT (seconds for the SLURM run, default 1800), SORTPCR_SLURM_DIR (the
# cluster's folder, see cluster.sh; default: a new short folder under /tmp).
#
# The plugin is installed into a folder of this run only and reaches Snakemake through
# PYTHONPATH for the SLURM run alone: the project's .venv never holds it, so local runs and
# the other tests never load it (with SLURM client tools installed and no controller up, the
# plugin adds about 10 s to every `snakemake` call).
#
# Exit status: 0 only if both runs succeed and every table matches. The cluster is stopped
# on every exit path.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=${SORTPCR_PYTHON:-$ROOT/.venv/bin/python}
SLURM_TIMEOUT=${SORTPCR_SLURM_TIMEOUT:-1800}
# What a user's clone holds, minus results (the same parts the e2e tests copy).
WORKFLOW_PARTS=(Snakefile rules scripts config envs resources sortpcr)

LOCAL_RUN=""
KEEP=0
while [[ $# -gt 0 ]]; do
    case $1 in
    --local-run)
        LOCAL_RUN=$(cd "$2" && pwd)
        shift 2
        ;;
    --keep)
        KEEP=1
        shift
        ;;
    *)
        echo "usage: $0 [--local-run DIR] [--keep]" >&2
        exit 2
        ;;
    esac
done

say() { printf 'run_demo.sh: %s\n' "$*" >&2; }

[[ -x $PY ]] || {
    say "no python at $PY (create the .venv first: make venv)"
    exit 2
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sortpcr-slurm-demo.XXXXXX")
# The cluster's folder holds Unix sockets (munged's, slurmstepd's), whose paths may not
# exceed 108 bytes: keep it short, directly under /tmp, unless the caller chose one.
export SORTPCR_SLURM_DIR=${SORTPCR_SLURM_DIR:-$(mktemp -d /tmp/sortpcr-slurm.XXXXXX)}
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
    local rc=$?
    "$HERE/cluster.sh" stop || rc=1
    if [[ $KEEP -eq 1 ]]; then
        say "kept $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

copy_workflow() {
    # copy_workflow DEST: the workflow without results, metadata or bytecode.
    local dest=$1 parts=() part
    for part in "${WORKFLOW_PARTS[@]}"; do
        [[ -e $ROOT/$part ]] && parts+=("$part")
    done
    mkdir -p "$dest"
    tar -C "$ROOT" --exclude=__pycache__ --exclude='*.pyc' --exclude=.snakemake \
        --exclude=results -cf - "${parts[@]}" | tar -C "$dest" -xf -
}

# 1. The plugin, pinned by the project's `slurm` extra, into a private folder. Only what the
#    .venv lacks is installed there (pip's resolver decides, against the .venv).
t0=$SECONDS
PLUGIN_DIR="$WORK/plugin"
mapfile -t REQUIREMENTS < <("$PY" - "$ROOT/pyproject.toml" <<'EOF'
import sys
import tomllib

with open(sys.argv[1], "rb") as handle:
    project = tomllib.load(handle)["project"]
print("\n".join(project["optional-dependencies"]["slurm"]))
EOF
)
"$PY" -m pip install --quiet --dry-run --report "$WORK/pip-report.json" \
    "${REQUIREMENTS[@]}" >/dev/null 2>"$WORK/pip-resolve.log" || {
    cat "$WORK/pip-resolve.log" >&2
    say "cannot resolve ${REQUIREMENTS[*]}"
    exit 1
}
mapfile -t MISSING < <("$PY" - "$WORK/pip-report.json" <<'EOF'
import json
import sys

with open(sys.argv[1]) as handle:
    report = json.load(handle)
for item in report["install"]:
    print(f"{item['metadata']['name']}=={item['metadata']['version']}")
EOF
)
if [[ ${#MISSING[@]} -gt 0 ]]; then
    "$PY" -m pip install --quiet --no-deps --target "$PLUGIN_DIR" "${MISSING[@]}" \
        2>"$WORK/pip-install.log" || {
        cat "$WORK/pip-install.log" >&2
        say "pip install --target failed"
        exit 1
    }
fi
say "plugin: installed ${MISSING[*]:-nothing} into $PLUGIN_DIR in $((SECONDS - t0)) s"
if "$PY" -c "import snakemake_executor_plugin_slurm" 2>/dev/null; then
    say "warning: the .venv itself already holds the SLURM plugin (+10 s per snakemake call)"
fi
PYTHONPATH="$PLUGIN_DIR" "$PY" -c "import snakemake_executor_plugin_slurm" || {
    say "the plugin does not import from $PLUGIN_DIR"
    exit 1
}
T_INSTALL=$((SECONDS - t0))

# 2. The cluster.
t0=$SECONDS
"$HERE/cluster.sh" start
T_CLUSTER=$((SECONDS - t0))

# 3. The local reference run (the plugin out of sight).
t0=$SECONDS
if [[ -n $LOCAL_RUN ]]; then
    LOCAL_DIR=$LOCAL_RUN
    [[ -d $LOCAL_DIR/results ]] || {
        say "$LOCAL_DIR has no results/"
        exit 2
    }
    say "local: reusing $LOCAL_DIR"
else
    LOCAL_DIR="$WORK/local"
    copy_workflow "$LOCAL_DIR"
    say "local: snakemake --cores $(nproc) in $LOCAL_DIR"
    if ! (cd "$LOCAL_DIR" && env -u PYTHONPATH PYTHONDONTWRITEBYTECODE=1 \
        "$PY" -m snakemake --cores "$(nproc)" >"$WORK/local.log" 2>&1); then
        tail -n 40 "$WORK/local.log" >&2
        say "the local run failed"
        exit 1
    fi
fi
T_LOCAL=$((SECONDS - t0))

# 4. The same workflow through SLURM, with the shipped profile as it is.
t0=$SECONDS
SLURM_RUN="$WORK/via-slurm"
copy_workflow "$SLURM_RUN"
# shellcheck source=/dev/null
source "$SORTPCR_SLURM_DIR/env.sh"
say "slurm: snakemake --workflow-profile config/profiles/slurm in $SLURM_RUN"
slurm_rc=0
(cd "$SLURM_RUN" && PYTHONPATH="$PLUGIN_DIR" PYTHONDONTWRITEBYTECODE=1 \
    timeout --kill-after=15 "$SLURM_TIMEOUT" \
    "$PY" -m snakemake --workflow-profile config/profiles/slurm \
    >"$WORK/slurm.log" 2>&1) || slurm_rc=$?
T_SLURM=$((SECONDS - t0))

# What SLURM itself saw (squeue lists finished jobs for MinJobAge seconds).
squeue --states=all --noheader --format='%i|%T|%M|%C|%m|%k' >"$WORK/squeue.txt" || true
SUBMITTED=$(grep -oE 'submitted with SLURM jobid [0-9]+' "$WORK/slurm.log" | awk '{print $NF}' |
    sort -n | tr '\n' ' ')
N_SUBMITTED=$(wc -w <<<"$SUBMITTED")
N_COMPLETED=$(grep -c '|COMPLETED|' "$WORK/squeue.txt" || true)
echo "squeue (jobid|state|time|cpus|memory|comment):"
sed 's/^/  /' "$WORK/squeue.txt"
echo "SLURM job IDs submitted by Snakemake: $SUBMITTED"
STEPS=$(grep -oE '[0-9]+ of [0-9]+ steps \(100%\) done' "$WORK/slurm.log" | tail -n 1 |
    awk '{print $3}')
echo "SLURM jobs: $N_SUBMITTED submitted, $N_COMPLETED COMPLETED per squeue"
echo "Snakemake jobs: ${STEPS:-unknown} (grouped into the SLURM jobs above)"

if [[ $slurm_rc -ne 0 ]]; then
    tail -n 60 "$WORK/slurm.log" >&2
    for log in "$SLURM_RUN"/.snakemake/slurm_logs/*/*/*.log "$SLURM_RUN"/.snakemake/slurm_logs/*/*.log; do
        [[ -f $log ]] || continue
        say "--- $log"
        tail -n 30 "$log" >&2
    done
    say "the SLURM run failed (exit $slurm_rc; 124/137 = timed out after $SLURM_TIMEOUT s)"
    exit 1
fi

# 5. Every table, byte for byte.
compare_rc=0
"$PY" - "$LOCAL_DIR/results" "$SLURM_RUN/results" <<'EOF' || compare_rc=$?
import difflib
import sys
from pathlib import Path

local, slurm = Path(sys.argv[1]), Path(sys.argv[2])


def tables(root: Path) -> set[str]:
    return {
        str(p.relative_to(root)) for p in root.rglob("*") if p.suffix in (".tsv", ".json")
    }


a, b = tables(local), tables(slurm)
problems = []
for name in sorted(a - b):
    problems.append(f"only in the local run: results/{name}")
for name in sorted(b - a):
    problems.append(f"only in the SLURM run: results/{name}")
same = 0
for name in sorted(a & b):
    x, y = (local / name).read_bytes(), (slurm / name).read_bytes()
    if x == y:
        same += 1
        continue
    problems.append(f"differs: results/{name}")
    diff = difflib.unified_diff(
        x.decode(errors="replace").splitlines(),
        y.decode(errors="replace").splitlines(),
        "local",
        "slurm",
        lineterm="",
        n=0,
    )
    problems.extend("    " + line for line in list(diff)[:20])
print(f"compared {len(a | b)} tables: {same} identical")
for line in problems:
    print(line)
sys.exit(1 if problems or not a else 0)
EOF

echo "timings: plugin install ${T_INSTALL} s, cluster start ${T_CLUSTER} s," \
    "local run ${T_LOCAL} s$([[ -n $LOCAL_RUN ]] && echo ' (reused)'), SLURM run ${T_SLURM} s"
exit "$compare_rc"
