#!/usr/bin/env bash
# A private, single-node SLURM cluster on 127.0.0.1 for tests: munged + slurmctld + slurmd,
# all running as root without systemd or cgroups, every file under one folder.
#
#   tests/slurm/cluster.sh start   install slurm-wlm + munge if missing, write the config,
#                                  start the three daemons, wait until the node is idle
#   tests/slurm/cluster.sh stop    cancel our jobs, stop exactly the daemons `start` started
#                                  (by the PIDs it recorded), remove the folder
#   tests/slurm/cluster.sh status  print the PIDs and `sinfo`
#
# Environment:
#   SORTPCR_SLURM_DIR   the private folder, at most 60 bytes long (default: /tmp/sortpcr-slurm)
#   SORTPCR_SLURM_PORT  slurmctld port; slurmd uses the next one (default: the first free
#                       pair among 6817, 6827, ..., 6907 on 127.0.0.1)
#
# After `start`, clients need `SLURM_CONF=$SORTPCR_SLURM_DIR/etc/slurm.conf` (and, for the
# executor plugin, $SORTPCR_SLURM_DIR/bin first on PATH); `start` writes both to
# $SORTPCR_SLURM_DIR/env.sh for callers to source.
set -euo pipefail
# The daemons live in /usr/sbin, which a non-login shell may lack.
PATH=$PATH:/usr/sbin:/sbin

SLURM_DIR=${SORTPCR_SLURM_DIR:-/tmp/sortpcr-slurm}
PORT=${SORTPCR_SLURM_PORT:-}
PARTITION=debug
# The plugin's squeue status mode only works while finished jobs are still listed, i.e. for
# MinJobAge seconds after they end; the plugin wants >= 3 x its first-poll delay. An hour,
# so that the test can still list every job of a run at its end.
MIN_JOB_AGE=3600
DAEMONS=(munged slurmctld slurmd)

log() { printf 'cluster.sh: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

ensure_packages() {
    local missing=()
    local tool
    for tool in munged mungekey slurmctld slurmd sbatch squeue sinfo scontrol srun; do
        command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    [[ $(id -u) -eq 0 ]] || die "missing ${missing[*]} and not root: cannot apt-get install"
    command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]} and no apt-get"
    log "installing slurm-wlm and munge (missing: ${missing[*]})"
    local t0=$SECONDS
    # Package scripts must not start the system-wide daemons: we run our own private ones.
    # Debian's policy-rc.d hook says "don't"; add one only for this install if none exists.
    local policy=/usr/sbin/policy-rc.d added_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        added_policy=1
    fi
    local rc=0 aptlog
    aptlog=$(mktemp)
    {
        # Wait for a dpkg lock held by another install rather than fail at once.
        apt-get -o DPkg::Lock::Timeout=300 update -qq &&
            DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install \
                -y -qq --no-install-recommends slurm-wlm munge
    } >"$aptlog" 2>&1 || rc=$?
    [[ $added_policy -eq 1 ]] && rm -f "$policy"
    if [[ $rc -ne 0 ]]; then
        tail -n 20 "$aptlog" >&2
        rm -f "$aptlog"
        die "apt-get install slurm-wlm munge failed (exit $rc)"
    fi
    rm -f "$aptlog"
    log "installed in $((SECONDS - t0)) s"
}

# Echo the PID recorded for a daemon if that process is still the daemon we started.
live_pid() {
    local name=$1 pidfile="$SLURM_DIR/pids/$1.pid" pid
    [[ -f $pidfile ]] || return 1
    pid=$(<"$pidfile")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ -r /proc/$pid/cmdline ]] || return 1
    # Guard against PID reuse: the process must still run our binary.
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "$name" || return 1
    echo "$pid"
}

