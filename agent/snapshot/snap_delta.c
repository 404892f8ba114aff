/* SPDX-License-Identifier: MIT */
/*
 * Deltas over the cache's base (snapshot.h, "Bases and deltas";
 * snap_build.h). An edit works on a copy of the overlay, so a failure
 * leaves the cache's view as it was: the copy takes its own block
 * references, changes are applied to it, the delta is written from it,
 * and only then does it replace the overlay. An edit's delta is
 * O(overlay + changes): the base is reached only through its name map and
 * the shadows of the services the overlay supersedes. A full resolve's
 * (snap_build_delta_whole) is O(table), as the resolve itself: every
 * service is looked up, and the base's names are walked for the ones gone.
 */
#include "snap_build.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "snap_assemble.h"
#include "snap_cache.h"

/* The overlay being edited: entries [0, n_old) start as copies of the
 * cache's overlay (names shared with it), later ones are new names. */
struct edit {
	struct snap_overlay_entry *e;
	size_t n, n_old;
	uint32_t *map;   /* name hash -> entry + 1; 0 empty */
	size_t mask;
	struct snap_block_ctx ctx;
	bool *touched;   /* a whole-table edit: entries a change named, as e */
};

static bool edit__is(const struct snap_overlay_entry *e, const char *ns, size_t ns_len,
		     const char *name, size_t name_len)
{
	const char *n = e->ns_name;

	/* lengths first: memcmp may read all it is given, past a shorter
	 * name's end */
	if (strlen(n) != ns_len || memcmp(n, ns, ns_len))
		return false;
	n += ns_len + 1;
	return strlen(n) == name_len && !memcmp(n, name, name_len);
}

static size_t edit__slot(const struct edit *ed, const char *ns, size_t ns_len,
			 const char *name, size_t name_len, uint64_t hash)
{
	size_t i = (size_t)hash & ed->mask;

	while (ed->map[i] && !edit__is(&ed->e[ed->map[i] - 1], ns, ns_len, name, name_len))
		i = (i + 1) & ed->mask;
	return i;
}

static int edit__begin(struct edit *ed, const struct snap_cache *c, size_t n_changes)
{
	size_t slots = 16;

	while (slots < (c->n_overlay + n_changes) * 2)
		slots <<= 1;
	ed->mask = slots - 1;
	ed->n = ed->n_old = c->n_overlay;
	ed->e = malloc((c->n_overlay + n_changes + 1) * sizeof(*ed->e));
	ed->map = calloc(slots, sizeof(*ed->map));
	if (!ed->e || !ed->map) {
		free(ed->e);
		free(ed->map);
		return -ENOMEM;
	}
	for (size_t i = 0; i < c->n_overlay; i++) {
		const char *ns = c->overlay[i].ns_name, *name = ns + strlen(ns) + 1;
		ed->e[i] = c->overlay[i];
		if (ed->e[i].block)
			snap_block_ref(ed->e[i].block);
		ed->map[edit__slot(ed, ns, strlen(ns), name, strlen(name), ed->e[i].hash)] =
			(uint32_t)(i + 1);
	}
	return 0;
}

/* Undo: drop the copy's references and the names it added. */
static void edit__abort(struct edit *ed)
{
	for (size_t i = 0; i < ed->n; i++) {
		snap_block_unref(ed->e[i].block);
		if (i >= ed->n_old)
			free(ed->e[i].ns_name);
	}
	free(ed->e);
	free(ed->map);
}

/* The copy becomes the overlay: its live entries, in order. */
static void edit__commit(struct edit *ed, struct snap_cache *c)
{
	size_t live = 0;

	for (size_t i = 0; i < c->n_overlay; i++)
		snap_block_unref(c->overlay[i].block);
	free(c->overlay);
	for (size_t i = 0; i < ed->n; i++) {
		if (ed->e[i].live)
			ed->e[live++] = ed->e[i];
		else
			free(ed->e[i].ns_name);
	}
	/* sized for the edit (a whole table's may be twice the table's
	 * services): keep what the overlay holds */
	c->overlay = realloc(ed->e, (live + 1) * sizeof(*ed->e));
	if (!c->overlay)
		c->overlay = ed->e;
	c->n_overlay = live;
	free(ed->map);
}

