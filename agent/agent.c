/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "agent.h"

#include <errno.h>
#include <inttypes.h>
#ifdef __GLIBC__
#include <limits.h>
#include <malloc.h>
#endif
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ldmesh/marker.h"
#include "ldmesh/reader.h"
#include "log.h"
#include "snap_build.h"
#include "watch.h"

/* Coalescing: an editor's save or a kubectl apply of a folder arrives as a
 * burst of events; publish once the folder has been quiet this long, but
 * never later than the cap after the first event, so a steady trickle of
 * writes cannot hold back a publish. */
#define AGENT_QUIET_MS 2
#define AGENT_MAX_DELAY_MS 50
/* While the folder is missing, or a publish failed (e.g. /dev/shm full),
 * try again this often. */
#define AGENT_RETRY_MS 1000
/* How often the agent looks at what it published (agent__check_table):
 * as often as readers look at the directory. No event says that a file's
 * flags changed (chattr makes no inotify event), so it is looked at. */
#define AGENT_CHECK_MS 1000
/*
 * Removals. `rm -rf` of the folder arrives as one delete per file (and a
 * rescan per subdirectory), then the folder's own removal; applied as they
 * came, they would publish tables with a shrinking share of the services
 * before the folder's removal kept the last good state (agent__apply). How
 * many files `rm` has removed when the agent looks, and how long it takes
 * in all, depend on how fast it runs: a rule that counts the files gone or
 * caps how long a removal may be held works on one machine and publishes
 * a partial table on a busier one. The rule here counts nothing:
 *
 *  - A batch that removes something (a reported path that no longer
 *    exists, or a rescan the watch asked for while a file the agent holds
 *    is gone) and writes nothing is held, and so is every batch after it
 *    that writes nothing (agent__judge).
 *  - The folder's own removal ends the hold: the last good state stays
 *    (agent__apply).
 *  - A batch that writes (a reported path that exists) applies everything
 *    held with it: someone is filling the folder, not removing it, and a
 *    rename's two halves are applied together.
 *  - Otherwise the hold is applied once nothing at all has happened in the
 *    folder for AGENT_SETTLE_MS, and the watch's queue has been read just
 *    before, found empty: an agent that was itself slow to run never
 *    mistakes the events it has not read yet for quiet.
 *
 * So a removal of the folder publishes nothing, however long it runs and
 * however loaded the machine is, unless it stops for AGENT_SETTLE_MS
 * between two deletions (nothing tells such a stop from a user who deleted
 * some files and is done); a deletion meant alone is applied that much
 * later. Deletions with no write between them, each within AGENT_SETTLE_MS
 * of the last, are held for as long as they go on.
 */
#define AGENT_SETTLE_MS 2000
/*
 * Where the folder is not all watched, a rescan finds what inotify cannot:
 * every AGENT_POLL_MIN_MS, or ten times as long as the last rescan took,
 * whichever is longer, so the rescans cost at most a tenth of the agent's
 * time whatever the folder's size.
 */
#define AGENT_POLL_MIN_MS 2000
#define AGENT_POLL_FACTOR 10

static uint64_t agent__now_ns(int clock)
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
	struct sources src = { .v = NULL };
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
	if (laststate_load_allocations(&a->last, &a->model) == 0)
		log_info("restored %zu allocated ClusterIPs from %s", a->model.n_allocs,
			 a->o.state);
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
	err = publish_open(&a->pub, o->table, why, sizeof(why));
	if (err || why[0])
		log_error("%s", why); /* a failure, or a page repaired */
	if (err)
		return err;
	if ((err = snap_cache_new(&a->cache)))
		log_error("snapshot cache: %s", strerror(-err));
	else if (o->state)
		agent__open_state(a);
	return err;
}

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
		     (AGENT_STATUS_NOTES + 2) * 620, len;
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
	for (size_t i = 0; i < a->src.n_rejects && len < cap; i++) {
		char path[512], error[560];

		agent__field(path, sizeof(path), a->src.rejects[i].path);
		agent__field(error, sizeof(error), a->src.rejects[i].error);
		len += (size_t)snprintf(text + len, cap - len, "rejected %s\t%s\n", path, error);
	}
	if (publish_status(&a->pub, text) < 0)
		log_debug("could not write %s/%s", a->o.table, LDMESH_STATUS_NAME);
	free(text);
}

