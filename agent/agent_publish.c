/* SPDX-License-Identifier: MIT */
/*
 * Publishing (agent.h: agent_publish and what goes with it): the model
 * brought up to date, the next generation built as a delta or a base,
 * written, and folded into a new base when the deltas have grown; and the
 * look at what was published. The loop that calls it is agent.c.
 */
#define _GNU_SOURCE
#include "agent.h"
#include "complete.h"

#include <errno.h>
#include <inttypes.h>
#ifdef __GLIBC__
#include <limits.h>
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ldmesh/marker.h"
#include "ldmesh/reader.h"
#include "log.h"
#include "scan.h"
#include "snap_build.h"

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
		laststate_save_allocations(&a->last, a->model.allocs, a->model.n_allocs,
					   a->model.alloc_keys, &a->allocations_hash);
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
		laststate_save_allocations(&a->last, a->model.allocs, a->model.n_allocs,
					   a->model.alloc_keys, &a->allocations_hash);
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

/* Whether the table is complete (complete.h), the facts gathered here.
 * Into `why` the reason it is not (said when it changes), "" when it is. */
static bool agent__complete(const struct agent *a, char *why, size_t n)
{
	char path[PATH_MAX];
	struct stat st;
	struct complete_facts f = {
		.require_sync = a->o.require_sync, .truncated = a->src.truncated,
		.max_files = a->src.max_files ? a->src.max_files : SCAN_MAX_FILES,
		.folder = a->o.manifests, .seen_ns = (int64_t)a->seen_ns,
		.now_ns = (int64_t)agent_now_ns(CLOCK_REALTIME),
		.was_complete = a->complete,
	};

	snprintf(path, sizeof(path), "%s/" LDMESH_MARKER_NAME, a->o.manifests);
	if (a->o.require_sync && lstat(path, &st) < 0) {
		f.marker_err = -errno;
	} else if (a->o.require_sync) {
		f.marker_regular = S_ISREG(st.st_mode);
		f.marker_mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
	}
	return complete_judge(&f, why, n);
}

/* The header flags a build now gets; a change of completeness is logged
 * once. True when they differ from those of the last stamp. */
static bool agent__flags(struct agent *a)
{
	char why[sizeof(a->incomplete)];
	bool complete = agent__complete(a, why, sizeof(why));
	uint32_t flags = complete ? 0 : LDMESH_SNAP_F_INCOMPLETE;
	bool changed = flags != a->model.in.flags;

	if (strcmp(why, a->incomplete)) {
		if (why[0])
			log_error("the table is published incomplete (a cluster name it lacks goes to "
				  "DNS): %s", why);
		else if (a->incomplete[0])
			log_info("the table is complete again (%s is fresh and read up to)",
				 LDMESH_MARKER_NAME);
		snprintf(a->incomplete, sizeof(a->incomplete), "%s", why);
	}
	a->model.in.flags = flags;
	a->complete = complete;
	return changed;
}

bool agent_check_complete(struct agent *a)
{
	return agent__flags(a);
}

