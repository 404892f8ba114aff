/* SPDX-License-Identifier: MIT */
/*
 * Which Services an edit keeps, adds and removes (model_update.c's plan),
 * and adding and removing them in place. A Service may come or go in
 * place only where nothing else in the table depends on it: the model has
 * no conflicts (every name defined once, every address owned once, none
 * left without one), and the new Service brings its own free addresses (a
 * clusterIP, as every manifest read back from an API server has; or
 * headless, or ExternalName) or is the edit's one Service that needs one
 * allocated. That one gets what the full resolve, given this model as its
 * previous result, would give it (model__addresses in the full resolve),
 * in its order (model__alloc_cmp): first each the address it was
 * allocated before, then, for those without one, ipalloc's probe over the
 * addresses every other Service holds and those allocated before it. An
 * old address another Service holds now, or a full CIDR, are the full
 * resolve's to order and report.
 */
#include "model_plan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ipalloc.h"

/* A file whose Services change (come, go, move) and that holds more than
 * this many: a full resolve (matching them up is quadratic). */
#define MODEL_PLAN_MAX 256
/* More Services than this needing an address in one edit: a full resolve
 * (each probe looks through the plan's ops). */
#define MODEL_PLAN_MAX_ALLOC 64

static bool model__same_service(const struct k8s_service *a, const struct k8s_service *b)
{
	return !strcmp(a->meta.ns, b->meta.ns) && !strcmp(a->meta.name, b->meta.name);
}

/* The Service fields the whole table decides on together. */
static bool model__same_identity(const struct k8s_service *a, const struct k8s_service *b)
{
	return model__same_service(a, b) &&
	       a->meta.created == b->meta.created && a->headless == b->headless &&
	       (a->type == LDMESH_SVC_EXTERNAL_NAME) == (b->type == LDMESH_SVC_EXTERNAL_NAME) &&
	       a->n_cluster_ips == b->n_cluster_ips &&
	       !memcmp(a->cluster_ips, b->cluster_ips, a->n_cluster_ips * sizeof(a->cluster_ips[0]));
}

static int model__plan_push(struct model_plan *p, struct model_op op)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		struct model_op *v = realloc(p->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		p->v = v;
		p->cap = cap;
	}
	p->v[p->n++] = op;
	return 0;
}

/* A name defined twice in one file is a conflict the full resolve reports. */
static bool model__unique_names(const struct manifest_set *s)
{
	for (size_t i = 0; i < s->n_services; i++)
		for (size_t k = 0; k < i; k++)
			if (model__same_service(&s->services[i], &s->services[k]))
				return false;
	return true;
}

int model__plan_file(struct model_plan *p, const struct manifest_set *old,
		     const struct manifest_set *now, const struct model_source *now_src)
{
	bool same = old->n_services == now->n_services;
	int err = 0;

	for (size_t k = 0; same && k < old->n_services; k++)
		same = model__same_identity(&old->services[k], &now->services[k]);
	if (same) { /* the usual edit: every Service where it was */
		for (size_t k = 0; k < old->n_services && !err; k++)
			err = model__plan_push(p, (struct model_op){
					       .was = &old->services[k], .is = &now->services[k],
					       .src = now_src, .index = (uint32_t)k });
		return err;
	}
	if (old->n_services + now->n_services > MODEL_PLAN_MAX ||
	    !model__unique_names(old) || !model__unique_names(now))
		return -E2BIG;
	p->table_wide = true;
	for (size_t k = 0; k < old->n_services && !err; k++) {
		const struct k8s_service *was = &old->services[k];
		size_t j = 0;

		while (j < now->n_services && !model__same_service(was, &now->services[j]))
			j++;
		if (j < now->n_services && model__same_identity(was, &now->services[j]))
			err = model__plan_push(p, (struct model_op){
					.was = was, .is = &now->services[j], .src = now_src,
					.index = (uint32_t)j });
		else /* gone, or back with other addresses: out, then in */
			err = model__plan_push(p, (struct model_op){ .was = was });
	}
	for (size_t j = 0; j < now->n_services && !err; j++) {
		const struct k8s_service *is = &now->services[j];
		size_t k = 0;

		while (k < old->n_services && !model__same_identity(&old->services[k], is))
			k++;
		if (k == old->n_services)
			err = model__plan_push(p, (struct model_op){
					.is = is, .src = now_src, .index = (uint32_t)j });
	}
	return err;
}