int agent_restore_table(struct agent *a)
{
	char why[512];
	int err;

	log_error("table %s: removed or replaced under the agent; writing it again",
		  a->o.table);
	err = publish_reopen(&a->pub, why, sizeof(why));
	if (err) {
		log_error("%s; retrying", why);
		return err;
	}
	if (why[0])
		log_error("%s", why);
	/* The new directory holds nothing: publish a base even if nothing
	 * changed. */
	a->need_base = true;
	return 0;
}

/*
 * Whether the table directory may be published into (publish_dir_trusted):
 * a directory made writable by others is refused by every new process, so
 * the agent publishes nothing into it either, and says why (once, and in
 * the status file) instead of publishing tables nobody takes. 0, 1 when
 * it became trusted again (a publish is due), or -EPERM.
 */
static int agent__dir_trust(struct agent *a)
{
	char why[sizeof(a->dir_refused)];

	if (publish_dir_trusted(&a->pub, why, sizeof(why)) == 0) {
		if (!a->dir_refused[0])
			return 0;
		log_info("table directory %s may be published into again", a->o.table);
		a->dir_refused[0] = 0;
		return 1;
	}
	if (strcmp(why, a->dir_refused))
		log_error("%s", why);
	snprintf(a->dir_refused, sizeof(a->dir_refused), "%s", why);
	return -EPERM;
}

/* Say once that published files are not immutable (publish_unsealed). */
static void agent__say_unsealed(struct agent *a)
{
	char buf[600];

	if (a->said_unsealed || !publish_unsealed(&a->pub, buf, sizeof(buf))[0])
		return;
	a->said_unsealed = true;
	log_error("%s", buf);
}

/* A delta holding more than this share of the base's services (plus a
 * floor, so small tables are not rewritten on every few edits) is folded
 * into a new base right after it is published: readers look up in both,
 * and the overlay is what every delta rewrites. */
#define AGENT_DELTA_SHARE 8
#define AGENT_DELTA_FLOOR 256

/* Milliseconds between two CLOCK_MONOTONIC readings in ns. */
static double agent__ms(uint64_t from, uint64_t to)
{
	return (double)(to - from) / 1e6;
}

/* The model brought up to date. 1: edited in place, *changes says which
 * services; 0: resolved in full. -errno when neither worked: the model
 * may then point into replaced versions, which stay kept, and may be half
 * edited, so the next try resolves in full. The caller frees the replaced
 * versions once it has built (removed services' names point into them). */
static int agent__resolve(struct agent *a, const struct snap_change **changes, size_t *n_changes)
{
	struct model_opts mo = { .cluster_domain = a->o.cluster_domain,
				 .node_name = a->o.node, .zone = a->o.zone,
				 .cidrs = a->o.cidrs };
	struct model_out out;
	int r = 0;

	if (!a->src.retired_lost && !a->need_full)
		r = model_update(&a->model, a->src.v, a->src.n, a->src.retired, a->src.n_retired,
				 &mo, &a->diag, changes, n_changes);
	if (r < 0)
		log_error("updating the model: %s; resolving it in full", strerror(-r));
	if (r > 0 && a->model.n_allocated)
		laststate_save_allocations(&a->last, &a->model, &a->allocations_hash);
	if (r <= 0) {
		r = model_resolve(a->src.v, a->src.n, &mo, &a->model, &out, &a->diag);
		if (r) {
			log_error("resolving the model: %s", strerror(-r));
			a->need_full = true;
			return r;
		}
		model_out_free(&a->model);
		a->model = out;
		a->need_full = false;
		laststate_save_allocations(&a->last, &a->model, &a->allocations_hash);
	}
	return r;
}

/* Whether the overlay has outgrown its share of the base. Judged after the
 * delta is built: an edit of a file of many services joins them all again,
 * and most drop out of the overlay as unchanged. */
static bool agent__delta_too_big(const struct agent *a)
{
	size_t base = snap_cache_base_services(a->cache);

	return snap_cache_overlay_services(a->cache) > base / AGENT_DELTA_SHARE + AGENT_DELTA_FLOOR;
}

/* The model's header fields for the next generation. */
/*
 * Whether the folder holds the whole cluster, as far as the agent can tell:
 * always without --require-sync (a hand-written folder is what it is);
 * with it, only while the feeder's marker is fresh (ldmesh/marker.h). Into
 * `why` the reason it is not (said when it changes), "" when it is.
 */
