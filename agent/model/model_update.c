/* SPDX-License-Identifier: MIT */
/*
 * An edit applied to a resolved model in place, so a changed file costs
 * the services it touches, not the table. What the whole table decides
 * together (which definition of a Service wins, who owns an address, what
 * gets allocated, this node's zone) is left to the full resolve wherever
 * an edit could move it (model_update returns 0); Services that come and
 * go without moving any of it, those needing one allocated an address as
 * the full resolve would, are added and removed here (model_services.c),
 * and a Node that leaves this node's zone as it was changes nothing.
 * Everything else a service's result depends on is its own object and
 * what it is joined with, which the join indexes find from the objects an
 * edit removed and added.
 */
#include "model_plan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Past this many files in one edit a full resolve is as cheap. */
#define MODEL_UPDATE_MAX_FILES 256

static const struct model_source *model__find_source(const struct model_source *src, size_t n,
						     const char *path)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(src[mid].path, path);
		if (!c)
			return &src[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The version the model holds of each path is the first one retired since
 * it resolved: later ones (a file written twice in one burst) it never saw. */
static bool model__first_of_path(const struct model_source *changed, size_t i)
{
	for (size_t k = 0; k < i; k++)
		if (!strcmp(changed[k].path, changed[i].path))
			return false;
	return true;
}

/* The current version of a changed path (an empty set when it is gone). */
static const struct manifest_set *model__now(const struct model_source *src, size_t n,
					     const char *path, const struct model_source **m)
{
	*m = model__find_source(src, n, path);
	return *m ? (*m)->set : &manifest_set_empty;
}

/* Whether, with TCPRoutes in force, the plan may move what they attach
 * to (model_route.c decides that over the whole table): a Service that
 * comes or goes (a parent found or lost), or a parent's own object
 * changed (its ports). Routes changed themselves never get here (their
 * files are planned no further). Endpoint changes of a parent or a
 * backend are followed in place. */
static bool model__plan_moves_routes(const struct model_out *m, const struct model_plan *p)
{
	for (size_t k = 0; k < p->n; k++) {
		uint32_t i;

		if (!p->v[k].was || !p->v[k].is)
			return true;
		i = model__index_of(m->state, p->v[k].was);
		if (i != STRMAP_END && i < m->n_services && m->services[i].n_splits)
			return true;
	}
	return false;
}

static bool model__names_node(const struct manifest_set *s, const char *name)
{
	for (size_t i = 0; i < s->n_nodes; i++)
		if (!strcmp(s->nodes[i].meta.name, name))
			return true;
	return false;
}

static bool model__same_zone(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* A Node counts only as this node's zone (model__zone): a Node of another
 * node, or of this one with its zone as it was, changes no service. 1
 * when the edit leaves the zone as it is (then p->zone is its string now,
 * if the edit touched this node's Node), 0 when it moves it (every
 * service's key and the header: the full resolve's). */
static int model__plan_zone(const struct model_out *m, const struct model_source *src, size_t n,
			    const struct model_source *changed, size_t n_changed,
			    const struct model_opts *o, struct model_plan *p)
{
	const char *zone;
	bool touched = false;

	if ((o->zone && *o->zone) || !o->node_name)
		return 1; /* no Node is looked at */
	for (size_t i = 0; i < n_changed && !touched; i++) {
		const struct model_source *now_src;

		touched = model__names_node(changed[i].set, o->node_name) ||
			  model__names_node(model__now(src, n, changed[i].path, &now_src),
					    o->node_name);
	}
	if (!touched)
		return 1;
	zone = model__zone(src, n, o);
	if (!model__same_zone(zone, m->in.node_zone))
		return 0;
	p->new_zone = true; /* the string the model points to goes with its file */
	p->zone = zone;
	return 1;
}

/* The plan of an edit: 1 when it can be applied in place (no TCPRoute,
 * this node's zone unchanged, every changed file's Services kept, or
 * added and removed as model__plan_in_place allows), 0 when not,
 * -ENOMEM. */
static int model__plan(const struct model_out *m, const struct model_source *src, size_t n,
		       const struct model_source *changed, size_t n_changed,
		       const struct model_opts *o, struct model_plan *p)
{
	const struct model_state *st = m->state;

	if (!st || n_changed > MODEL_UPDATE_MAX_FILES ||
	    st->j.unlinked > (st->j.n_slice_v + st->j.n_pod_v) / 2 + 4096)
		return 0;
	for (size_t i = 0; i < n_changed; i++) {
		const struct model_source *now_src;
		const struct manifest_set *now;
		int err;

		if (!model__first_of_path(changed, i))
			continue;
		now = model__now(src, n, changed[i].path, &now_src);
		if (changed[i].set->n_routes || now->n_routes)
			return 0;
		err = model__plan_file(p, changed[i].set, now, now_src);
		if (err)
			return err == -ENOMEM ? err : 0;
	}
	if ((m->n_routes && model__plan_moves_routes(m, p)) ||
	    !model__plan_zone(m, src, n, changed, n_changed, o, p))
		return 0;
	return model__plan_in_place(m, p, o);
}

static void model__mark(struct model_state *st, uint32_t i)
{
	if (!st->dirty[i]) {
		st->dirty[i] = true;
		st->dirty_list[st->n_dirty++] = i;
	}
}

static void model__dirty_key(struct model_state *st, const struct strmap *map, const char *key,
			     size_t len)
{
	for (uint32_t v = len ? strmap_first(map, key, len) : STRMAP_END; v != STRMAP_END;
	     v = strmap_next(map, v))
		model__mark(st, v);
}

/* Take `obj` out of the list of `key` in `map` (values index `vec`). */
static void model__unlink(struct strmap *map, struct obj_ref *vec, size_t *unlinked,
			  const char *key, size_t len, const void *obj)
{
	for (uint32_t v = len ? strmap_first(map, key, len) : STRMAP_END; v != STRMAP_END;
	     v = strmap_next(map, v))
		if (vec[v].obj == obj) {
			strmap_unlink(map, key, len, v);
			vec[v].obj = NULL;
			(*unlinked)++;
			return;
		}
}

/* Unlink (`add` false) or link the slices and pods of `set`, marking the
 * services they name or may be selected by. */
static int model__join_set(struct model_state *st, const struct manifest_set *set,
			   const struct model_source *m, bool add)
{
	struct join *j = &st->j;
	char key[MODEL_KEY_MAX];
	int err = 0;

	for (size_t s = 0; s < set->n_slices && !err; s++) {
		const struct k8s_slice *sl = &set->slices[s];
		size_t len = model__key(key, sizeof(key), sl->meta.ns, sl->service, NULL);

		model__dirty_key(st, &st->by_name, key, len);
		if (add)
			err = model__join_add_slice(j, sl, model__id(m->load_id, s), m->path,
						    (uint32_t)s, true);
		else
			model__unlink(&j->slices, j->slice_v, &j->unlinked, key, len, sl);
	}
	for (size_t p = 0; p < set->n_pods && !err; p++) {
		const struct k8s_pod *pod = &set->pods[p];

		for (size_t l = 0; l < pod->labels.n; l++) {
			const struct k8s_label *lb = &pod->labels.v[l];
			size_t len = model__key(key, sizeof(key), pod->meta.ns, lb->key, lb->value);

			model__dirty_key(st, &st->by_selector, key, len);
			if (!add)
				model__unlink(&j->pods, j->pod_v, &j->unlinked, key, len, pod);
		}
		if (add)
			err = model__join_add_pod(j, pod, model__id(m->load_id, p), m->path,
						  (uint32_t)p, true);
	}
	return err;
}

static int model__note_change(struct model_state *st, const char *ns, const char *name,
			      const struct snap_service_in *o)
{
	if (st->n_changes == st->cap_changes) {
		size_t cap = st->cap_changes ? st->cap_changes * 2 : 16;
		struct snap_change *v = realloc(st->changes, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		st->changes = v;
		st->cap_changes = cap;
	}
	st->changes[st->n_changes++] = (struct snap_change){ ns, name, o };
	return 0;
}

/* The plan's removals, before anything is marked: a removal moves the
 * last service into the freed index. */
static int model__apply_removals(struct model_out *m, const struct model_plan *p)
{
	struct model_state *st = m->state;
	int err = 0;

	for (size_t k = 0; k < p->n && !err; k++) {
		const struct k8s_service *was = p->v[k].was;
		uint32_t i;

		if (!was || p->v[k].is)
			continue;
		i = model__index_of(st, was);
		if (i == STRMAP_END || st->refs[i].svc != was)
			continue;
		err = model__note_change(st, was->meta.ns, was->meta.name, NULL);
		if (!err)
			err = model__remove_service(m, i);
	}
	return err;
}

/* Kept Services move to their new objects; added ones get records. Each
 * is marked to be joined again. */
static int model__apply_services(struct model_out *m, const struct model_plan *p)
{
	struct model_state *st = m->state;
	char key[MODEL_KEY_MAX];
	int err = 0;

	for (size_t k = 0; k < p->n && !err; k++) {
		const struct model_op *op = &p->v[k];
		size_t len;
		uint32_t i;

		if (!op->is)
			continue;
		if (!op->was) {
			const uint8_t *ip = op->alloc ? op->alloc_ip : NULL;
			if (!(err = model__add_service(m, op, ip, &i)))
				model__mark(st, i);
			continue;
		}
		i = model__index_of(st, op->was);
		if (i == STRMAP_END || st->refs[i].svc != op->was)
			continue; /* a second definition, or one left out: still so */
		if ((len = model__selector_key(key, sizeof(key), op->was)))
			strmap_unlink(&st->by_selector, key, len, i);
		if ((len = model__selector_key(key, sizeof(key), op->is)))
			err = strmap_add(&st->by_selector, key, len, i);
		st->refs[i].svc = op->is;
		st->refs[i].path = op->src->path;
		st->refs[i].id = model__id(op->src->load_id, op->index);
		model__mark(st, i);
	}
	return err;
}

/* Join service `i` again from its (possibly new) object; its addresses,
 * decided table-wide, stay. */
static int model__rejoin(struct model_out *m, size_t i)
{
	struct model_state *st = m->state;
	const struct k8s_service *s = st->refs[i].svc;
	struct snap_service_in *o = &m->services[i];
	uint16_t allocated = o->flags & LDMESH_SVC_F_ALLOCATED_IP;
	struct snap_port_in *ports = calloc(s->n_ports + 1, sizeof(*ports));
	int err;

	if (!ports)
		return -ENOMEM;
	model__flags_from_service(s, o);
	o->flags |= allocated;
	model__ports(s, o, ports);
	free(st->own_ports[i]);
	st->own_ports[i] = ports;
	model__free_endpoints(o);
	err = model__endpoints(&st->j, &st->refs[i], o, NULL);
	/* its route's splits (model_route.c) stay, and stay in its key */
	if (!err && o->n_splits)
		o->cache_key = model__splits_key(o, o->cache_key);
	return err;
}

int model_update(struct model_out *m, const struct model_source *src, size_t n,
		 const struct model_source *changed, size_t n_changed,
		 const struct model_opts *o, struct diag *d,
		 const struct snap_change **changes, size_t *n_changes)
{
	struct model_state *st = m->state;
	struct model_plan plan = { .v = NULL };
	int err = model__plan(m, src, n, changed, n_changed, o, &plan);

	if (err <= 0) {
		free(plan.v);
		return err;
	}
	st->j.src = src;
	st->j.n_src = n;
	st->j.o = o;
	st->j.d = d;
	st->n_changes = st->n_dirty = 0;
	m->n_allocated = 0;
	if (plan.new_zone)
		m->in.node_zone = plan.zone;
	err = model__apply_removals(m, &plan);
	/* Out with what each file said, then in with what it says: a pod
	 * that moved between files is found in both. */
	for (size_t i = 0; i < n_changed && !err; i++)
		if (model__first_of_path(changed, i))
			err = model__join_set(st, changed[i].set, NULL, false);
	if (!err)
		err = model__apply_services(m, &plan);
	for (size_t i = 0; i < n_changed && !err; i++) {
		const struct model_source *now_src;
		const struct manifest_set *now;

		if (!model__first_of_path(changed, i))
			continue;
		now = model__now(src, n, changed[i].path, &now_src);
		if (now_src)
			err = model__join_set(st, now, now_src, true);
	}
	for (size_t k = 0; k < st->n_dirty; k++) {
		uint32_t i = st->dirty_list[k];
		st->dirty[i] = false;
		if (!err && !(err = model__rejoin(m, i)))
			err = model__note_change(st, m->services[i].ns, m->services[i].name,
						 &m->services[i]);
	}
	st->j.src = NULL;
	st->j.o = NULL;
	st->j.d = NULL;
	free(plan.v);
	if (err)
		return err;
	*changes = st->changes;
	*n_changes = st->n_changes;
	return 1;
}