static uint32_t model__lookup(const struct strmap *m, const void *key, size_t len)
{
	return len ? strmap_first(m, key, len) : STRMAP_END;
}

/* Whether service `i` is one the plan removes. */
static bool model__removed(const struct model_state *st, const struct model_plan *p, uint32_t i)
{
	for (size_t k = 0; k < p->n; k++)
		if (p->v[k].was && !p->v[k].is && model__index_of(st, p->v[k].was) == i)
			return true;
	return false;
}

/* Whether `addr` is held after the plan: by a Service it keeps, asked
 * for by one of the Services among its first `upto` ops that it adds, or
 * allocated to one it adds. */
static bool model__held(const struct model_state *st, const struct model_plan *p, size_t upto,
			const uint8_t addr[16])
{
	uint32_t owner = model__lookup(&st->by_ip, addr, 16);

	if (owner != STRMAP_END && !model__removed(st, p, owner))
		return true;
	for (size_t k = 0; k < p->n; k++) {
		const struct k8s_service *o = p->v[k].was || k >= upto ? NULL : p->v[k].is;
		for (uint8_t b = 0; o && b < o->n_cluster_ips; b++)
			if (!memcmp(o->cluster_ips[b], addr, 16))
				return true;
		if (p->v[k].alloc && !memcmp(p->v[k].alloc_ip, addr, 16))
			return true;
	}
	return false;
}

/* An address of `s` taken by another Service the plan keeps, or by
 * another Service the plan adds before it (op `at`). */
static bool model__address_taken(const struct model_state *st, const struct model_plan *p,
				 size_t at, const struct k8s_service *s)
{
	for (uint8_t a = 0; a < s->n_cluster_ips; a++)
		if (model__held(st, p, at, s->cluster_ips[a]))
			return true;
	return false;
}

/* m->allocs' entry for ns/name, or -1. A linear pass: this runs for a
 * Service added without an address, not per edit. */
static long model__alloc_index(const struct model_out *m, const char *ns, const char *name)
{
	char key[MODEL_KEY_MAX];
	size_t len = model__key(key, sizeof(key), ns, name, NULL);

	for (size_t i = 0; len && i < m->n_allocs; i++)
		if (m->allocs[i].key_len == len && !memcmp(m->alloc_keys + m->allocs[i].key, key, len))
			return (long)i;
	return -1;
}

struct model_taken {
	const struct model_state *st;
	const struct model_plan *p;
};

/* ipalloc_pick's test: held after the plan, by any Service it adds too
 * (explicit addresses come first in the full resolve, wherever they are
 * in path order). */
static bool model__plan_takes(const uint8_t addr[16], void *ctx)
{
	const struct model_taken *c = ctx;

	return model__held(c->st, c->p, c->p->n, addr);
}

/* The plan's ops whose added Service needs an address, in allocation
 * order, into `order` (their count). */
static size_t model__alloc_order(const struct model_plan *p, size_t *order)
{
	size_t n = 0;

	for (size_t k = 0; k < p->n; k++) {
		size_t at = n;

		if (p->v[k].was || !model__needs_address(p->v[k].is))
			continue;
		while (at && model__alloc_cmp(p->v[order[at - 1]].is, p->v[k].is) > 0) {
			order[at] = order[at - 1];
			at--;
		}
		order[at] = k;
		n++;
	}
	return n;
}