static bool agent__complete(const struct agent *a, char *why, size_t n)
{
	char path[PATH_MAX];
	struct stat st;
	time_t now = time(NULL);

	why[0] = 0;
	if (!a->o.require_sync)
		return true;
	snprintf(path, sizeof(path), "%s/" LDMESH_MARKER_NAME, a->o.manifests);
	if (lstat(path, &st) < 0)
		snprintf(why, n, "%.400s: %s", path, errno == ENOENT ? "no such file (not synced yet, "
					     "or the API server lost)" : strerror(errno));
	else if (!S_ISREG(st.st_mode))
		snprintf(why, n, "%.400s: not a regular file", path);
	else if (now - st.st_mtime > LDMESH_MARKER_FRESH_S)
		snprintf(why, n, "%.400s: last written %lld s ago (fresh: within %d s)", path,
			 (long long)(now - st.st_mtime), LDMESH_MARKER_FRESH_S);
	return !why[0];
}

/* The header flags a build now gets; a change of completeness is logged
 * once. True when they differ from those of the last stamp. */
static bool agent__flags(struct agent *a)
{
	char why[sizeof(a->incomplete)];
	uint32_t flags = agent__complete(a, why, sizeof(why)) ? 0 : LDMESH_SNAP_F_INCOMPLETE;
	bool changed = flags != a->model.in.flags;

	if (strcmp(why, a->incomplete)) {
		if (why[0])
			log_error("the table is published incomplete (a cluster name it lacks goes to "
				  "DNS): %s", why);
		else if (a->incomplete[0])
			log_info("%s is fresh: the table is complete again", LDMESH_MARKER_NAME);
		snprintf(a->incomplete, sizeof(a->incomplete), "%s", why);
	}
	a->model.in.flags = flags;
	return changed;
}

static void agent__stamp(struct agent *a)
{
	a->model.in.generation = publish_next_generation(&a->pub);
	a->model.in.created_unix_ns = agent__now_ns(CLOCK_REALTIME);
	(void)agent__flags(a);
}

/* Publish a build of the stamped generation: a base (`base_gen` 0, its
 * content `hash`) or a delta over `base_gen` (`hash` 0). On failure the
 * cache has moved on to what was not published: the next publish starts
 * over from a base. */
static int agent__write(struct agent *a, const void *bytes, size_t size, uint64_t base_gen,
			uint64_t hash)
{
	char why[512];
	int err = publish_snapshot(&a->pub, bytes, size, base_gen, why, sizeof(why));

	if (err) {
		log_error("%s; generation %" PRIu64 " stays in force", why, a->pub.generation);
		a->need_base = true;
		return err;
	}
	a->current_base_hash = hash;
	a->need_base = false;
	agent__say_unsealed(a);
	return 0;
}

/* After a delta that outgrew its share: a base of the whole model, built
 * from the overlay's blocks and the model (the cache keeps no base
 * blocks), so the edit that made the delta was seen without waiting for
 * it. It says what the delta in force says, so it is announced ahead
 * (publish_ahead) and made current later (agent_commit_ahead), once
 * readers have mapped it; the next edit before that is a delta over it.
 * A failure leaves the delta in force and the next publish writes a
 * base. */
static int agent__fold(struct agent *a)
{
	uint64_t t0 = agent__now_ns(CLOCK_MONOTONIC);
	void *bytes = NULL;
	size_t size = 0;
	char why[512];
	int err;

	agent__stamp(a);
	err = snap_build_cached(&a->model.in, a->cache, &bytes, &size);
	if (err) {
		log_error("building the base to fold the deltas into: %s", strerror(-err));
		a->need_base = true;
	} else if ((err = publish_ahead(&a->pub, bytes, size, agent__now_ns(CLOCK_MONOTONIC), why,
					sizeof(why)))) {
		log_error("%s; generation %" PRIu64 " stays in force", why, a->pub.generation);
		a->need_base = true;
	} else {
		a->current_base_hash = ldmesh_snap_content_hash(bytes, size);
		log_info("%s generation %" PRIu64 " (base, the deltas folded): %zu services, "
			 "%zu bytes in %.2f ms%s", a->pub.ahead ? "announced" : "published",
			 a->model.in.generation, a->model.n_services, size,
			 agent__ms(t0, agent__now_ns(CLOCK_MONOTONIC)),
			 a->pub.ahead ? "; readers map it now, it is current in "
					"a few seconds" : "");
	}
	free(bytes);
	return err;
}