/* The model's header fields for the next generation. */
static void agent__stamp(struct agent *a)
{
	a->model.in.ejected = &a->ejected; /* a full resolve made a new model */
	a->model.in.generation = publish_next_generation(&a->pub);
	a->model.in.created_unix_ns = agent_now_ns(CLOCK_REALTIME);
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
	uint64_t t0 = agent_now_ns(CLOCK_MONOTONIC);
	void *bytes = NULL;
	size_t size = 0;
	char why[512];
	int err;

	agent__stamp(a);
	err = snap_build_cached(&a->model.in, a->cache, &bytes, &size);
	if (err) {
		log_error("building the base to fold the deltas into: %s", strerror(-err));
		a->need_base = true;
	} else if ((err = publish_ahead(&a->pub, bytes, size, agent_now_ns(CLOCK_MONOTONIC), why,
					sizeof(why)))) {
		log_error("%s; generation %" PRIu64 " stays in force", why, a->pub.generation);
		a->need_base = true;
	} else {
		a->current_base_hash = ldmesh_snap_content_hash(bytes, size);
		log_info("%s generation %" PRIu64 " (base, the deltas folded): %zu services, "
			 "%zu bytes in %.2f ms%s", a->pub.ahead ? "announced" : "published",
			 a->model.in.generation, a->model.n_services, size,
			 agent__ms(t0, agent_now_ns(CLOCK_MONOTONIC)),
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

/*
 * What one publish does (agent_publish), written out: it starts as a delta
 * or a base (agent__choose), each build step says the state it came to,
 * and only a DELTA or a BASE built is written.
 */
enum agent_pub {
	AGENT_PUB_DELTA,     /* what changed, as a delta over the base readers have */
	AGENT_PUB_BASE,      /* a base of the whole model */
	AGENT_PUB_UNCHANGED, /* it says what is published: nothing to write */
	AGENT_PUB_FAILED,    /* building failed (reported; `err`) */
};

/* One publish's build: its state, and what it made. */
struct agent_build {
	enum agent_pub pub;
	void *bytes;       /* the snapshot built (owned), or NULL */
	size_t size;
	uint64_t base_gen; /* a delta's base */
	uint64_t hash;     /* a base's content hash */
	bool fold;         /* the delta outgrew its share: fold after writing */
	bool trim;         /* much was freed: give it back (malloc_trim) */
	int err;           /* FAILED's error; then what writing it answered */
};

/* A delta, unless a base is due: asked for (a failed publish, a new
 * table directory), or the base deltas are built over changed or went. */
static enum agent_pub agent__choose(struct agent *a)
{
	uint64_t base = snap_cache_base_generation(a->cache);

	if (!a->need_base && base && !publish_base_intact(&a->pub, base)) {
		log_error("%s/" LDMESH_SNAP_PREFIX "%" PRIu64 " changed or went since it was written; "
			  "writing a new base", a->o.table, base);
		a->need_base = true;
	}
	return a->need_base ? AGENT_PUB_BASE : AGENT_PUB_DELTA;
}

/*
 * At start the cache has no base, but readers have the one an earlier
 * agent published: made the cache's (snap_cache_restore), the first
 * publish is a delta over it, and processes keep every page of it they
 * have in. That base is the current snapshot or the current delta's
 * (whose changes the new delta then holds too, as it holds all the
 * model's against the base); it must be the file the control page names,
 * trusted and checked as readers map it, and made for this node and
 * domain; else (damaged, foreign) the first publish is a base as before.
 * 0 or -errno.
 */
static int agent__restore(struct agent *a)
{
	char path[sizeof(a->pub.dir) + 32], why[512];
	struct ldmesh_snap disk;
	struct stat st, mapped;
	size_t kept = 0;
	int err;

	if (a->pub.written_base || snap_cache_base_generation(a->cache))
		return -ESTALE; /* not a start: this agent wrote a base */
	if ((err = publish_adopt_base(&a->pub, &st)))
		return err;
	snprintf(path, sizeof(path), "%s/" LDMESH_SNAP_PREFIX "%" PRIu64, a->pub.dir,
		 publish_adopted_base(&a->pub));
	if ((err = ldmesh_snap_map_file(&disk, path, why, sizeof(why)))) {
		log_info("%s; the first publish is a base", why);
		goto fail;
	}
	/* the file mapped is the one adopted (not replaced in between) */
	if (stat(path, &mapped) < 0 || mapped.st_ino != st.st_ino || mapped.st_dev != st.st_dev)
		err = -ESTALE;
	else
		err = snap_cache_restore(a->cache, &a->model.in, &disk, &kept);
	ldmesh_snap_unmap(&disk);
	if (err) {
		log_info("%s: %s; the first publish is a base", path,
			 err == -ESTALE ? "made for another node, domain or zone" : strerror(-err));
		goto fail;
	}
	log_info("restarted over base %" PRIu64 " (%zu services, %zu as the folder says them)",
		 publish_adopted_base(&a->pub), snap_cache_base_services(a->cache), kept);
	return 0;
fail:
	a->pub.written_base = 0;
	return err;
}

/* A full resolve too publishes what changed as a delta over the base
 * readers have: a running process then maps a file the size of the
 * change, and the services it did not change it keeps reading from pages
 * it has in already. A base, when the change is past a delta's share, is
 * folded and announced ahead as after any large edit. With no base to
 * build on (snap_build_delta's -ESTALE), a base. */
static enum agent_pub agent__build_delta(struct agent *a, bool in_place,
					 const struct snap_change *changes, size_t n_changes,
					 struct agent_build *b)
{
	int err = in_place ? snap_build_delta(&a->model.in, a->cache, changes, n_changes,
					      &b->bytes, &b->size)
			   : snap_build_delta_whole(&a->model.in, a->cache, &b->bytes, &b->size);

	if (err == -ESTALE && !in_place && agent__restore(a) == 0)
		err = snap_build_delta_whole(&a->model.in, a->cache, &b->bytes, &b->size);
	if (err == -ESTALE)
		return AGENT_PUB_BASE;
	if (err) {
		b->err = err;
		return AGENT_PUB_FAILED;
	}
	if (!b->bytes)
		return AGENT_PUB_UNCHANGED;
	b->base_gen = snap_cache_base_generation(a->cache);
	b->fold = agent__delta_too_big(a);
	return AGENT_PUB_DELTA;
}

/* A base of the whole model. One that says what the published base says
 * publishes nothing (a touched file, a SIGHUP): what it says is all but
 * the header's first bytes, and deltas go on naming the published one.
 * With a delta current there is nothing to compare with cheaply: publish.
 * (Deltas know by their blocks.) */
static enum agent_pub agent__build_base(struct agent *a, struct agent_build *b)
{
	b->trim = true;
	b->base_gen = 0;
	b->err = snap_build_cached(&a->model.in, a->cache, &b->bytes, &b->size);
	if (b->err)
		return AGENT_PUB_FAILED;
	b->hash = ldmesh_snap_content_hash(b->bytes, b->size);
	/* (an announced base saying it becomes current now) */
	if (!a->need_base && a->current_base_hash && a->current_base_hash == b->hash &&
	    agent_commit_ahead(a) == 0) {
		snap_cache_adopt_generation(a->cache, a->pub.generation);
		return AGENT_PUB_UNCHANGED;
	}
	return AGENT_PUB_BASE;
}

/* The model brought up to date for a publish, its generation stamped. 1:
 * edited in place (*changes says which services), 0: resolved in full,
 * -errno (reported): nothing to publish. */
static int agent__prepare(struct agent *a, const struct snap_change **changes, size_t *n_changes)
{
	int err;

	if (publish_check(&a->pub) && (err = agent_restore_table(a)) < 0)
		return err;
	if ((err = agent__dir_trust(a)) < 0)
		return err;
	return agent__resolve(a, changes, n_changes);
}

/* Write what was built (b->pub DELTA or BASE) and say so; then fold a
 * delta that outgrew its share. 0 or -errno (reported). */
static int agent__write_built(struct agent *a, struct agent_build *b, bool in_place,
			      const uint64_t t[3])
{
	char kind[48] = "base";
	int err = agent__write(a, b->bytes, b->size, b->base_gen, b->hash);

	if (err)
		return err;
	if (b->pub == AGENT_PUB_DELTA)
		snprintf(kind, sizeof(kind), "delta over %" PRIu64, b->base_gen);
	log_info("published generation %" PRIu64 " (%s): %zu services, %zu bytes "
		 "in %.2f ms (resolve %.2f%s, build %.2f, write %.2f)",
		 a->pub.generation, kind, a->model.n_services, b->size,
		 agent__ms(t[0], agent_now_ns(CLOCK_MONOTONIC)), agent__ms(t[0], t[1]),
		 in_place ? " in place" : "", agent__ms(t[1], t[2]),
		 agent__ms(t[2], agent_now_ns(CLOCK_MONOTONIC)));
	if (!b->fold)
		return 0;
	b->trim = true;
	return agent__fold(a);
}

/* Build and write the model as it is, `changes` (in_place) or all of it
 * having changed since the last publish; into `b` what was built. */
static void agent__build_write(struct agent *a, int in_place, const struct snap_change *changes,
			       size_t n_changes, uint64_t t[3], struct agent_build *b)
{
	agent__stamp(a);
	b->pub = agent__choose(a);
	if (b->pub == AGENT_PUB_DELTA)
		b->pub = agent__build_delta(a, in_place, changes, n_changes, b);
	if (b->pub == AGENT_PUB_BASE)
		b->pub = agent__build_base(a, b);
	t[2] = agent_now_ns(CLOCK_MONOTONIC);
	switch (b->pub) {
	case AGENT_PUB_UNCHANGED:
		log_debug("no change; generation %" PRIu64 " stays", a->pub.generation);
		break;
	case AGENT_PUB_FAILED:
		log_error("building the snapshot: %s", strerror(-b->err));
		a->need_base = true;
		break;
	case AGENT_PUB_DELTA:
	case AGENT_PUB_BASE:
		b->err = agent__write_built(a, b, in_place, t);
		break;
	}
	free(b->bytes);
	b->bytes = NULL;
}

int agent_publish_services(struct agent *a, const struct snap_change *changes, size_t n)
{
	uint64_t t[3] = { agent_now_ns(CLOCK_MONOTONIC) };
	struct agent_build b = { .trim = false };
	int err;

	if (publish_check(&a->pub) && (err = agent_restore_table(a)) < 0)
		return err;
	if ((err = agent__dir_trust(a)) < 0)
		return err;
	t[1] = t[0];
	agent__build_write(a, 1, changes, n, t, &b);
	return b.err;
}

int agent_publish(struct agent *a)
{
	uint64_t t[3] = { agent_now_ns(CLOCK_MONOTONIC) };
	const struct snap_change *changes = NULL;
	size_t n_changes = 0;
	int in_place = agent__prepare(a, &changes, &n_changes);
	struct agent_build b = { .trim = in_place == 0 }; /* a full resolve freed the
							     whole previous model */

	if (in_place < 0)
		return in_place;
	t[1] = agent_now_ns(CLOCK_MONOTONIC);
	agent__build_write(a, in_place, changes, n_changes, t, &b);
	/* the model points into no replaced version any more, nor do the
	 * changes just built */
	sources_retired_free(&a->src);
#ifdef __GLIBC__
	/* A base build frees a block per service and the file's bytes, a
	 * full resolve the previous model (tens of MB at 100,000 services),
	 * between allocations that stay; glibc returns only the heap's top
	 * by itself. */
	if (b.trim)
		malloc_trim(0);
#endif
	return b.err;
}

bool agent_check_table(struct agent *a)
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
