/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "agent.h"
#include "agent_metrics.h"
#include "table_lock.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ldmesh/reader.h"
#include "log.h"
#include "settle.h"
#include "snap_build.h"
#include "watch.h"

uint64_t agent_now_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The flags' checks on every manifest load from here on. */
static void agent__policy(const struct agent_opts *o)
{
	struct manifest_policy p = o->policy;

	p.cidrs = o->cidrs;
	manifest_set_policy(&p);
}

int agent_check(const struct agent_opts *o)
{
	struct sources src = { .v = NULL, .max_files = o->max_files };
	struct model_out out;
	struct diag d;
	unsigned conflicts = 0;
	int err;

	log_diag_init(&d);
	agent__policy(o);
	err = sources_rescan(&src, o->manifests, &d);
	if (err >= 0) {
		struct model_opts mo = { .cluster_domain = o->cluster_domain,
					 .node_name = o->node, .zone = o->zone,
					 .cidrs = o->cidrs };
		err = model_resolve(src.v, src.n, &mo, NULL, &out, &d);
		if (!err) {
			size_t eps = 0;
			for (size_t i = 0; i < out.n_services; i++)
				eps += out.services[i].n_endpoints;
			log_info("%s: %zu files, %zu services, %zu endpoints, %u errors, "
				 "%u conflicts", o->manifests, src.n, out.n_services, eps,
				 d.errors, out.conflicts);
			/* a conflict (two definitions of a Service, two Services
			 * on one address) fails the check like an error: what
			 * gets published is not what the files say */
			conflicts = out.conflicts;
			model_out_free(&out);
		}
	}
	sources_free(&src);
	return err < 0 ? err : (int)(d.errors + conflicts);
}

/*
 * --state: the last good copies and allocations. A state directory that
 * cannot be used (read-only, someone else's, a full filesystem at
 * creation) does not stop the agent: publishing what the folder says
 * matters more than surviving the next restart with a broken file. It
 * runs without state and says so, in the log and the status file.
 */
static void agent__open_state(struct agent *a)
{
	char why[400];

	if (laststate_open(&a->last, a->o.state, why, sizeof(why)) < 0) {
		snprintf(a->state_off, sizeof(a->state_off), "%s; running without --state "
			 "(a restart will not have the last good copies)", why);
		log_error("%s", a->state_off);
		return;
	}
	a->src.last = &a->last;
	/* a restart keeps the addresses it allocated before: they are
	 * the previous result of the first resolve */
	if (laststate_load_allocations(&a->last, &a->model.allocs, &a->model.n_allocs,
				       &a->model.alloc_keys) == 0)
		log_info("restored %zu allocated ClusterIPs from %s", a->model.n_allocs,
			 a->o.state);
}

/* <table>.sock, bound while we hold the table's lock. Without it
 * processes cannot report or count, which is no reason not to publish:
 * said in the log and the status. */
static void agent__open_inbox(struct agent *a)
{
	char why[512];

	if (inbox_new(&a->inbox) < 0 || inbox_open(a->inbox, a->o.table, why, sizeof(why)) < 0) {
		snprintf(a->inbox_off, sizeof(a->inbox_off), "report socket: %s; processes' "
			 "failure reports and counters are not received",
			 a->inbox ? why : strerror(ENOMEM));
		log_error("%s", a->inbox_off);
	}
}

int agent_init(struct agent *a, const struct agent_opts *o)
{
	char why[512];
	int err;

	memset(a, 0, sizeof(*a));
	a->o = *o;
	log_diag_init(&a->diag);
	agent__policy(o);
	a->last.dir_fd = -1;
	a->src.root = o->manifests; /* no file is read from outside it */
	a->src.max_files = o->max_files;
	a->complete = !o->require_sync;
	a->lock_fd = table_lock_take(o->table, why, sizeof(why));
	if (a->lock_fd < 0) {
		log_error("%s", why);
		return a->lock_fd;
	}
	err = publish_open(&a->pub, o->table, why, sizeof(why));
	if (err || why[0])
		log_error("%s", why); /* a failure, or a page repaired */
	if (err)
		return err;
	agent__open_inbox(a);
	agent_health_init(a);
	if ((err = snap_cache_new(&a->cache)))
		log_error("snapshot cache: %s", strerror(-err));
	else if (o->state)
		agent__open_state(a);
	return err;
}