static bool same_content(const struct snap_block *a, const struct snap_block *b)
{
	return a == b || (a && b && a->content == b->content);
}

/* Whether the edited overlay says what the cache's says. */
static bool edit__unchanged(const struct edit *ed, const struct snap_cache *c)
{
	for (size_t i = ed->n_old; i < ed->n; i++)
		if (ed->e[i].live)
			return false;
	for (size_t i = 0; i < ed->n_old; i++)
		if (!ed->e[i].live || !same_content(ed->e[i].block, c->overlay[i].block))
			return false;
	return true;
}

/* The block `ch` asks for: the one the overlay holds for this name when
 * the model's key says the input is the same, else a new one. */
static int edit__block(const struct edit *ed, const struct snap_change *ch,
		       const struct snap_overlay_entry *cur, struct snap_block **out)
{
	uint64_t key = snap_block_key(&ed->ctx, ch->svc);
	int err;

	if (key && cur && cur->live && cur->block && cur->block->key == key) {
		*out = snap_block_ref(cur->block);
		return 0;
	}
	if ((err = snap_block_build(&ed->ctx, ch->svc, out)))
		return err;
	(*out)->key = key;
	return 0;
}

/* Whether the service is now (`now`, NULL: removed) what the base says
 * (`base`, NULL: the base has no such service). The model's key says it
 * before a block is built; the content hash after. */
static bool edit__as_base(const struct edit *ed, const struct snap_change *ch,
			  const struct snap_block *now, const struct snap_shadow *base)
{
	uint64_t key;

	if (!base)
		return !ch->svc;
	if (!ch->svc)
		return false;
	if (now)
		return now->content == base->content;
	key = snap_block_key(&ed->ctx, ch->svc);
	return key && key == base->key;
}

static int edit__add(struct edit *ed, const char *ns, size_t ns_len, const char *name,
		     size_t name_len, uint64_t hash, uint32_t base_index,
		     struct snap_overlay_entry **out)
{
	struct snap_overlay_entry *e = &ed->e[ed->n];
	char *copy = malloc(ns_len + name_len + 2);

	if (!copy)
		return -ENOMEM;
	memcpy(copy, ns, ns_len + 1);
	memcpy(copy + ns_len + 1, name, name_len + 1);
	*e = (struct snap_overlay_entry){ .ns_name = copy, .hash = hash,
					  .base_index = base_index };
	ed->map[edit__slot(ed, ns, ns_len, name, name_len, hash)] = (uint32_t)(++ed->n);
	*out = e;
	return 0;
}

/* Set the entry's service to `now` (a reference it takes over). */
static void edit__set(struct snap_overlay_entry *e, struct snap_block *now, bool live)
{
	snap_block_unref(e->block);
	e->block = now;
	e->live = live;
}

/* Apply the change of ns/name (`ch` gives the service, or NULL: removed;
 * its ns and name are not read). *base_out: the base's service of that
 * name, or LDMESH_NONE. */
static int edit__apply_name(struct edit *ed, const struct snap_cache *c, const char *ns,
			    size_t ns_len, const char *name, size_t name_len,
			    const struct snap_change *ch, uint32_t *base_out)
{
	uint64_t hash = snap_cache_name_hash(ns, ns_len, name, name_len);
	uint32_t at = ed->map[edit__slot(ed, ns, ns_len, name, name_len, hash)];
	struct snap_overlay_entry *cur = at ? &ed->e[at - 1] : NULL;
	uint32_t base_index = cur ? cur->base_index
				  : snap_cache_base_find(c, ns, ns_len, name, name_len, hash);
	const struct snap_shadow *base =
		base_index != LDMESH_NONE ? snap_cache_base_shadow(c, base_index) : NULL;
	struct snap_block *now = NULL;
	bool as_base = edit__as_base(ed, ch, NULL, base);
	int err;

	*base_out = base_index;
	if (cur && ed->touched)
		ed->touched[cur - ed->e] = true;
	if (!as_base && ch->svc && (err = edit__block(ed, ch, cur, &now)))
		return err;
	/* Back to what the base says: no overlay entry. */
	if (as_base || edit__as_base(ed, ch, now, base)) {
		if (cur)
			edit__set(cur, NULL, false);
		snap_block_unref(now);
		return 0;
	}
	/* What the overlay says already: keep its block. */
	if (cur && cur->live && same_content(now, cur->block)) {
		snap_block_unref(now);
		return 0;
	}
	if (!cur && (err = edit__add(ed, ns, ns_len, name, name_len, hash, base_index, &cur))) {
		snap_block_unref(now);
		return err;
	}
	edit__set(cur, now, true);
	return 0;
}