/* The addresses the full resolve would allocate the Services the plan adds
 * (see the top of this file), into their ops: 0, or -1 where only it can
 * say (it reports a lost address or a full CIDR). */
static int model__allocate(const struct model_out *m, struct model_plan *p,
			   const struct model_opts *o, const size_t *order, size_t n)
{
	struct model_taken c = { m->state, p };

	for (size_t k = 0; k < n; k++) { /* first each keeps what it had */
		struct model_op *op = &p->v[order[k]];
		long had = model__alloc_index(m, op->is->meta.ns, op->is->meta.name);

		if (had < 0 || !ipalloc_contains(&o->cidrs.v[0], m->allocs[had].ip))
			continue;
		/* held by another now: the older of the two keeps it */
		if (model__plan_takes(m->allocs[had].ip, &c))
			return -1;
		memcpy(op->alloc_ip, m->allocs[had].ip, 16);
		op->alloc = true;
	}
	for (size_t k = 0; k < n; k++) {
		struct model_op *op = &p->v[order[k]];

		if (!op->alloc && ipalloc_pick(&o->cidrs.v[0], op->is->meta.ns, op->is->meta.name,
					       model__plan_takes, &c, op->alloc_ip))
			return -1;
		op->alloc = true;
	}
	return 0;
}

/* Allocate in the plan, if it adds Services needing an address. */
static bool model__plan_allocate(const struct model_out *m, struct model_plan *p,
				 const struct model_opts *o, size_t n_alloc)
{
	size_t order[MODEL_PLAN_MAX_ALLOC];

	if (!n_alloc)
		return true;
	if (n_alloc > MODEL_PLAN_MAX_ALLOC)
		return false;
	return model__allocate(m, p, o, order, model__alloc_order(p, order)) == 0;
}

bool model__plan_in_place(const struct model_out *m, struct model_plan *p,
			  const struct model_opts *o)
{
	const struct model_state *st = m->state;
	size_t n_alloc = 0;

	if (!p->table_wide)
		return true;
	if (m->conflicts)
		return false;
	for (size_t k = 0; k < p->n; k++) {
		const struct k8s_service *was = p->v[k].was, *is = p->v[k].is;
		uint32_t i;

		if (was && !is) { /* removed: must be the one the model holds */
			i = model__index_of(st, was);
			if (i == STRMAP_END || st->refs[i].svc != was)
				return false;
			continue;
		}
		if (was)
			continue; /* kept */
		/* added: a name no one else has, its own free addresses or
		 * some allocated */
		i = model__index_of(st, is);
		if ((i != STRMAP_END && !model__removed(st, p, i)) ||
		    is->n_cluster_ips > LDMESH_MAX_CLUSTER_IPS || model__address_taken(st, p, k, is))
			return false;
		for (uint8_t a = 0; a < is->n_cluster_ips; a++)
			if (!ipalloc_cidrs_contain(&o->cidrs, is->cluster_ips[a]))
				return false;
		for (size_t q = 0; q < k; q++)
			if (!p->v[q].was && model__same_service(p->v[q].is, is))
				return false;
		n_alloc += model__needs_address(is);
	}
	/* last: the explicit addresses of every Service added are known */
	return model__plan_allocate(m, p, o, n_alloc);
}

int model__remove_service(struct model_out *m, uint32_t i)
{
	struct model_state *st = m->state;
	uint32_t last = (uint32_t)m->n_services - 1;
	int err = model__index_service(m, i, false);

	model__free_endpoints(&m->services[i]);
	free(st->own_ports[i]);
	if (!err && i != last) { /* the last one takes its place */
		err = model__index_service(m, last, false);
		m->services[i] = m->services[last];
		st->refs[i] = st->refs[last];
		st->own_ports[i] = st->own_ports[last];
		if (!err)
			err = model__index_service(m, i, true);
	}
	m->n_services = m->in.n_services = last;
	return err;
}