port_in_use() {
    # Something answers on 127.0.0.1:$1 (a closed port refuses at once).
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pick_port() {
    [[ -n $PORT ]] && return 0
    local p
    for ((p = 6817; p <= 6907; p += 10)); do
        if ! port_in_use "$p" && ! port_in_use $((p + 1)); then
            PORT=$p
            return 0
        fi
    done
    die "no free port pair between 6817 and 6908 on 127.0.0.1"
}

write_config() {
    local host cpus mem node_line
    host=$(hostname -s)
    # The machine's real topology and memory as slurmd sees them; a node declared with more
    # memory than it has would be drained as invalid.
    node_line=$(slurmd -C | head -n 1)
    cpus=$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$node_line")
    mem=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$node_line")
    [[ -n $cpus && -n $mem ]] || die "cannot read CPUs/RealMemory from 'slurmd -C': $node_line"

    mkdir -p "$SLURM_DIR"/{etc,munge,state,spool,log,pids,bin}
    chmod 700 "$SLURM_DIR" "$SLURM_DIR/munge"
    cat >"$SLURM_DIR/etc/slurm.conf" <<EOF
# Written by tests/slurm/cluster.sh: a throwaway single-node cluster on 127.0.0.1.
ClusterName=sortpcr
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SLURM_DIR/munge/munge.socket
StateSaveLocation=$SLURM_DIR/state
SlurmdSpoolDir=$SLURM_DIR/spool
SlurmctldPidFile=$SLURM_DIR/log/slurmctld.pidfile
SlurmdPidFile=$SLURM_DIR/log/slurmd.pidfile
SlurmctldLogFile=$SLURM_DIR/log/slurmctld.log
SlurmdLogFile=$SLURM_DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No systemd, no cgroups: track processes through /proc, no task binding.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
# No slurmdbd: the executor plugin polls squeue, which lists a finished job for MinJobAge s.
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MinJobAge=$MIN_JOB_AGE
SchedulerType=sched/backfill
# Cores and memory are both consumable, so small jobs share the node.
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
ReturnToService=2
InactiveLimit=0
KillWait=5
Waittime=0
SlurmctldTimeout=30
SlurmdTimeout=60
NodeName=$host NodeHostname=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    # An empty plugin stack, so nothing from /etc/slurm is read.
    : >"$SLURM_DIR/etc/plugstack.conf"
    # Clients find this cluster through SLURM_CONF. Inside a job, the slurm-jobstep plugin
    # (0.6.1) removes every SLURM_* variable, SLURM_CONF included, before its nested `srun`,
    # which then looks for /etc/slurm/slurm.conf. Real clusters keep their config there; ours
    # is private, so a small `srun` first on PATH puts the variable back.
    cat >"$SLURM_DIR/bin/srun" <<EOF
#!/bin/sh
SLURM_CONF='$SLURM_DIR/etc/slurm.conf' exec '$(command -v srun)' "\$@"
EOF
    chmod 755 "$SLURM_DIR/bin/srun"
    cat >"$SLURM_DIR/env.sh" <<EOF
export SLURM_CONF='$SLURM_DIR/etc/slurm.conf'
export PATH='$SLURM_DIR/bin':"\$PATH"
EOF
}

start_daemon() {
    # start_daemon NAME CMD...: run a foreground daemon in the background, record its PID.
    local name=$1
    shift
    # setsid: own session, so a signal to the caller's process group does not reach it;
    # every stream goes to a file so no caller waits on an inherited pipe.
    setsid "$@" </dev/null >"$SLURM_DIR/log/$name.out" 2>&1 &
    echo $! >"$SLURM_DIR/pids/$name.pid"
    log "started $name (PID $!)"
}

wait_for() {
    # wait_for SECONDS DESCRIPTION CMD...: poll CMD every 0.5 s until it succeeds.
    local limit=$1 what=$2
    shift 2
    local i
    for ((i = 0; i < limit * 2; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    log "timed out after ${limit} s waiting for $what"
    return 1
}

node_idle() {
    [[ $(sinfo -h -N -o %t 2>/dev/null) == idle ]]
}

cmd_start() {
    [[ $(id -u) -eq 0 ]] || die "start needs root (the daemons run as root)"
    local name
    for name in "${DAEMONS[@]}"; do
        if [[ -d $SLURM_DIR ]] && live_pid "$name" >/dev/null; then
            die "$name already running from $SLURM_DIR; run '$0 stop' first"
        fi
    done
    # Unix socket paths (munged's, slurmstepd's in the spool folder) are limited to 108 bytes.
    if [[ ${#SLURM_DIR} -gt 60 ]]; then
        die "SORTPCR_SLURM_DIR is too long for Unix sockets (${#SLURM_DIR} > 60 bytes): $SLURM_DIR"
    fi
    ensure_packages
    local t0=$SECONDS
    rm -rf "$SLURM_DIR"
    pick_port
    write_config
    export SLURM_CONF="$SLURM_DIR/etc/slurm.conf"

    # A fresh key for this cluster only; munged wants it private and owned by its user.
    mungekey --create --keyfile="$SLURM_DIR/munge/munge.key" 2>/dev/null ||
        dd if=/dev/urandom of="$SLURM_DIR/munge/munge.key" bs=1024 count=1 status=none
    chmod 400 "$SLURM_DIR/munge/munge.key"
    # --force: munged wants its socket reachable by every user and refuses a socket in a
    # folder only root may enter; here root is the only user, so accept that.
    start_daemon munged munged --foreground --force \
        --socket="$SLURM_DIR/munge/munge.socket" \
        --key-file="$SLURM_DIR/munge/munge.key" \
        --pid-file="$SLURM_DIR/munge/munged.pid" \
        --seed-file="$SLURM_DIR/munge/munged.seed" \
        --log-file="$SLURM_DIR/log/munged.log"
    if ! wait_for 20 "munged" munge --socket="$SLURM_DIR/munge/munge.socket" -n; then
        cat "$SLURM_DIR/log/munged.out" "$SLURM_DIR/log/munged.log" >&2 2>/dev/null || true
        cmd_stop
        die "munged did not come up"
    fi

    start_daemon slurmctld slurmctld -D -i -f "$SLURM_CONF"
    if ! wait_for 30 "slurmctld" scontrol ping; then
        tail -n 30 "$SLURM_DIR/log/slurmctld.log" "$SLURM_DIR/log/slurmctld.out" >&2 || true
        cmd_stop
        die "slurmctld did not answer"
    fi
    start_daemon slurmd slurmd -D -f "$SLURM_CONF"
    if ! wait_for 60 "the node to be idle" node_idle; then
        sinfo -N -l >&2 || true
        tail -n 30 "$SLURM_DIR/log/slurmd.log" "$SLURM_DIR/log/slurmd.out" >&2 || true
        cmd_stop
        die "node never became idle"
    fi
    log "cluster up in $((SECONDS - t0)) s: SLURM_CONF=$SLURM_CONF"
    sinfo >&2
}

stop_pid() {
    # stop_pid NAME: SIGTERM the recorded PID, wait up to 15 s, then SIGKILL it.
    local name=$1 pid i
    pid=$(live_pid "$name") || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 30; i++)); do
        [[ -e /proc/$pid ]] || break
        # Reap a zombie if it is our child; otherwise just wait for it to vanish.
        [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) == Z ]] && break
        sleep 0.5
    done
    if [[ -e /proc/$pid ]] && [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]]; then
        log "$name (PID $pid) ignored SIGTERM; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    log "stopped $name (PID $pid)"
}

cmd_stop() {
    [[ -d $SLURM_DIR ]] || {
        log "nothing to stop ($SLURM_DIR does not exist)"
        return 0
    }
    export SLURM_CONF="$SLURM_DIR/etc/slurm.conf"
    # Jobs first: their slurmstepd processes belong to SLURM, not to the PIDs we recorded,
    # so ask SLURM to end them and wait until none is left on the node.
    if live_pid slurmctld >/dev/null; then
        scancel --full --quiet --partition="$PARTITION" 2>/dev/null || true
        # shellcheck disable=SC2016  # expanded by the inner bash
        wait_for 30 "jobs to end" bash -c '[[ -z $(squeue -h -t R,CG,PD 2>/dev/null) ]]' ||
            true
    fi
    local i
    for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do
        stop_pid "${DAEMONS[i]}"
    done
    rm -rf "$SLURM_DIR"
}

cmd_status() {
    local name pid
    for name in "${DAEMONS[@]}"; do
        if pid=$(live_pid "$name"); then
            echo "$name running (PID $pid)"
        else
            echo "$name not running"
        fi
    done
    if [[ -f $SLURM_DIR/etc/slurm.conf ]]; then
        SLURM_CONF="$SLURM_DIR/etc/slurm.conf" sinfo || true
    fi
}

case ${1:-} in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
*)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