int agent_commit_ahead(struct agent *a)
{
	uint64_t gen = a->pub.ahead;
	char why[512];
	int err = publish_ahead_commit(&a->pub, why, sizeof(why));

	if (err) {
		log_error("%s", why);
		a->need_base = true;
		return err;
	}
	if (gen)
		log_info("published generation %" PRIu64 " (base, the deltas folded), "
			 "announced ahead", gen);
	return 0;
}

int agent_publish(struct agent *a)
{
	uint64_t t0 = agent__now_ns(CLOCK_MONOTONIC), t1, t2, hash, base_gen = 0;
	const struct snap_change *changes = NULL;
	size_t size = 0, n_changes = 0;
	void *bytes = NULL;
	bool done_with_retired = false, trim = false, fold = false;
	int err, in_place;

	if (publish_check(&a->pub) && (err = agent_restore_table(a)) < 0)
		return err;
	if ((err = agent__dir_trust(a)) < 0)
		return err;
	in_place = agent__resolve(a, &changes, &n_changes);
	if (in_place < 0)
		return in_place;
	/* a full resolve freed the whole previous model */
	trim = !in_place;
	done_with_retired = true;
	t1 = agent__now_ns(CLOCK_MONOTONIC);
	agent__stamp(a);
	err = -ESTALE;
	if (!a->need_base && snap_cache_base_generation(a->cache) &&
	    !publish_base_intact(&a->pub, snap_cache_base_generation(a->cache))) {
		log_error("%s/" LDMESH_SNAP_PREFIX "%" PRIu64 " changed or went since it was written; "
			  "writing a new base", a->o.table, snap_cache_base_generation(a->cache));
		a->need_base = true;
	}
	/* A full resolve too publishes what changed as a delta over the base
	 * readers have: a running process then maps a file the size of the
	 * change, and the services it did not change it keeps reading from
	 * pages it has in already. A base, when the change is past a delta's
	 * share, is folded and announced ahead as after any large edit. */
	if (!a->need_base) {
		err = in_place ? snap_build_delta(&a->model.in, a->cache, changes, n_changes,
						  &bytes, &size)
			       : snap_build_delta_whole(&a->model.in, a->cache, &bytes, &size);
		if (!err && !bytes) {
			log_debug("no change; generation %" PRIu64 " stays", a->pub.generation);
			goto out;
		}
		base_gen = snap_cache_base_generation(a->cache);
		fold = !err && agent__delta_too_big(a);
	}
	if (err == -ESTALE) {
		base_gen = 0;
		trim = true;
		err = snap_build_cached(&a->model.in, a->cache, &bytes, &size);
	}
	if (err) {
		log_error("building the snapshot: %s", strerror(-err));
		a->need_base = true;
		goto out;
	}
	t2 = agent__now_ns(CLOCK_MONOTONIC);
	/* A base that says what the published base says publishes nothing
	 * (a touched file, a SIGHUP): what it says is all but the header's
	 * first bytes, and deltas go on naming the published one. With a
	 * delta current there is nothing to compare with cheaply: publish.
	 * Deltas know by their blocks. */
	hash = base_gen ? 0 : ldmesh_snap_content_hash(bytes, size);
	/* (an announced base saying it becomes current now) */
	if (!base_gen && !a->need_base && a->current_base_hash && a->current_base_hash == hash &&
	    agent_commit_ahead(a) == 0) {
		snap_cache_adopt_generation(a->cache, a->pub.generation);
		log_debug("no change; generation %" PRIu64 " stays", a->pub.generation);
		goto out;
	}
	if ((err = agent__write(a, bytes, size, base_gen, hash)))
		goto out;
	char kind[48] = "base";
	if (base_gen)
		snprintf(kind, sizeof(kind), "delta over %" PRIu64, base_gen);
	log_info("published generation %" PRIu64 " (%s): %zu services, %zu bytes "
		 "in %.2f ms (resolve %.2f%s, build %.2f, write %.2f)",
		 a->pub.generation, kind, a->model.n_services, size,
		 agent__ms(t0, agent__now_ns(CLOCK_MONOTONIC)), agent__ms(t0, t1),
		 in_place ? " in place" : "", agent__ms(t1, t2),
		 agent__ms(t2, agent__now_ns(CLOCK_MONOTONIC)));
	if (fold) {
		trim = true;
		err = agent__fold(a);
	}
out:
	free(bytes);
	/* the model points into no replaced version any more, nor do the
	 * changes just built */
	if (done_with_retired)
		sources_retired_free(&a->src);
#ifdef __GLIBC__
	/* A base build frees a block per service and the file's bytes, a
	 * full resolve the previous model (tens of MB at 100,000 services),
	 * between allocations that stay; glibc returns only the heap's top
	 * by itself. */
	if (trim)
		malloc_trim(0);
#endif
	return err;
}