static int model__grow(struct model_out *m, size_t n)
{
	struct model_state *st = m->state;
	struct snap_service_in *sv;
	struct svc_ref *refs;
	struct snap_port_in **ports;
	bool *dirty;
	uint32_t *list;
	size_t cap = st->cap_services ? st->cap_services : 16;

	if (n <= st->cap_services)
		return 0;
	while (cap < n) /* by half: a full resolve sized them exactly */
		cap += cap / 2 + 16;
	if ((sv = realloc(m->services, cap * sizeof(*sv))))
		m->services = sv;
	if ((refs = realloc(st->refs, cap * sizeof(*refs))))
		st->refs = refs;
	if ((ports = realloc(st->own_ports, cap * sizeof(*ports))))
		st->own_ports = ports;
	if ((dirty = realloc(st->dirty, cap * sizeof(*dirty))))
		st->dirty = dirty;
	if ((list = realloc(st->dirty_list, cap * sizeof(*list))))
		st->dirty_list = list;
	if (!sv || !refs || !ports || !dirty || !list)
		return -ENOMEM;
	memset(dirty + st->cap_services, 0, (cap - st->cap_services) * sizeof(*dirty));
	st->cap_services = cap;
	m->in.services = m->services;
	return 0;
}

/* Remember that ns/name was allocated `ip` (m->allocs: the next full
 * resolve keeps it, the agent saves it). */
static int model__remember_alloc(struct model_out *m, const char *ns, const char *name,
				 const uint8_t ip[16])
{
	long at = model__alloc_index(m, ns, name);
	size_t end = 0, len;
	struct model_alloc *v;
	char *keys;

	if (at >= 0) {
		memcpy(m->allocs[at].ip, ip, 16);
		return 0;
	}
	for (size_t i = 0; i < m->n_allocs; i++)
		if (m->allocs[i].key + m->allocs[i].key_len + 1 > end)
			end = m->allocs[i].key + m->allocs[i].key_len + 1;
	len = strlen(ns) + 1 + strlen(name);
	if (!(v = realloc(m->allocs, (m->n_allocs + 1) * sizeof(*v))))
		return -ENOMEM;
	m->allocs = v;
	if (!(keys = realloc(m->alloc_keys, end + len + 1)))
		return -ENOMEM;
	m->alloc_keys = keys;
	model__key(keys + end, len + 1, ns, name, NULL);
	v[m->n_allocs++] = (struct model_alloc){ .key = (uint32_t)end, .key_len = (uint32_t)len };
	memcpy(v[m->n_allocs - 1].ip, ip, 16);
	return 0;
}

int model__add_service(struct model_out *m, const struct model_op *op,
		       const uint8_t *alloc_ip, uint32_t *index)
{
	struct model_state *st = m->state;
	const struct k8s_service *s = op->is;
	uint32_t i = (uint32_t)m->n_services;
	struct snap_service_in *o;
	int err = model__grow(m, (size_t)i + 1);

	if (!err && alloc_ip && !(err = model__remember_alloc(m, s->meta.ns, s->meta.name, alloc_ip)))
		m->n_allocated++;
	if (err)
		return err;
	o = &m->services[i];
	memset(o, 0, sizeof(*o));
	o->n_cluster_ips = s->n_cluster_ips;
	memcpy(o->cluster_ips, s->cluster_ips, s->n_cluster_ips * sizeof(s->cluster_ips[0]));
	if (alloc_ip) {
		o->n_cluster_ips = 1;
		memcpy(o->cluster_ips[0], alloc_ip, 16);
		o->flags = LDMESH_SVC_F_ALLOCATED_IP;
	}
	st->refs[i] = (struct svc_ref){ s, op->src->path,
					model__id(op->src->load_id, op->index) };
	st->own_ports[i] = NULL;
	m->n_services = m->in.n_services = (size_t)i + 1;
	*index = i;
	return model__index_service(m, i, true);
}
