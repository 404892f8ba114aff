/* SPDX-License-Identifier: MIT */
/*
 * Whether the agent runs: its heartbeat in the control page (snapshot.h,
 * 3.4), and `status --probe live|ready` for the DaemonSet's exec probes.
 */
#include "ctl.h"

#include <string.h>
#include <time.h>

/*
 * The agent beats once a second (agent_run's check). Ten seconds is ten
 * beats missed: more than a publish of a large table or a slow disk holds
 * the loop, so a busy agent is not restarted, and still well inside the
 * time a node's pods take to notice a table gone stale. The kubelet's
 * failureThreshold (3 by default) comes on top of it.
 */
#define CTL_LIVE_MAX_AGE_NS (10ULL * 1000000000ULL)
/* A heartbeat ahead of our clock by more than this is not a clock's
 * rounding: a page from an earlier boot (snapshot.h), so no agent. */
#define CTL_LIVE_AHEAD_NS 1000000000ULL

static uint64_t ctl__mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void ctl_live(const struct ldmesh_control *control, struct ctl_live *l)
{
	uint64_t beat, now = ctl__mono_ns();

	memset(l, 0, sizeof(*l));
	if (!control)
		return;
	/* the agent stores while we read: each word whole (relaxed) */
	beat = __atomic_load_n(&control->heartbeat_mono_ns, __ATOMIC_RELAXED);
	l->pid = __atomic_load_n(&control->heartbeat_pid, __ATOMIC_RELAXED);
	if (!beat)
		return;
	l->known = true;
	if (beat > now + CTL_LIVE_AHEAD_NS) {
		l->age_ns = UINT64_MAX; /* an earlier boot's */
		return;
	}
	l->age_ns = beat > now ? 0 : now - beat;
	l->alive = l->age_ns <= CTL_LIVE_MAX_AGE_NS;
}

/* "0.3 s ago", or what stands for it */
static const char *ctl__age(const struct ctl_live *l, char *buf, size_t len)
{
	if (l->age_ns == UINT64_MAX)
		snprintf(buf, len, "from before this boot");
	else
		snprintf(buf, len, "%.1f s ago", (double)l->age_ns / 1e9);
	return buf;
}

/* Why the agent is not live, in `buf`; NULL when it is. */
static const char *ctl__not_live(const struct ctl *c, const struct ctl_live *l,
				 char *buf, size_t len)
{
	char age[48];

	if (!c->control)
		snprintf(buf, len, "no control page at %s: %s", c->table,
			 c->unusable ? c->unusable : "no agent opened the table");
	else if (!l->known)
		snprintf(buf, len, "no heartbeat in %s/control (an agent older than table "
			 "format 3.4, or not running)", c->table);
	else if (!l->alive)
		snprintf(buf, len, "agent not answering: last heartbeat %s (pid %u; the limit "
			 "is %llu s)", ctl__age(l, age, sizeof(age)), l->pid,
			 CTL_LIVE_MAX_AGE_NS / 1000000000ULL);
	else
		return NULL;
	return buf;
}

/* Why new pods would not get a full table, in `buf`; NULL when they do. */
static const char *ctl__not_ready(const struct ctl *c, char *buf, size_t len)
{
	if (!c->snap)
		snprintf(buf, len, "no usable table at %s: %s", c->table,
			 c->unusable ? c->unusable : "nothing published yet");
	else if (c->refused)
		snprintf(buf, len, "%s", c->refused);
	else if (c->snap->flags & LDMESH_SNAP_F_INCOMPLETE)
		snprintf(buf, len, "table generation %llu is incomplete (the agent runs with "
			 "--require-sync and the folder is not synced)",
			 (unsigned long long)c->snap->generation);
	else
		return NULL;
	return buf;
}

int ctl_probe(const struct ctl *c, const char *what)
{
	struct ctl_live l;
	char why[512], age[48];
	const char *bad;
	bool ready = !strcmp(what, "ready");

	ctl_live(c->control, &l);
	if ((bad = ctl__not_live(c, &l, why, sizeof(why))) ||
	    (ready && (bad = ctl__not_ready(c, why, sizeof(why))))) {
		fprintf(c->out, "not %s: %s\n", what, bad);
		return 1;
	}
	if (ready)
		fprintf(c->out, "ready: agent pid %u, heartbeat %s, table generation %llu "
			"complete\n", l.pid, ctl__age(&l, age, sizeof(age)),
			(unsigned long long)c->snap->generation);
	else
		fprintf(c->out, "live: agent pid %u, heartbeat %s\n", l.pid,
			ctl__age(&l, age, sizeof(age)));
	return 0;
}

const char *ctl_live_say(const struct ctl_live *l, char *buf, size_t len)
{
	char age[48];

	if (!l->known)
		snprintf(buf, len, "unknown (no heartbeat: an agent older than table format 3.4)");
	else if (l->alive)
		snprintf(buf, len, "alive (pid %u, heartbeat %s)", l->pid,
			 ctl__age(l, age, sizeof(age)));
	else
		snprintf(buf, len, "not answering (last heartbeat %s, pid %u)",
			 ctl__age(l, age, sizeof(age)), l->pid);
	return buf;
}