static int edit__apply(struct edit *ed, const struct snap_cache *c, const struct snap_change *ch,
		       uint32_t *base_out)
{
	if (ch->svc && (strcmp(ch->svc->ns ? ch->svc->ns : "", ch->ns) ||
			strcmp(ch->svc->name ? ch->svc->name : "", ch->name)))
		return -EINVAL;
	return edit__apply_name(ed, c, ch->ns, strlen(ch->ns), ch->name, strlen(ch->name), ch,
				base_out);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Write the delta of the edited overlay: its services; SUPERSEDED and
 * shadows from the base services it replaces or removes. */
static int edit__write(const struct edit *ed, const struct snap_cache *c,
		       const struct snap_input *hdr, void **out, size_t *out_size)
{
	struct snap_assembly a = { .hdr = hdr, .shared = &c->shared, .domain = c->domain,
				   .node = c->node, .zone = c->zone,
				   .base_generation = c->base_generation };
	struct snap_block **blocks = malloc((ed->n + 1) * sizeof(*blocks));
	const struct snap_shadow **shadowed = malloc((ed->n + 1) * sizeof(*shadowed));
	uint32_t *superseded = malloc((ed->n + 1) * sizeof(*superseded));
	int err = -ENOMEM;

	if (!blocks || !shadowed || !superseded)
		goto out;
	for (size_t i = 0; i < ed->n; i++) {
		const struct snap_overlay_entry *e = &ed->e[i];
		if (!e->live)
			continue;
		if (e->block)
			blocks[a.n_blocks++] = e->block;
		if (e->base_index != LDMESH_NONE)
			superseded[a.n_superseded++] = e->base_index;
	}
	qsort(superseded, a.n_superseded, sizeof(*superseded), cmp_u32);
	for (size_t i = 0; i < a.n_superseded; i++)
		shadowed[i] = snap_cache_base_shadow(c, superseded[i]);
	a.blocks = blocks;
	a.superseded = superseded;
	a.shadowed = shadowed;
	a.n_shadowed = a.n_superseded;
	err = snap_assemble(&a, out, out_size);
out:
	free(blocks);
	free((void *)shadowed);
	free(superseded);
	return err;
}

/* Blocks built now must mean what the base's mean: same shared pool
 * (not started over, not past its bound) and same header strings, which
 * every block's FQDNs and node-local ordering were made with. */
static int delta__check_base(const struct snap_input *hdr, struct snap_cache *c)
{
	ldmesh_str_t domain, node, zone;
	int err;

	if (!c->has_base || c->shared.len > SNAP_SHARED_MAX)
		return -ESTALE;
	if ((err = strpool_add_cstr(&c->shared, hdr->cluster_domain, &domain)) ||
	    (err = strpool_add_cstr(&c->shared, hdr->node_name, &node)) ||
	    (err = strpool_add_cstr(&c->shared, hdr->node_zone, &zone)))
		return err;
	if (domain != c->domain || node != c->node || zone != c->zone)
		return -ESTALE;
	return 0;
}

/* The edited view written as a delta and made the cache's, or nothing to
 * publish when it says what the cache's says. */
static int delta__finish(struct edit *ed, struct snap_cache *cache, const struct snap_input *hdr,
			 void **out, size_t *out_size)
{
	int err;

	if (edit__unchanged(ed, cache) && hdr->flags == cache->flags && !cache->restored) {
		edit__commit(ed, cache);
		*out = NULL;
		*out_size = 0;
		return 0;
	}
	if ((err = edit__write(ed, cache, hdr, out, out_size))) {
		edit__abort(ed);
		return err;
	}
	edit__commit(ed, cache);
	cache->flags = hdr->flags;
	cache->restored = false;
	return 0;
}

int snap_build_delta(const struct snap_input *hdr, struct snap_cache *cache,
		     const struct snap_change *changes, size_t n_changes,
		     void **out, size_t *out_size)
{
	struct edit ed = { .ctx = { .cluster_domain = hdr->cluster_domain,
				    .node_name = hdr->node_name, .node_zone = hdr->node_zone,
				    .shared = &cache->shared, .scratch = &cache->scratch,
				    .ejected = hdr->ejected } };
	int err;

	if ((err = delta__check_base(hdr, cache)) || (err = edit__begin(&ed, cache, n_changes)))
		return err;
	for (size_t i = 0; i < n_changes; i++) {
		uint32_t base_index;

		if ((err = edit__apply(&ed, cache, &changes[i], &base_index))) {
			edit__abort(&ed);
			return err;
		}
	}
	return delta__finish(&ed, cache, hdr, out, out_size);
}

/* The names the view holds that no change of a whole-table edit named
 * (`seen`: by base index; ed->touched: by overlay entry) are removed. */
static int delta__remove_unseen(struct edit *ed, const struct snap_cache *c, const bool *seen)
{
	const struct snap_change gone = { .ns = NULL, .name = NULL, .svc = NULL };
	uint32_t base_index;
	int err;

	for (uint32_t b = 0; b < c->n_base; b++) {
		const struct snap_shadow *sh = snap_cache_base_shadow(c, b);
		uint8_t ns_len, name_len;
		const char *ns = snap_shadow_ns(sh, &ns_len), *name = snap_shadow_name(sh, &name_len);

		/* (a second service of a name is not the one the name finds) */
		if (seen[b] || snap_cache_base_find(c, ns, ns_len, name, name_len,
						    snap_cache_name_hash(ns, ns_len, name,
									 name_len)) != b)
			continue;
		if ((err = edit__apply_name(ed, c, ns, ns_len, name, name_len, &gone, &base_index)))
			return err;
	}
	/* names the base lacks, added by earlier deltas (the entries the loop
	 * above added come after them) */
	for (size_t i = 0; i < ed->n_old; i++) {
		struct snap_overlay_entry *e = &ed->e[i];
		const char *ns = e->ns_name, *name = ns + strlen(ns) + 1;

		if (e->base_index == LDMESH_NONE && !ed->touched[i] &&
		    (err = edit__apply_name(ed, c, ns, strlen(ns), name, strlen(name), &gone,
					    &base_index)))
			return err;
	}
	return 0;
}

int snap_build_delta_whole(const struct snap_input *in, struct snap_cache *cache, void **out,
			   size_t *out_size)
{
	struct edit ed = { .ctx = { .cluster_domain = in->cluster_domain,
				    .node_name = in->node_name, .node_zone = in->node_zone,
				    .shared = &cache->shared, .scratch = &cache->scratch,
				    .ejected = in->ejected } };
	/* every service may be new, every base service removed */
	size_t most = in->n_services + cache->n_base;
	bool *seen = NULL;
	int err;

	if ((err = delta__check_base(in, cache)) || (err = edit__begin(&ed, cache, most)))
		return err;
	seen = calloc(cache->n_base + 1, sizeof(*seen));
	ed.touched = calloc(cache->n_overlay + most + 1, sizeof(*ed.touched));
	err = seen && ed.touched ? 0 : -ENOMEM;
	for (size_t i = 0; !err && i < in->n_services; i++) {
		const struct snap_service_in *svc = &in->services[i];
		const struct snap_change ch = { .ns = svc->ns ? svc->ns : "",
						.name = svc->name ? svc->name : "", .svc = svc };
		uint32_t base_index;

		err = edit__apply(&ed, cache, &ch, &base_index);
		if (!err && base_index != LDMESH_NONE)
			seen[base_index] = true;
	}
	if (!err)
		err = delta__remove_unseen(&ed, cache, seen);
	free(seen);
	free(ed.touched);
	ed.touched = NULL;
	if (err) {
		edit__abort(&ed);
		return err;
	}
	return delta__finish(&ed, cache, in, out, out_size);
}
