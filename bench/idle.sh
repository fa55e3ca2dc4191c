# shellcheck shell=bash
# Sourced by bench/run.sh and bench/vm/run.sh: timings are only worth
# something on an otherwise idle machine. Needs say() and WAIT_IDLE (s).

# Percentage of all CPUs busy over one second (/proc/stat: user, nice,
# system, irq, softirq and steal against those plus idle and iowait; steal
# counts, since a hypervisor taking the CPUs disturbs a run as much).
machine_busy_pct() {
	local a b busy total
	read -r -a a </proc/stat
	sleep 1
	read -r -a b </proc/stat
	busy=$(((b[1] + b[2] + b[3] + b[6] + b[7] + b[8]) -
		(a[1] + a[2] + a[3] + a[6] + a[7] + a[8])))
	total=$((busy + (b[4] + b[5]) - (a[4] + a[5])))
	echo $((total > 0 ? busy * 100 / total : 0))
}

# Waits up to WAIT_IDLE seconds for at most 10% busy; leaves the last
# reading in IDLE_BUSY and warns when the machine never went quiet.
wait_idle() {
	local deadline=$((SECONDS + WAIT_IDLE))
	IDLE_BUSY=$(machine_busy_pct)
	while [ "$IDLE_BUSY" -gt 10 ] && [ "$SECONDS" -lt "$deadline" ]; do
		say "machine busy ($IDLE_BUSY% CPU used by other processes), waiting"
		sleep 4
		IDLE_BUSY=$(machine_busy_pct)
	done
	[ "$IDLE_BUSY" -le 10 ] ||
		say "WARNING: machine busy ($IDLE_BUSY% CPU used by other processes): timings will be disturbed"
}