/*
 * The once-a-second look at what was published (and at once after an
 * event in the table directory): whether new processes can still take the
 * current generation (publish_verify), and whether the directory may
 * still be published into. When a publish is due, true (after a changed
 * file, it writes a new base). Said once per cause.
 */
static bool agent__check_table(struct agent *a)
{
	char why[sizeof(a->table_stale)];

	if (agent__dir_trust(a))
		return true; /* refused (the retry says when), or trusted again */
	if (publish_verify(&a->pub, why, sizeof(why)) == 0) {
		a->table_stale[0] = 0;
		return false;
	}
	if (strcmp(why, a->table_stale))
		log_error("%s; publishing a new base", why);
	snprintf(a->table_stale, sizeof(a->table_stale), "%s", why);
	a->need_base = true;
	return true;
}

/* The paths reported since the last apply. paths[0..gone) were found
 * removed by agent__judge; the rest have not been looked at yet. */
struct pending {
	char **paths;
	size_t n, cap, gone;
	bool oom;
	bool structural;  /* the watch asked for a rescan: files may be gone */
	uint64_t hold_ns; /* holding removals since (agent__judge), or 0 */
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
	p->oom = p->structural = false;
	p->hold_ns = 0;
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

/* Apply what the folder told us; returns whether the root is missing.
 * *rescan_ms: how long a rescan took (unchanged without one). */
static bool agent__apply(struct agent *a, struct watch *w, int *werr, struct pending *p,
			 bool *rescan, bool *dirty, uint64_t *rescan_ms)
{
	bool missing = false;
	struct stat st;
	int r;

	/* `rm -rf` of the folder arrives as a delete per file, then the
	 * folder's own. A missing root means "gone for now" (a remount, a
	 * mistake), not "route nothing": keep every last good object. */
	if (stat(a->o.manifests, &st) < 0 && errno == ENOENT) {
		agent__pending_clear(p);
		*rescan = true;
		log_debug("%s is missing; keeping the last good objects", a->o.manifests);
		return true;
	}
	if (p->oom)
		*rescan = true;
	if (*rescan) {
		uint64_t t0 = agent__now_ns(CLOCK_MONOTONIC);

		if (w)
			*werr = watch_reset(w);
		/* Watches that could not be placed leave the folder to the
		 * timer (agent__follow); what can be read is read now. */
		r = *werr == -ENOENT ? -ENOENT
				     : sources_rescan(&a->src, a->o.manifests, &a->diag);
		*rescan = r < 0;
		*rescan_ms = (agent__now_ns(CLOCK_MONOTONIC) - t0) / 1000000ULL;
		if (r == -ENOENT) {
			missing = true;
			log_debug("%s is missing; keeping the last good objects", a->o.manifests);
		} else if (r == -EINTR) {
			log_debug("rescanning %s: stopped for a signal", a->o.manifests);
		} else if (r < 0 && r != a->rescan_err) {
			log_error("rescanning %s: %s; retrying every %d ms", a->o.manifests,
				  strerror(-r), AGENT_RETRY_MS);
		} else if (r > 0) {
			*dirty = true;
		}
		if (r >= 0 && a->rescan_err && a->rescan_err != -EINTR && a->rescan_err != -ENOENT)
			log_info("rescanning %s: works again", a->o.manifests);
		if (r != -ENOENT)
			a->rescan_err = r < 0 ? r : 0;
	}
	for (size_t i = 0; i < p->n; i++) {
		/* what became of the file (new, changed, removed, refused) is
		 * the sources' to say: they know */
		r = sources_update(&a->src, p->paths[i], true, &a->diag);
		if (r > 0)
			*dirty = true;
	}
	agent__pending_clear(p);
	return missing;
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

/* What to do with the pending batch once the coalescing window has closed
 * (the rule: AGENT_SETTLE_MS). */
enum agent_verdict {
	AGENT_APPLY,   /* now */
	AGENT_HOLD,    /* it removes files and writes none: wait */
	AGENT_SETTLED, /* held, and nothing has come for AGENT_SETTLE_MS: apply
	                  once the watch's queue is found empty */
};

static enum agent_verdict agent__judge(const struct agent *a, struct pending *p, bool rescan,
				       uint64_t last_ns, uint64_t now)
{
	struct stat st;

	if (agent__classify(p) || p->oom)
		return AGENT_APPLY;
	if (!p->hold_ns && !p->gone && !(rescan && p->structural && agent__known_gone(a)))
		return AGENT_APPLY;
	if (stat(a->o.manifests, &st) < 0)
		return AGENT_APPLY; /* the folder went: agent__apply keeps everything */
	if (!p->hold_ns) {
		p->hold_ns = now;
		log_info("%s: files removed and none written; holding the table until the "
			 "folder has been quiet for %d ms, or is gone", a->o.manifests,
			 AGENT_SETTLE_MS);
	}
	return now - last_ns < AGENT_SETTLE_MS * 1000000ULL ? AGENT_HOLD : AGENT_SETTLED;
}

/* Whether the watch has events not read yet. */
static bool agent__queued(const struct watch *w)
{
	struct pollfd p = { .fd = watch_fd(w), .events = POLLIN };

	return poll(&p, 1, 0) > 0;
}

int agent_run(struct agent *a)
{
	struct pending pend = { .paths = NULL };
	struct watch *w = NULL;
	sigset_t set;
	bool rescan = true, dirty = true, missing = false;
	uint64_t first_ns = 0, last_ns = 0, retry_ns = 0, check_ns = 0, poll_ns = 0, rescan_ms = 0;
	unsigned poll_ms = AGENT_POLL_MIN_MS;
	int sfd = agent__signals(&set), err = 0, werr;

	if (sfd < 0) {
		log_error("signalfd: %s", strerror(-sfd));
		return sfd;
	}
	a->src.stop = agent__stop_pending;
	/* Not being able to watch is no reason to stop publishing: the
	 * folder is then rescanned on a timer (agent__follow says so). */
	werr = watch_open(a->o.manifests, &w);
	if (werr == -ENOENT || werr == -ENOTDIR)
		log_error("%s: %s; waiting for it to appear", a->o.manifests, strerror(-werr));
	for (;;) {
		uint64_t now = agent__now_ns(CLOCK_MONOTONIC);
		int timeout = -1;

		/* the part of the folder no watch covers: a rescan, now and then */
		if (a->follow != AGENT_FOLLOW_WATCH && now >= poll_ns)
			rescan = true;
		bool settle = pend.n || rescan || dirty;

		bool quiet = !last_ns || now - last_ns >= AGENT_QUIET_MS * 1000000ULL ||
			     now - first_ns >= AGENT_MAX_DELAY_MS * 1000000ULL;

		if (settle && quiet && now >= retry_ns) {
			enum agent_verdict v = agent__judge(a, &pend, rescan, last_ns, now);

			/* quiet only if the queue is: the poll below reads it */
			if (v == AGENT_SETTLED && w && agent__queued(w)) {
				timeout = 0;
			} else if (v != AGENT_HOLD) {
				if (v == AGENT_SETTLED)
					log_info("%s: quiet for %d ms; applying what was held (%zu files removed)",
						 a->o.manifests, AGENT_SETTLE_MS, pend.gone);
				else if (pend.hold_ns)
					log_info("%s: files written; applying what was held with them "
						 "(%zu files removed)", a->o.manifests, pend.gone);
				bool rescanning = rescan || pend.oom;

				if (!w && (werr = watch_open(a->o.manifests, &w)) < 0)
					w = NULL;
				missing = agent__apply(a, w, &werr, &pend, &rescan, &dirty, &rescan_ms);
				if (rescanning && !missing) {
					uint64_t ms = rescan_ms * AGENT_POLL_FACTOR;
					poll_ms = ms > AGENT_POLL_MIN_MS ? (unsigned)ms : AGENT_POLL_MIN_MS;
					poll_ns = agent__now_ns(CLOCK_MONOTONIC) + poll_ms * 1000000ULL;
					agent__follow(a, w, werr, poll_ms);
				}
				if (dirty)
					dirty = agent_publish(a) < 0;
				/* after the publish: it may have found something to warn of */
				agent_write_status(a);
				first_ns = last_ns = 0;
				/* a rescan that failed is tried again on the timer,
				 * not at once: the loop must come back to poll() and
				 * its signals */
				retry_ns = (missing || dirty || rescan) ? now + AGENT_RETRY_MS * 1000000ULL : 0;
				if (missing)
					rescan = true;
				continue;
			} else {
				/* What was applied before the hold still needs
				 * writing (the table removed by hand, a failed
				 * publish): that much, not the removals. */
				if (dirty && (dirty = agent_publish(a) < 0))
					retry_ns = now + AGENT_RETRY_MS * 1000000ULL;
				timeout = (int)((last_ns + AGENT_SETTLE_MS * 1000000ULL - now) / 1000000ULL) + 1;
			}
		} else if (settle) {
			timeout = now < retry_ns ? (int)((retry_ns - now) / 1000000ULL) + 1 : AGENT_QUIET_MS;
		}
		int held_ms = publish_release(&a->pub, now);
		if (held_ms >= 0 && (timeout < 0 || held_ms < timeout))
			timeout = held_ms;
		int ahead_ms = publish_ahead_wait_ms(&a->pub, now);
		if (ahead_ms == 0) {
			agent_commit_ahead(a);
			continue;
		}
		if (ahead_ms > 0 && (timeout < 0 || ahead_ms < timeout))
			timeout = ahead_ms;
		if (now >= check_ns) {
			check_ns = now + AGENT_CHECK_MS * 1000000ULL;
			bool stale = agent__check_table(a);
			/* (a marker going stale makes no event: looked at here) */
			bool completeness = agent__flags(a);

			if ((stale || completeness) && !dirty) {
				dirty = true;
				continue;
			}
		}
		int check_ms = (int)((check_ns - now) / 1000000ULL) + 1;
		if (timeout < 0 || check_ms < timeout)
			timeout = check_ms;
		/* (once due, the rescan is pending: the settle timeout above
		 * has it, a retry wait included) */
		if (a->follow != AGENT_FOLLOW_WATCH && now < poll_ns) {
			int poll_in = (int)((poll_ns - now) / 1000000ULL) + 1;
			if (timeout < 0 || poll_in < timeout)
				timeout = poll_in;
		}

		struct pollfd fds[3] = {
			{ .fd = sfd, .events = POLLIN },
			{ .fd = w ? watch_fd(w) : -1, .events = POLLIN },
			{ .fd = a->pub.notify_fd, .events = POLLIN },
		};
		if (poll(fds, 3, timeout) < 0 && errno != EINTR) {
			err = -errno;
			log_error("poll: %s", strerror(errno));
			break;
		}
		if (fds[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGHUP) {
					log_info("SIGHUP: rereading %s", a->o.manifests);
					/* Forget identities so every file is read again. */
					sources_forget_ids(&a->src);
					rescan = true;
				} else {
					log_info("signal %u: exiting; generation %" PRIu64 " stays published",
						 si.ssi_signo, a->pub.generation);
					break;
				}
			}
		}
		if (fds[2].revents & POLLIN) {
			publish_drain(&a->pub);
			/* the table removed by hand: write it again at once
			 * (agent_publish finds out and reopens it); a file of
			 * the current generation removed: a new base */
			if (publish_check(&a->pub) || agent__check_table(a))
				dirty = true;
		}
		if (w && (fds[1].revents & POLLIN)) {
			int r = watch_drain(w, agent__note, &pend);
			if (r < 0)
				log_error("inotify: %s; rescanning", strerror(-r));
			/* After an error events may be lost: only a rescan
			 * (and watch_reset's re-walk) makes that good. */
			if (r != 0)
				rescan = pend.structural = true;
			/* anything in the folder, even a file that is not a
			 * manifest, keeps a held removal waiting */
			if (pend.n || rescan) {
				now = agent__now_ns(CLOCK_MONOTONIC);
				if (!first_ns)
					first_ns = now;
				last_ns = now;
			}
		}
	}
	agent__pending_clear(&pend);
	free(pend.paths);
	watch_close(w);
	close(sfd);
	return err;
}

void agent_fini(struct agent *a)
{
	model_out_free(&a->model);
	snap_cache_free(a->cache);
	sources_free(&a->src);
	laststate_close(&a->last);
	publish_close(&a->pub);
}