/* Room in the status file for the health lines (agent_health_status). */
#define AGENT_HEALTH_STATUS_BYTES (512 + HEALTH_EJECTED_MAX * 80)
/* Room in the status file for the note lines (agent__notes). */
#define AGENT_NOTES_BYTES 8192
/* Problems with the folder listed in the status, at most. */
#define AGENT_STATUS_NOTES 32

/* One status field: tabs and newlines would break its line format. */
static void agent__field(char *out, size_t cap, const char *in)
{
	size_t n = 0;

	for (; *in && n + 1 < cap; in++)
		out[n++] = (*in == '\n' || *in == '\t' || *in == '\r') ? ' ' : *in;
	out[n] = 0;
}

/* What is wrong and stays wrong until someone acts, as the status file's
 * "note" lines, at most `cap` bytes of them into `out`. */
static size_t agent__notes(struct agent *a, char *out, size_t cap)
{
	char buf[900], sealed[600], field[1000];
	const char *w[] = {
		a->dir_refused,
		publish_unsealed(&a->pub, sealed, sizeof(sealed)),
		a->state_off,
		laststate_trouble(&a->last, buf, sizeof(buf)),
		a->incomplete,
		a->inbox_off,
	};
	size_t len = 0;

	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]) && len < cap; i++)
		if (w[i][0]) {
			agent__field(field, sizeof(field), w[i]);
			len += (size_t)snprintf(out + len, cap - len, "note %s\n", field);
		}
	return len < cap ? len : cap - 1;
}

void agent_write_status(struct agent *a)
{
	size_t cap = 64 + AGENT_NOTES_BYTES + a->src.n_rejects * 1100 +
		     (AGENT_STATUS_NOTES + 2) * 620 + AGENT_HEALTH_STATUS_BYTES +
		     MODEL_ROUTE_NOTES * 610, len;
	char *text = malloc(cap), when[32];
	time_t now = time(NULL);
	struct tm tm;

	if (!text)
		return;
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	len = (size_t)snprintf(text, cap, "last-scan %s\n", when);
	len += agent__notes(a, text + len, AGENT_NOTES_BYTES);
	if (a->follow_note[0] && len < cap) {
		char note[400];
		agent__field(note, sizeof(note), a->follow_note);
		len += (size_t)snprintf(text + len, cap - len, "note %s\n", note);
	}
	/* what the scan reports stays in the status while it lasts (the
	 * log says it once) */
	for (size_t i = 0; i < a->src.n_notes && i < AGENT_STATUS_NOTES && len < cap; i++) {
		char note[600];
		agent__field(note, sizeof(note), a->src.notes[i]);
		len += (size_t)snprintf(text + len, cap - len, "note %s\n", note);
	}
	if (a->src.n_notes + a->src.n_notes_more > AGENT_STATUS_NOTES && len < cap)
		len += (size_t)snprintf(text + len, cap - len, "note ... and %zu more problems "
					"with the folder (the log has each once)\n",
					a->src.n_notes + a->src.n_notes_more - AGENT_STATUS_NOTES);
	/* TCPRoutes attached nowhere (model_route.c) */
	for (size_t i = 0; i < a->model.n_route_notes && len < cap; i++)
		len += (size_t)snprintf(text + len, cap - len, "note %s\n", a->model.route_notes[i]);
	for (size_t i = 0; i < a->src.n_rejects && len < cap; i++) {
		char path[512], error[560];

		agent__field(path, sizeof(path), a->src.rejects[i].path);
		agent__field(error, sizeof(error), a->src.rejects[i].error);
		len += (size_t)snprintf(text + len, cap - len, "rejected %s\t%s\n", path, error);
	}
	if (len < cap)
		len += agent_health_status(a, text + len, cap - len);
	if (publish_status(&a->pub, text) < 0)
		log_debug("could not write %s/%s", a->o.table, LDMESH_STATUS_NAME);
	free(text);
}

/* The paths reported since the last apply. paths[0..gone) were found
 * removed by agent__classify; the rest have not been looked at yet. */
struct pending {
	char **paths;
	size_t n, cap, gone;
	bool oom;
};

static void agent__note(void *ctx, const char *path)
{
	struct pending *p = ctx;
	char *copy;

	for (size_t i = 0; i < p->n; i++) {
		if (strcmp(p->paths[i], path))
			continue;
		/* reported again: whether it is gone is to be looked at again */
		if (i < p->gone) {
			char *t = p->paths[i];

			p->gone--;
			p->paths[i] = p->paths[p->gone];
			p->paths[p->gone] = t;
		}
		return;
	}
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		char **v = realloc(p->paths, cap * sizeof(*v));
		if (!v) {
			p->oom = true; /* fall back to a rescan */
			return;
		}
		p->paths = v;
		p->cap = cap;
	}
	copy = strdup(path);
	if (!copy) {
		p->oom = true;
		return;
	}
	p->paths[p->n++] = copy;
}

static void agent__pending_clear(struct pending *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->paths[i]);
	p->n = p->gone = 0;
	p->oom = false;
}

static int agent__signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, set, NULL) < 0)
		return -errno;
	int fd = signalfd(-1, set, SFD_NONBLOCK | SFD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* The way the folder is followed now, said when it changes: `werr` is
 * what placing the watches answered (0: placed, maybe not everywhere). */
static void agent__follow(struct agent *a, const struct watch *w, int werr, unsigned poll_ms)
{
	enum agent_follow f = !w || werr < 0 ? AGENT_FOLLOW_POLL
			      : watch_partial(w) ? AGENT_FOLLOW_PARTIAL : AGENT_FOLLOW_WATCH;

	if (f == a->follow)
		return;
	a->follow = f;
	if (f == AGENT_FOLLOW_WATCH) {
		a->follow_note[0] = 0;
		log_info("%s: watching every directory again", a->o.manifests);
		return;
	}
	if (f == AGENT_FOLLOW_PARTIAL)
		snprintf(a->follow_note, sizeof(a->follow_note),
			 "%s: watching %zu directories, not all (more than the agent's 16384, or "
			 "the kernel's fs.inotify.max_user_watches): edits in the others are "
			 "found by a rescan every %u ms or more", a->o.manifests, watch_count(w),
			 poll_ms);
	else
		snprintf(a->follow_note, sizeof(a->follow_note),
			 "%s: cannot watch it (%s): edits are found by a rescan every %u ms "
			 "or more", a->o.manifests, strerror(werr < 0 ? -werr : EINVAL), poll_ms);
	log_error("%s", a->follow_note);
}

/* The control loop's state: the watch on the folder, the paths it
 * reported, and the rules that say when to apply them (settle.h). */
struct agent_loop {
	struct agent *a;
	struct watch *w; /* NULL until the folder can be watched */
	int werr;        /* what placing the watches last answered */
	int sfd;         /* the signalfd */
	struct pending pend;
	struct settle settle;
	uint64_t drained_ns; /* CLOCK_REALTIME before the last watch_drain:
	                        every event of a change before it is in pend */
};

/* The view holds every change of the folder up to `t` (complete.h). */
static void agent__seen(struct agent *a, uint64_t t)
{
	if (t > a->seen_ns)
		a->seen_ns = t;
}

/* Nothing read and not applied, nothing waiting in the watch's queue, and
 * the whole folder watched: the view is the folder as it is now. */
static void agent__seen_if_idle(struct agent_loop *l)
{
	uint64_t t = agent_now_ns(CLOCK_REALTIME);
	struct pollfd p = { .fd = l->w ? watch_fd(l->w) : -1, .events = POLLIN };

	if (l->w && l->a->follow == AGENT_FOLLOW_WATCH && !l->pend.n && !l->settle.rescan &&
	    poll(&p, 1, 0) == 0)
		agent__seen(l->a, t);
}

/* Read the folder again (the watches placed again first). Fills in what
 * `r` says of the rescan. */
static void agent__rescan(struct agent_loop *l, struct settle_applied *r)
{
	struct agent *a = l->a;
	uint64_t t0 = agent_now_ns(CLOCK_MONOTONIC);
	int err;

	uint64_t read_from;

	if (l->w)
		l->werr = watch_reset(l->w);
	/* Watches that could not be placed leave the folder to the timer
	 * (agent__follow); what can be read is read now. */
	read_from = agent_now_ns(CLOCK_REALTIME);
	err = l->werr == -ENOENT ? -ENOENT : sources_rescan(&a->src, a->o.manifests, &a->diag);
	if (err >= 0)
		agent__seen(a, read_from);
	r->rescan_failed = err < 0;
	r->missing = err == -ENOENT;
	r->rescanned = !r->missing;
	r->poll_ms = settle_poll_ms((agent_now_ns(CLOCK_MONOTONIC) - t0) / 1000000ULL);
	if (err == -ENOENT)
		log_debug("%s is missing; keeping the last good objects", a->o.manifests);
	else if (err == -EINTR)
		log_debug("rescanning %s: stopped for a signal", a->o.manifests);
	else if (err < 0 && err != a->rescan_err)
		log_error("rescanning %s: %s; retrying every %d ms", a->o.manifests,
			  strerror(-err), SETTLE_RETRY_MS);
	else if (err > 0)
		r->changed = true;
	if (err >= 0 && a->rescan_err && a->rescan_err != -EINTR && a->rescan_err != -ENOENT)
		log_info("rescanning %s: works again", a->o.manifests);
	if (err != -ENOENT)
		a->rescan_err = err < 0 ? err : 0;
}

/* Apply what the folder told us: a rescan when one is due, then every
 * path reported. */
static struct settle_applied agent__apply(struct agent_loop *l)
{
	struct settle_applied r = { .missing = false };
	struct agent *a = l->a;
	struct stat st;

	/* `rm -rf` of the folder arrives as a delete per file, then the
	 * folder's own. A missing root means "gone for now" (a remount, a
	 * mistake), not "route nothing": keep every last good object. */
	if (stat(a->o.manifests, &st) < 0 && errno == ENOENT) {
		agent__pending_clear(&l->pend);
		log_debug("%s is missing; keeping the last good objects", a->o.manifests);
		r.missing = true;
		return r;
	}
	if (l->settle.rescan || l->pend.oom)
		agent__rescan(l, &r);
	/* what became of each file (new, changed, removed, refused) is the
	 * sources' to say: they know */
	for (size_t i = 0; i < l->pend.n; i++)
		if (sources_update(&a->src, l->pend.paths[i], true, &a->diag) > 0)
			r.changed = true;
	if (a->follow == AGENT_FOLLOW_WATCH && l->w)
		agent__seen(a, l->drained_ns);
	agent__pending_clear(&l->pend);
	return r;
}

/* sources.h's stop: a SIGTERM or SIGINT waiting ends a long rescan (the
 * signals are blocked for the signalfd, so they wait, not kill). */
static bool agent__stop_pending(void *ctx)
{
	sigset_t pending;

	(void)ctx;
	return sigpending(&pending) == 0 &&
	       (sigismember(&pending, SIGTERM) == 1 || sigismember(&pending, SIGINT) == 1);
}

/* Look at the paths reported since the last look: those gone join
 * paths[0..gone). Returns whether any of them exists: written. */
static bool agent__classify(struct pending *p)
{
	bool wrote = false;
	struct stat st;

	for (size_t i = p->gone; i < p->n; i++) {
		char *t;

		if (lstat(p->paths[i], &st) == 0 || (errno != ENOENT && errno != ENOTDIR)) {
			wrote = true;
			continue;
		}
		t = p->paths[p->gone];
		p->paths[p->gone++] = p->paths[i];
		p->paths[i] = t;
	}
	return wrote;
}

/* Whether a file the agent holds objects of is gone: what a rescan would
 * forget. One stat per file, as many as the rescan itself makes. */
static bool agent__known_gone(const struct agent *a)
{
	struct stat st;

	for (size_t i = 0; i < a->src.n; i++)
		if (stat(a->src.v[i].path, &st) < 0 && (errno == ENOENT || errno == ENOTDIR))
			return true;
	return false;
}

/* Whether the watch has events not read yet. */
static bool agent__queued(const struct watch *w)
{
	struct pollfd p = { .fd = watch_fd(w), .events = POLLIN };

	return poll(&p, 1, 0) > 0;
}

/* The window closed: look at the batch and let the rule for removals
 * (settle_judge) decide. */
static enum settle_verdict agent__judge(struct agent_loop *l, uint64_t now)
{
	struct settle_look look = { .wrote = agent__classify(&l->pend), .lost = l->pend.oom };
	const char *dir = l->a->o.manifests;
	enum settle_verdict v;
	struct stat st;

	look.removed = l->pend.gone > 0;
	if (settle_needs_known_gone(&l->settle, &look))
		look.known_gone = agent__known_gone(l->a);
	look.root_gone = stat(dir, &st) < 0;
	look.queued = l->w && agent__queued(l->w);
	v = settle_judge(&l->settle, now, &look);
	if (l->settle.hold_began)
		log_info("%s: files removed and none written; holding the table until the "
			 "folder has been quiet for %d ms, or is gone", dir, SETTLE_HOLD_MS);
	if (v == SETTLE_APPLY_QUIET)
		log_info("%s: quiet for %d ms; applying what was held (%zu files removed)", dir,
			 SETTLE_HOLD_MS, l->pend.gone);
	else if (v == SETTLE_APPLY_WRITTEN)
		log_info("%s: files written; applying what was held with them (%zu files removed)",
			 dir, l->pend.gone);
	return v;
}

/* Apply the batch the rules let through, publish it, and say so in the
 * status file. */
static void agent__apply_batch(struct agent_loop *l, uint64_t now)
{
	struct agent *a = l->a;
	struct settle_applied r;

	if (!l->w && (l->werr = watch_open(a->o.manifests, &l->w)) < 0)
		l->w = NULL;
	r = agent__apply(l);
	if (r.rescanned) {
		agent__follow(a, l->w, l->werr, r.poll_ms);
		r.polling = a->follow != AGENT_FOLLOW_WATCH;
	}
	settle_applied(&l->settle, agent_now_ns(CLOCK_MONOTONIC), &r);
	if (l->settle.dirty)
		settle_published(&l->settle, now, agent_publish(a) == 0);
	/* after the publish: it may have found something to warn of */
	agent_write_status(a);
	settle_closed(&l->settle, now);
}

/*
 * The once-a-second checks (and at once after an event in the table
 * directory, through agent_check_table): whether what was published still
 * stands, and whether the table is complete (a marker going stale makes
 * no event: looked at here). True when a publish is due. Anything else to
 * do once a second goes here.
 */
static bool agent__each_second(struct agent_loop *l)
{
	struct agent *a = l->a;

	agent__seen_if_idle(l);
	publish_heartbeat(&a->pub); /* ldmeshctl status: the agent is alive */
	agent_metrics_each_second(a);
	bool stale = agent_check_table(a);
	bool completeness = agent_check_complete(a);

	return stale || completeness;
}

/* The publisher's own timers (a file held open for readers, a base
 * announced ahead): how long poll() may wait for them, into *timeout.
 * True when a base announced ahead is due now (agent_commit_ahead). */
static bool agent__publisher_due(struct agent *a, uint64_t now, int *timeout)
{
	int held_ms = publish_release(&a->pub, now);
	int ahead_ms = publish_ahead_wait_ms(&a->pub, now);

	if (held_ms >= 0 && (*timeout < 0 || held_ms < *timeout))
		*timeout = held_ms;
	if (ahead_ms > 0 && (*timeout < 0 || ahead_ms < *timeout))
		*timeout = ahead_ms;
	return ahead_ms == 0;
}

/* A signal: SIGHUP rereads every file, the others end the loop (true). */
static bool agent__signal(struct agent_loop *l)
{
	struct signalfd_siginfo si;

	if (read(l->sfd, &si, sizeof(si)) != sizeof(si))
		return false;
	if (si.ssi_signo == SIGHUP) {
		log_info("SIGHUP: rereading %s", l->a->o.manifests);
		/* Forget identities so every file is read again. */
		sources_forget_ids(&l->a->src);
		settle_rescan(&l->settle);
		return false;
	}
	log_info("signal %u: exiting; generation %" PRIu64 " stays published", si.ssi_signo,
		 l->a->pub.generation);
	return true;
}

/* Wait up to `timeout` ms for a signal, the folder or the table directory,
 * and feed what happened to the rules. 1 when a signal ends the loop, 0,
 * or -errno (poll failed, reported). */
static int agent__wait(struct agent_loop *l, int timeout)
{
	struct agent *a = l->a;
	struct pollfd fds[4 + HEALTH_PROBES + METRICS_HTTP_FDS] = {
		{ .fd = l->sfd, .events = POLLIN },
		{ .fd = l->w ? watch_fd(l->w) : -1, .events = POLLIN },
		{ .fd = a->pub.notify_fd, .events = POLLIN },
		{ .fd = a->inbox ? inbox_fd(a->inbox) : -1, .events = POLLIN },
	};
	size_t probes = agent_health_pollfds(a, fds + 4, HEALTH_PROBES);
	unsigned n_metrics = agent_metrics_pollfds(a, fds + 4 + probes);

	agent_metrics_timeout(a, &timeout);
	if (poll(fds, 4 + probes + n_metrics, timeout) < 0 && errno != EINTR) {
		int err = -errno;

		log_error("poll: %s", strerror(errno));
		return err;
	}
	if ((fds[0].revents & POLLIN) && agent__signal(l))
		return 1;
	if (fds[2].revents & POLLIN) {
		publish_drain(&a->pub);
		/* the table removed by hand: write it again at once
		 * (agent_publish finds out and reopens it); a file of the
		 * current generation removed: a new base */
		if (publish_check(&a->pub) || agent_check_table(a))
			(void)settle_changed(&l->settle);
	}
	if (l->w && (fds[1].revents & POLLIN)) {
		l->drained_ns = agent_now_ns(CLOCK_REALTIME);
		int r = watch_drain(l->w, agent__note, &l->pend);

		if (r < 0)
			log_error("inotify: %s; rescanning", strerror(-r));
		settle_watch(&l->settle, agent_now_ns(CLOCK_MONOTONIC), r != 0, l->pend.n > 0);
	}
	/* a bounded number per turn: a flood waits in the kernel's queue
	 * (and is dropped there when it is full), the folder does not */
	if (fds[3].revents & POLLIN)
		(void)inbox_drain(a->inbox, agent_now_ns(CLOCK_MONOTONIC));
	/* probes answered or timed out, re-checks due, and what they change
	 * published now, not after the folder's settle delay */
	agent_health_step(a, fds + 4, probes);
	agent_metrics_handle(a, fds + 4 + probes, n_metrics);
	return 0;
}

/*
 * One turn of the loop at `now`: apply what the rules let through,
 * publish what is due, run the once-a-second checks, and say how long to
 * wait for events (into *timeout). False when the turn acted and the next
 * should come at once, without waiting.
 */
static bool agent__turn(struct agent_loop *l, uint64_t now, int *timeout)
{
	struct agent *a = l->a;

	if (settle_step(&l->settle, now, l->pend.n > 0) == SETTLE_LOOK) {
		enum settle_verdict v = agent__judge(l, now);

		if (v == SETTLE_APPLY || v == SETTLE_APPLY_WRITTEN || v == SETTLE_APPLY_QUIET) {
			agent__apply_batch(l, now);
			return false;
		}
		/* What was applied before the hold still needs writing (the
		 * table removed by hand, a failed publish): that much, not the
		 * removals. */
		if (v == SETTLE_HOLD && l->settle.dirty)
			settle_published(&l->settle, now, agent_publish(a) == 0);
	}
	*timeout = -1;
	if (agent__publisher_due(a, now, timeout)) {
		agent_commit_ahead(a);
		return false;
	}
	if (settle_check_due(&l->settle, now) && agent__each_second(l) &&
	    settle_changed(&l->settle))
		return false;
	int folder_ms = settle_timeout_ms(&l->settle, now);
	int health_ms = agent_health_timeout_ms(a);

	if (folder_ms >= 0 && (*timeout < 0 || folder_ms < *timeout))
		*timeout = folder_ms;
	if (health_ms >= 0 && (*timeout < 0 || health_ms < *timeout))
		*timeout = health_ms;
	return true;
}

int agent_run(struct agent *a)
{
	struct agent_loop l = { .a = a, .w = NULL };
	sigset_t set;
	int err = 0;

	settle_init(&l.settle);
	l.sfd = agent__signals(&set);
	if (l.sfd < 0) {
		log_error("signalfd: %s", strerror(-l.sfd));
		return l.sfd;
	}
	a->src.stop = agent__stop_pending;
	err = agent_metrics_open(a);
	if (err < 0) {
		close(l.sfd);
		return err;
	}
	/* Not being able to watch is no reason to stop publishing: the
	 * folder is then rescanned on a timer (agent__follow says so). */
	l.werr = watch_open(a->o.manifests, &l.w);
	if (l.werr == -ENOENT || l.werr == -ENOTDIR)
		log_error("%s: %s; waiting for it to appear", a->o.manifests, strerror(-l.werr));
	while (!err) {
		int timeout;

		if (agent__turn(&l, agent_now_ns(CLOCK_MONOTONIC), &timeout))
			err = agent__wait(&l, timeout);
	}
	agent__pending_clear(&l.pend);
	free(l.pend.paths);
	watch_close(l.w);
	close(l.sfd);
	agent_metrics_close(a);
	return err < 0 ? err : 0;
}

void agent_fini(struct agent *a)
{
	model_out_free(&a->model);
	snap_cache_free(a->cache);
	sources_free(&a->src);
	laststate_close(&a->last);
	publish_close(&a->pub);
	agent_health_fini(a);
	inbox_free(a->inbox);
	if (a->lock_fd >= 0)
		close(a->lock_fd);
}
