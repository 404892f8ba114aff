/* SPDX-License-Identifier: MIT */
#include "model.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ldmesh/hash.h"
#include "model_join.h"
#include "selector.h"

bool model__needs_address(const struct k8s_service *s)
{
	return !s->n_cluster_ips && !s->headless && s->type != LDMESH_SVC_EXTERNAL_NAME;
}

uint64_t model__id(uint64_t load_id, size_t index)
{
	return ldmesh__fmix(load_id * LDMESH_HASH_K1 + index);
}

/* Fold one more input into a cache key. */
static uint64_t model__mix(uint64_t key, uint64_t v)
{
	return ldmesh__fmix(key ^ (v + LDMESH_HASH_K2 + (key << 6) + (key >> 2)));
}

static void model__warn(struct diag *d, const char *path, const struct k8s_meta *m,
			const char *fmt, ...)
{
	char msg[384], line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(line, sizeof(line), "%s:%u:%u: warning: %s", path, m->line, m->col, msg);
	if (d && d->report)
		d->report(d->ctx, line);
}

/* qsort has no context argument; the model resolves on one thread. */
static const struct svc_ref *model__sort_refs;

/* Allocation order (model_join.h). */
int model__alloc_cmp(const struct k8s_service *a, const struct k8s_service *b)
{
	int64_t ta = a->meta.created ? a->meta.created : INT64_MAX;
	int64_t tb = b->meta.created ? b->meta.created : INT64_MAX;
	int c;

	if (ta != tb)
		return ta < tb ? -1 : 1;
	c = strcmp(a->meta.ns, b->meta.ns);
	return c ? c : strcmp(a->meta.name, b->meta.name);
}

static int model__cmp_index(const void *pa, const void *pb)
{
	return model__alloc_cmp(model__sort_refs[*(const size_t *)pa].svc,
				model__sort_refs[*(const size_t *)pb].svc);
}

/* "a\0b" and "a\0b\0c" keys: NUL cannot occur in names, so no ambiguity. */
size_t model__key(char *buf, size_t cap, const char *a, const char *b,
			 const char *c)
{
	size_t la = strlen(a), lb = strlen(b), lc = c ? strlen(c) : 0;
	size_t len = la + 1 + lb + (c ? 1 + lc : 0);

	if (len > cap)
		return 0;
	memcpy(buf, a, la + 1);
	memcpy(buf + la + 1, b, lb);
	if (c) {
		buf[la + 1 + lb] = 0;
		memcpy(buf + la + 2 + lb, c, lc);
	}
	return len;
}


/* Size a join's object vector to `n` (the full resolve knows its count;
 * doubling left 131,072 slots for 100,000 slices). */
static int model__obj_reserve(struct obj_ref **v, size_t *cap, size_t n)
{
	struct obj_ref *nv = realloc(*v, (n ? n : 1) * sizeof(*nv));

	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = n;
	return 0;
}

/* Append to a join's object vector, growing it by half (edits append a
 * few at a time until the next full resolve). */
static int model__obj_push(struct obj_ref **v, size_t *n, size_t *cap, struct obj_ref r)
{
	int err;

	if (*n == *cap && (err = model__obj_reserve(v, cap, *cap + *cap / 2 + 64)))
		return err;
	(*v)[(*n)++] = r;
	return 0;
}

/* Join order is definition order: path, then position in the file. */
static int model__obj_before(void *ctx, uint32_t a, uint32_t b)
{
	const struct obj_ref *v = ctx;
	int c = strcmp(v[a].path, v[b].path);

	return c ? c < 0 : v[a].index < v[b].index;
}

int model__join_add_slice(struct join *j, const struct k8s_slice *sl, uint64_t id,
			  const char *path, uint32_t index, bool ordered)
{
	char key[MODEL_KEY_MAX];
	size_t len = model__key(key, sizeof(key), sl->meta.ns, sl->service, NULL);
	uint32_t v = (uint32_t)j->n_slice_v;
	int err = model__obj_push(&j->slice_v, &j->n_slice_v, &j->cap_slice_v,
				  (struct obj_ref){ sl, id, path, index });

	if (err || !len)
		return err;
	return ordered ? strmap_insert(&j->slices, key, len, v, model__obj_before, j->slice_v)
		       : strmap_add(&j->slices, key, len, v);
}

int model__join_add_pod(struct join *j, const struct k8s_pod *pod, uint64_t id,
			const char *path, uint32_t index, bool ordered)
{
	char key[MODEL_KEY_MAX];
	int err = 0;

	for (size_t l = 0; l < pod->labels.n && !err; l++) {
		const struct k8s_label *lb = &pod->labels.v[l];
		size_t len = model__key(key, sizeof(key), pod->meta.ns, lb->key, lb->value);
		uint32_t v = (uint32_t)j->n_pod_v;

		err = model__obj_push(&j->pod_v, &j->n_pod_v, &j->cap_pod_v,
				      (struct obj_ref){ pod, id, path, index });
		if (err || !len)
			continue;
		err = ordered ? strmap_insert(&j->pods, key, len, v, model__obj_before, j->pod_v)
			      : strmap_add(&j->pods, key, len, v);
	}
	return err;
}

static int model__index(struct join *j)
{
	size_t n_slices = 0, n_entries = 0;
	int err;

	for (size_t f = 0; f < j->n_src; f++) {
		n_slices += j->src[f].set->n_slices;
		for (size_t p = 0; p < j->src[f].set->n_pods; p++)
			n_entries += j->src[f].set->pods[p].labels.n;
	}
	/* Exact, and a little room for what edits append (model_update.c) */
	if ((err = strmap_init(&j->slices, n_slices)) ||
	    (err = strmap_init(&j->pods, n_entries)) ||
	    (err = model__obj_reserve(&j->slice_v, &j->cap_slice_v, n_slices + n_slices / 64 + 64)) ||
	    (err = model__obj_reserve(&j->pod_v, &j->cap_pod_v, n_entries + n_entries / 64 + 64)))
		return err;
	/* files come in path order: appending keeps join order */
	for (size_t f = 0; f < j->n_src; f++) {
		const struct model_source *m = &j->src[f];
		for (size_t s = 0; s < m->set->n_slices && !err; s++)
			err = model__join_add_slice(j, &m->set->slices[s], model__id(m->load_id, s),
						    m->path, (uint32_t)s, false);
		for (size_t p = 0; p < m->set->n_pods && !err; p++)
			err = model__join_add_pod(j, &m->set->pods[p], model__id(m->load_id, p),
						  m->path, (uint32_t)p, false);
	}
	return err;
}

void model__flags_from_service(const struct k8s_service *s, struct snap_service_in *o)
{
	o->ns = s->meta.ns;
	o->name = s->meta.name;
	o->external_name = s->external_name;
	o->type = s->type;
	o->flags = (uint16_t)((s->headless ? LDMESH_SVC_F_HEADLESS : 0) |
			      (s->affinity_client_ip ? LDMESH_SVC_F_AFFINITY_CLIENT_IP : 0) |
			      (s->internal_local ? LDMESH_SVC_F_INTERNAL_LOCAL : 0) |
			      (s->external_local ? LDMESH_SVC_F_EXTERNAL_LOCAL : 0) |
			      (s->publish_not_ready ? LDMESH_SVC_F_PUBLISH_NOT_READY : 0) |
			      (s->topology ? LDMESH_SVC_F_TOPOLOGY : 0));
	o->affinity_timeout_s = s->affinity_timeout_s;
	o->external_ips = (const uint8_t(*)[16])s->external_ips;
	o->n_external_ips = s->n_external_ips;
	o->lb_ips = (const uint8_t(*)[16])s->lb_ips;
	o->n_lb_ips = s->n_lb_ips;
}

/* Ports of every service come from one array (res->ports), sized first. */
void model__ports(const struct k8s_service *s, struct snap_service_in *o,
			 struct snap_port_in *ports)
{
	for (size_t i = 0; i < s->n_ports; i++) {
		const struct k8s_service_port *p = &s->ports[i];
		ports[i] = (struct snap_port_in){
			.name = p->name, .target_port_name = p->target_port_name,
			.app_protocol = p->app_protocol, .port = p->port,
			.target_port = p->target_port_name ? 0 : p->target_port,
			.node_port = p->node_port, .protocol = p->protocol,
		};
	}
	o->ports = ports;
	o->n_ports = s->n_ports;
}

static bool model__same_port_name(const char *a, const char *b)
{
	return !strcmp(a ? a : "", b ? b : "");
}

/* The endpoint port for service port `sp` from a slice's ports: matched by
 * name and protocol, as kube-proxy does. A slice without ports (hand-made
 * Endpoints often omit them) serves the numeric targetPort. */
static uint16_t model__slice_port(const struct k8s_slice *sl, const struct snap_port_in *sp)
{
	if (!sl->n_ports)
		return sp->target_port;
	for (size_t i = 0; i < sl->n_ports; i++) {
		const struct k8s_ep_port *p = &sl->ports[i];
		if (p->protocol == sp->protocol && model__same_port_name(p->name, sp->name))
			return p->port ? p->port : sp->target_port;
	}
	return 0;
}

/* Endpoint storage for one service, grown as endpoints are found. */
struct ep_acc {
	struct snap_endpoint_in *v;
	uint16_t *ports;
	size_t n, cap, n_ports;
};

static struct snap_endpoint_in *model__ep_add(struct ep_acc *a, const uint8_t addr[16])
{
	/* Two slices may list one address while a pod moves between them
	 * (and Endpoints subsets can overlap): the first listing wins. */
	for (size_t i = 0; i < a->n; i++)
		if (!memcmp(a->v[i].addr, addr, 16))
			return NULL;
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 8;
		struct snap_endpoint_in *v = realloc(a->v, cap * sizeof(*v));
		uint16_t *p = v ? realloc(a->ports, cap * (a->n_ports + 1) * sizeof(*p)) : NULL;
		if (v)
			a->v = v;
		if (!v || !p)
			return (void *)-1;
		a->ports = p;
		a->cap = cap;
	}
	memset(&a->v[a->n], 0, sizeof(a->v[0]));
	memcpy(a->v[a->n].addr, addr, 16);
	return &a->v[a->n++];
}

/* Join with the slices of `key`: fold their identities into *ck and, when
 * `acc` is given, collect their endpoints. */
static int model__from_slices(struct join *j, const char *key, size_t len,
			      const struct snap_service_in *o, struct ep_acc *acc,
			      uint64_t *ck)
{
	bool have_slices = false;

	for (uint32_t v = strmap_first(&j->slices, key, len); v != STRMAP_END;
	     v = strmap_next(&j->slices, v))
		have_slices |= !((const struct k8s_slice *)j->slice_v[v].obj)->from_endpoints;
	/* EndpointSlices are what kube-proxy reads; v1 Endpoints count only
	 * when a service has no slices (hand-written or older manifests). */
	for (uint32_t v = strmap_first(&j->slices, key, len); v != STRMAP_END;
	     v = strmap_next(&j->slices, v)) {
		const struct k8s_slice *sl = j->slice_v[v].obj;
		if (sl->from_endpoints == have_slices)
			continue;
		*ck = model__mix(*ck, j->slice_v[v].id);
		for (size_t e = 0; acc && e < sl->n_endpoints; e++) {
			const struct k8s_endpoint *ke = &sl->endpoints[e];
			struct snap_endpoint_in *out = model__ep_add(acc, ke->addr);
			if (out == (void *)-1)
				return -ENOMEM;
			if (!out)
				continue;
			out->flags = (ke->ready ? LDMESH_EP_F_READY : 0) |
				     (ke->serving ? LDMESH_EP_F_SERVING : 0) |
				     (ke->terminating ? LDMESH_EP_F_TERMINATING : 0);
			out->node = ke->node;
			out->zone = ke->zone;
			out->hostname = ke->hostname;
			out->target = ke->target;
			out->zone_hints = ke->zone_hints;
			for (size_t p = 0; p < o->n_ports; p++)
				acc->ports[(acc->n - 1) * acc->n_ports + p] =
					model__slice_port(sl, &o->ports[p]);
		}
	}
	return 0;
}

static uint16_t model__pod_port(const struct k8s_pod *pod, const struct snap_port_in *sp)
{
	if (!sp->target_port_name || !*sp->target_port_name)
		return sp->target_port;
	/* Named targetPort: each pod resolves it through its own container
	 * ports, so pods of different versions may serve different numbers. */
	for (size_t i = 0; i < pod->n_ports; i++)
		if (pod->ports[i].protocol == sp->protocol &&
		    model__same_port_name(pod->ports[i].name, sp->target_port_name))
			return pod->ports[i].port;
	return 0;
}

static bool model__family_wanted(const struct snap_service_in *o, const uint8_t ip[16])
{
	static const uint8_t v4[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	bool is_v4 = !memcmp(ip, v4, 12);

	/* Headless and selector-only services take every pod IP. */
	if (!o->n_cluster_ips)
		return true;
	for (uint8_t i = 0; i < o->n_cluster_ips; i++)
		if (!memcmp(o->cluster_ips[i], v4, 12) == is_v4)
			return true;
	return false;
}

/* The same for the pods the selector picks. */
static int model__from_pods(struct join *j, const struct k8s_service *s,
			    const struct snap_service_in *o, struct ep_acc *acc,
			    uint64_t *ck)
{
	char key[MODEL_KEY_MAX];
	size_t len = model__selector_key(key, sizeof(key), s);

	if (!len)
		return 0;
	for (uint32_t v = strmap_first(&j->pods, key, len); v != STRMAP_END;
	     v = strmap_next(&j->pods, v)) {
		const struct k8s_pod *pod = j->pod_v[v].obj;
		/* The EndpointSlice controller's rules: terminal pods never;
		 * readiness is the Ready condition alone (whatever the phase
		 * says); terminating pods as not ready, still serving if Ready. */
		bool serving = pod->ready;
		bool ready = s->publish_not_ready || (serving && !pod->meta.deleting);

		if (!selector_matches(&s->selector, &pod->labels) ||
		    pod->phase == K8S_POD_SUCCEEDED || pod->phase == K8S_POD_FAILED)
			continue;
		*ck = model__mix(*ck, j->pod_v[v].id);
		for (size_t i = 0; acc && i < pod->n_ips; i++) {
			struct snap_endpoint_in *out;
			if (!model__family_wanted(o, pod->ips[i]))
				continue;
			out = model__ep_add(acc, pod->ips[i]);
			if (out == (void *)-1)
				return -ENOMEM;
			if (!out)
				continue;
			out->flags = (ready ? LDMESH_EP_F_READY : 0) |
				     (serving ? LDMESH_EP_F_SERVING : 0) |
				     (pod->meta.deleting ? LDMESH_EP_F_TERMINATING : 0);
			out->node = pod->node;
			out->target = pod->meta.name;
			/* kube-dns gives a pod a per-pod name under a headless
			 * service only when spec.subdomain names that service. */
			if (pod->hostname && pod->subdomain &&
			    !strcmp(pod->subdomain, s->meta.name))
				out->hostname = pod->hostname;
			for (size_t p = 0; p < o->n_ports; p++)
				acc->ports[(acc->n - 1) * acc->n_ports + p] =
					model__pod_port(pod, &o->ports[p]);
		}
	}
	return 0;
}

/* Previous results by cache key, for reuse. */
struct prev_map {
	struct model_out *prev;
	uint32_t *slots; /* index + 1 into prev->services; 0 = empty */
	size_t n_slots;
};

static int model__prev_map(struct prev_map *m, struct model_out *prev)
{
	m->prev = prev;
	m->n_slots = 16;
	while (prev && m->n_slots < prev->n_services * 2)
		m->n_slots <<= 1;
	m->slots = calloc(m->n_slots, sizeof(*m->slots));
	if (!m->slots)
		return -ENOMEM;
	for (size_t i = 0; prev && i < prev->n_services; i++) {
		size_t k = (size_t)prev->services[i].cache_key & (m->n_slots - 1);
		while (m->slots[k])
			k = (k + 1) & (m->n_slots - 1);
		m->slots[k] = (uint32_t)(i + 1);
	}
	return 0;
}

/* Move the endpoints of the previous service with `key` into `o`. */
static bool model__reuse(struct prev_map *m, uint64_t key, struct snap_service_in *o)
{
	for (size_t k = (size_t)key & (m->n_slots - 1); m->slots[k];
	     k = (k + 1) & (m->n_slots - 1)) {
		struct snap_service_in *p = &m->prev->services[m->slots[k] - 1];
		if (p->cache_key != key)
			continue;
		o->endpoints = p->endpoints;
		o->n_endpoints = p->n_endpoints;
		p->endpoints = NULL;
		p->n_endpoints = 0;
		p->cache_key = 0; /* taken */
		return true;
	}
	return false;
}

/* The endpoints and their port matrix in one exact allocation: the model
 * keeps every service's for its life, and the accumulator's spare room
 * (eight rows for a service of one endpoint) was most of it. */
static int model__keep_endpoints(const struct ep_acc *acc, struct snap_service_in *o)
{
	size_t rows = acc->n * sizeof(*acc->v);
	struct snap_endpoint_in *v = malloc(rows + acc->n * acc->n_ports * sizeof(*acc->ports) + 1);
	uint16_t *ports = (uint16_t *)((char *)v + rows);

	if (!v)
		return -ENOMEM;
	memcpy(v, acc->v, rows);
	memcpy(ports, acc->ports, acc->n * acc->n_ports * sizeof(*acc->ports));
	for (size_t i = 0; i < acc->n; i++)
		v[i].ports = ports + i * acc->n_ports;
	o->endpoints = v;
	o->n_endpoints = acc->n;
	return 0;
}

int model__endpoints(struct join *j, const struct svc_ref *ref,
			    struct snap_service_in *o, struct prev_map *pm)
{
	const struct k8s_service *s = ref->svc;
	char key[MODEL_KEY_MAX];
	struct ep_acc acc = { .n_ports = o->n_ports };
	size_t len = model__key(key, sizeof(key), s->meta.ns, s->meta.name, NULL);
	bool by_slices = len && strmap_first(&j->slices, key, len) != STRMAP_END;
	uint64_t ck = model__mix(j->opts_key, ref->id);
	int err = 0;

	/* The key covers every input of this service's output: its object,
	 * its addresses, and the objects it is joined with. */
	ck = model__mix(ck, ldmesh_hash64(o->cluster_ips, sizeof(o->cluster_ips),
					  o->n_cluster_ips + ((uint64_t)o->flags << 8)));
	if (s->type != LDMESH_SVC_EXTERNAL_NAME) {
		if (by_slices)
			model__from_slices(j, key, len, o, NULL, &ck);
		else
			model__from_pods(j, s, o, NULL, &ck);
	}
	o->cache_key = ck ? ck : 1;
	if (s->type == LDMESH_SVC_EXTERNAL_NAME || (pm && model__reuse(pm, o->cache_key, o)))
		return 0;
	ck = 0;
	if (by_slices)
		err = model__from_slices(j, key, len, o, &acc, &ck);
	else
		err = model__from_pods(j, s, o, &acc, &ck);
	if (!err && acc.n)
		err = model__keep_endpoints(&acc, o);
	free(acc.v);
	free(acc.ports);
	return err;
}

/*
 * Explicit addresses first, so allocation steps around them. Two Services
 * asking for one address: the first in path order keeps it; the other is
 * left out whole (`lost[i]`), not published without its address, where a
 * client resolving its name would get nothing, or half a dual-stack pair.
 * The warning names both Services and both files.
 */
static int model__explicit(struct join *j, struct svc_ref *refs, size_t n,
			   struct snap_service_in *out, bool *lost,
			   struct ipalloc *alloc, struct strmap *owner,
			   struct model_out *res)
{
	char text[64];
	int err = 0;

	for (size_t i = 0; i < n && !err; i++) {
		const struct k8s_service *s = refs[i].svc;
		for (uint8_t k = 0; k < s->n_cluster_ips && k < LDMESH_MAX_CLUSTER_IPS; k++) {
			uint32_t w = strmap_first(owner, (const char *)s->cluster_ips[k], 16);
			char cidrs[128];

			/* the API server allocates from, and validates against,
			 * its service CIDRs: an address outside them is not a
			 * ClusterIP (192.168.1.1 may be a node on the LAN) */
			if (!ipalloc_cidrs_contain(&j->o->cidrs, s->cluster_ips[k])) {
				model__warn(j->d, refs[i].path, &s->meta,
					    "clusterIP %s of Service %s/%s is outside the service CIDR %s; "
					    "%s/%s is left out",
					    ipalloc_format(s->cluster_ips[k], text, sizeof(text)),
					    s->meta.ns, s->meta.name,
					    ipalloc_format_cidrs(&j->o->cidrs, cidrs, sizeof(cidrs)),
					    s->meta.ns, s->meta.name);
				res->conflicts++;
				lost[i] = true;
				break;
			}
			if (w != STRMAP_END) {
				const struct k8s_service *win = refs[w].svc;
				model__warn(j->d, refs[i].path, &s->meta,
					    "clusterIP %s of Service %s/%s is taken by Service %s/%s (%s); "
					    "%s/%s is left out",
					    ipalloc_format(s->cluster_ips[k], text, sizeof(text)),
					    s->meta.ns, s->meta.name, win->meta.ns, win->meta.name,
					    refs[w].path, s->meta.ns, s->meta.name);
				res->conflicts++;
				lost[i] = true;
				break;
			}
		}
		for (uint8_t k = 0; !lost[i] && k < s->n_cluster_ips && k < LDMESH_MAX_CLUSTER_IPS &&
				    !err; k++) {
			err = ipalloc_reserve(alloc, s->cluster_ips[k]);
			if (!err)
				err = strmap_add(owner, (const char *)s->cluster_ips[k], 16,
						 (uint32_t)i);
			memcpy(out[i].cluster_ips[k], s->cluster_ips[k], 16);
		}
		if (!lost[i])
			out[i].n_cluster_ips = s->n_cluster_ips < LDMESH_MAX_CLUSTER_IPS
						       ? s->n_cluster_ips : LDMESH_MAX_CLUSTER_IPS;
	}
	return err;
}

/*
 * The address a Service was allocated by the previous resolve, if any: an
 * allocated ClusterIP never moves while its Service exists, whatever is
 * added or removed around it.
 */
static const uint8_t *model__previous_ip(const struct model_out *prev, struct strmap *by_name,
					 const struct k8s_service *s)
{
	char key[MODEL_KEY_MAX];
	size_t len;
	uint32_t v;

	if (!prev || !prev->n_allocs)
		return NULL;
	len = model__key(key, sizeof(key), s->meta.ns, s->meta.name, NULL);
	v = len ? strmap_first(by_name, key, len) : STRMAP_END;
	return v == STRMAP_END ? NULL : prev->allocs[v].ip;
}

static int model__prev_index(const struct model_out *prev, struct strmap *by_name)
{
	int err = strmap_init(by_name, prev ? prev->n_allocs : 0);

	for (size_t i = 0; prev && i < prev->n_allocs && !err; i++)
		err = strmap_add(by_name, prev->alloc_keys + prev->allocs[i].key,
				 prev->allocs[i].key_len, (uint32_t)i);
	return err;
}

/* res->allocs: this result's allocations, in memory of its own. */
static int model__record_allocs(struct model_out *res)
{
	size_t n = 0, bytes = 0, off = 0;

	for (size_t i = 0; i < res->n_services; i++)
		if (res->services[i].flags & LDMESH_SVC_F_ALLOCATED_IP) {
			n++;
			bytes += strlen(res->services[i].ns) + strlen(res->services[i].name) + 2;
		}
	res->allocs = calloc(n + 1, sizeof(*res->allocs));
	res->alloc_keys = malloc(bytes + 1);
	if (!res->allocs || !res->alloc_keys)
		return -ENOMEM;
	for (size_t i = 0; i < res->n_services; i++) {
		const struct snap_service_in *s = &res->services[i];
		size_t len;

		if (!(s->flags & LDMESH_SVC_F_ALLOCATED_IP))
			continue;
		len = model__key(res->alloc_keys + off, bytes + 1 - off, s->ns, s->name, NULL);
		res->allocs[res->n_allocs].key = (uint32_t)off;
		res->allocs[res->n_allocs].key_len = (uint32_t)len;
		memcpy(res->allocs[res->n_allocs].ip, s->cluster_ips[0], 16);
		res->n_allocs++;
		off += len + 1;
	}
	return 0;
}

/* Then new Services (order[0..n_order) of refs that have no address
 * yet), oldest first: a collision is settled in favour of the older one
 * on every node. A full CIDR is said and counted; 0 or -errno. */
static int model__assign_new(struct join *j, const struct svc_ref *refs, const size_t *order,
			     size_t n_order, struct snap_service_in *out, struct ipalloc *alloc,
			     struct model_out *res)
{
	int err = 0;

	for (size_t k = 0; k < n_order && !err; k++) {
		size_t i = order[k];
		const struct k8s_service *s = refs[i].svc;

		if (out[i].n_cluster_ips)
			continue;
		err = ipalloc_assign(alloc, s->meta.ns, s->meta.name, out[i].cluster_ips[0]);
		if (err == -ENOSPC) {
			model__warn(j->d, refs[i].path, &s->meta,
				    "service CIDR is full; Service %s/%s gets no ClusterIP",
				    s->meta.ns, s->meta.name);
			res->conflicts++;
			err = 0;
			continue;
		}
		out[i].n_cluster_ips = 1;
		out[i].flags |= LDMESH_SVC_F_ALLOCATED_IP;
	}
	return err;
}

static int model__addresses(struct join *j, struct svc_ref *refs, size_t n,
			    struct snap_service_in *out, bool *lost,
			    const struct model_out *prev, struct model_out *res)
{
	struct strmap owner = { .slots = NULL }, by_name = { .slots = NULL };
	struct ipalloc alloc;
	size_t *order = NULL, n_order = 0;
	char text[64];
	int err = ipalloc_init(&alloc, &j->o->cidrs.v[0]);

	if (err)
		return err;
	if ((err = strmap_init(&owner, n)) ||
	    (err = model__explicit(j, refs, n, out, lost, &alloc, &owner, res)) ||
	    (err = model__prev_index(prev, &by_name)))
		goto out;
	order = calloc(n + 1, sizeof(*order));
	if (!order) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct k8s_service *s = refs[i].svc;
		if (!lost[i] && model__needs_address(s))
			order[n_order++] = i;
	}
	model__sort_refs = refs;
	qsort(order, n_order, sizeof(*order), model__cmp_index);
	/* First every Service keeps the address it had, in allocation order
	 * (an explicit address may have claimed it meanwhile: say whose). */
	for (size_t k = 0; k < n_order && !err; k++) {
		size_t i = order[k];
		const struct k8s_service *s = refs[i].svc;
		const uint8_t *had = model__previous_ip(prev, &by_name, s);

		if (!had || !ipalloc_contains(&j->o->cidrs.v[0], had))
			continue;
		err = ipalloc_reserve(&alloc, had);
		if (err == -EEXIST) {
			uint32_t w = strmap_first(&owner, (const char *)had, 16);
			model__warn(j->d, refs[i].path, &s->meta,
				    "Service %s/%s loses its ClusterIP %s to Service %s/%s (%s); "
				    "it gets another",
				    s->meta.ns, s->meta.name, ipalloc_format(had, text, sizeof(text)),
				    w == STRMAP_END ? "?" : refs[w].svc->meta.ns,
				    w == STRMAP_END ? "?" : refs[w].svc->meta.name,
				    w == STRMAP_END ? "?" : refs[w].path);
			err = 0;
			continue;
		}
		if (err)
			break;
		memcpy(out[i].cluster_ips[0], had, 16);
		out[i].n_cluster_ips = 1;
		out[i].flags |= LDMESH_SVC_F_ALLOCATED_IP;
	}
	if (!err)
		err = model__assign_new(j, refs, order, n_order, out, &alloc, res);
out:
	free(order);
	strmap_free(&owner);
	strmap_free(&by_name);
	ipalloc_free(&alloc);
	return err;
}

const char *model__zone(const struct model_source *src, size_t n, const struct model_opts *o)
{
	if (o->zone && *o->zone)
		return o->zone;
	for (size_t f = 0; o->node_name && f < n; f++)
		for (size_t i = 0; i < src[f].set->n_nodes; i++)
			if (!strcmp(src[f].set->nodes[i].meta.name, o->node_name))
				return src[f].set->nodes[i].zone;
	return NULL;
}

size_t model__selector_key(char *key, size_t cap, const struct k8s_service *s)
{
	if (!s->has_selector || !s->selector.n)
		return 0;
	return model__key(key, cap, s->meta.ns, s->selector.v[0].key, s->selector.v[0].value);
}

uint32_t model__index_of(const struct model_state *st, const struct k8s_service *s)
{
	char key[MODEL_KEY_MAX];
	size_t len = model__key(key, sizeof(key), s->meta.ns, s->meta.name, NULL);

	return len ? strmap_first(&st->by_name, key, len) : STRMAP_END;
}

int model__index_service(struct model_out *m, uint32_t i, bool add)
{
	struct model_state *st = m->state;
	const struct k8s_service *s = st->refs[i].svc;
	const struct snap_service_in *o = &m->services[i];
	char key[MODEL_KEY_MAX];
	size_t len;
	int err = 0;

	if ((len = model__key(key, sizeof(key), s->meta.ns, s->meta.name, NULL)))
		err = add ? strmap_add(&st->by_name, key, len, i)
			  : strmap_unlink(&st->by_name, key, len, i);
	if (!err && (len = model__selector_key(key, sizeof(key), s)))
		err = add ? strmap_add(&st->by_selector, key, len, i)
			  : strmap_unlink(&st->by_selector, key, len, i);
	/* the addresses the model gave it: an allocated one is not in the
	 * object */
	for (uint8_t a = 0; !err && a < o->n_cluster_ips && a < LDMESH_MAX_CLUSTER_IPS; a++)
		err = add ? strmap_add(&st->by_ip, (const char *)o->cluster_ips[a], 16, i)
			  : strmap_unlink(&st->by_ip, (const char *)o->cluster_ips[a], 16, i);
	return err == -ENOENT ? 0 : err;
}

/* Hand the join indexes over to the result (emptying `j`) with what an
 * edit needs to find the services it touches. */
static int model__keep_state(struct model_out *res, struct join *j, const struct svc_ref *refs)
{
	struct model_state *st = calloc(1, sizeof(*st));
	size_t n = res->n_services;
	int err = -ENOMEM;

	if (!st)
		return err;
	st->refs = malloc((n + 1) * sizeof(*st->refs));
	st->own_ports = calloc(n + 1, sizeof(*st->own_ports));
	st->dirty = calloc(n + 1, sizeof(*st->dirty));
	st->dirty_list = malloc((n + 1) * sizeof(*st->dirty_list));
	size_t n_selectors = 0;
	for (size_t i = 0; i < n; i++)
		n_selectors += refs[i].svc->has_selector && refs[i].svc->selector.n;
	if (!st->refs || !st->own_ports || !st->dirty || !st->dirty_list ||
	    (err = strmap_init(&st->by_name, n)) ||
	    (err = strmap_init(&st->by_selector, n_selectors)) ||
	    (err = strmap_init(&st->by_ip, n)))
		goto fail;
	st->cap_services = n + 1;
	memcpy(st->refs, refs, n * sizeof(*refs));
	res->state = st;
	for (size_t i = 0; i < n && !err; i++)
		err = model__index_service(res, (uint32_t)i, true);
	if (err)
		goto fail;
	st->j = *j;
	st->j.src = NULL;
	st->j.o = NULL;
	st->j.d = NULL;
	memset(j, 0, sizeof(*j));
	return 0;
fail:
	res->state = NULL;
	model_state_free(st);
	return err;
}

/*
 * Every Service of the sources once: one defined twice keeps its first
 * definition in path order, the others are said and counted in
 * *conflicts. Into *out (caller-owned, free; allocated even on failure,
 * or NULL) *n_unique of them. 0 or -ENOMEM.
 */
static int model__unique(const struct model_source *src, size_t n, struct diag *d,
			 struct svc_ref **out, size_t *n_unique, unsigned *conflicts)
{
	struct strmap seen = { .slots = NULL };
	char key[MODEL_KEY_MAX];
	struct svc_ref *refs;
	size_t n_refs = 0;
	int err;

	for (size_t f = 0; f < n; f++)
		n_refs += src[f].set->n_services;
	refs = *out = calloc(n_refs + 1, sizeof(*refs));
	if (!refs)
		return -ENOMEM;
	n_refs = 0;
	for (size_t f = 0; f < n; f++)
		for (size_t s = 0; s < src[f].set->n_services; s++, n_refs++)
			refs[n_refs] = (struct svc_ref){ &src[f].set->services[s], src[f].path,
							model__id(src[f].load_id, s) };
	if ((err = strmap_init(&seen, n_refs)))
		goto out;
	for (size_t i = 0; i < n_refs; i++) {
		const struct k8s_meta *m = &refs[i].svc->meta;
		size_t len = model__key(key, sizeof(key), m->ns, m->name, NULL);
		uint32_t first = strmap_first(&seen, key, len);
		if (first != STRMAP_END) {
			model__warn(d, refs[i].path, m,
				    "Service %s/%s is also defined in %s; using that one",
				    m->ns, m->name, refs[first].path);
			(*conflicts)++;
			continue;
		}
		if ((err = strmap_add(&seen, key, len, (uint32_t)*n_unique)))
			goto out;
		refs[(*n_unique)++] = refs[i];
	}
out:
	strmap_free(&seen);
	return err;
}

/* Each service's flags and ports, the ports of all in one array
 * (res->ports, owned by res). 0 or -ENOMEM. */
static int model__services_ports(struct model_out *res, const struct svc_ref *refs)
{
	size_t n_ports = 0;

	for (size_t i = 0; i < res->n_services; i++)
		n_ports += refs[i].svc->n_ports;
	res->ports = calloc(n_ports + 1, sizeof(*res->ports));
	if (!res->ports)
		return -ENOMEM;
	n_ports = 0;
	for (size_t i = 0; i < res->n_services; i++) {
		model__flags_from_service(refs[i].svc, &res->services[i]);
		model__ports(refs[i].svc, &res->services[i], res->ports + n_ports);
		n_ports += refs[i].svc->n_ports;
	}
	return 0;
}

int model_resolve(const struct model_source *src, size_t n,
		  const struct model_opts *o, struct model_out *prev,
		  struct model_out *out, struct diag *d)
{
	const char *zone;
	struct join j = { .src = src, .n_src = n, .o = o, .d = d };
	struct model_out res = { .services = NULL };
	struct prev_map pm = { .slots = NULL };
	struct svc_ref *refs = NULL;
	bool *lost = NULL;
	size_t n_unique = 0;
	int err = model__unique(src, n, d, &refs, &n_unique, &res.conflicts);

	if (err)
		goto out;
	err = -ENOMEM;
	res.services = calloc(n_unique + 1, sizeof(*res.services));
	if (!res.services || (err = model__index(&j)))
		goto out;
	res.n_services = n_unique;
	if ((err = model__services_ports(&res, refs)))
		goto out;
	lost = calloc(n_unique + 1, sizeof(*lost));
	if (!lost) {
		err = -ENOMEM;
		goto out;
	}
	if ((err = model__addresses(&j, refs, n_unique, res.services, lost, prev, &res)))
		goto out;
	/* Services that lost an address clash are not published at all. */
	size_t kept = 0;
	for (size_t i = 0; i < n_unique; i++) {
		if (lost[i])
			continue;
		refs[kept] = refs[i];
		res.services[kept++] = res.services[i];
	}
	n_unique = res.n_services = kept;
	/* Everything a block depends on besides the service's own inputs. */
	zone = model__zone(src, n, o);
	j.opts_key = ldmesh_hash64(o->cluster_domain, strlen(o->cluster_domain),
				   o->node_name ? ldmesh_hash64(o->node_name, strlen(o->node_name), 1) : 0);
	j.opts_key = model__mix(j.opts_key, zone ? ldmesh_hash64(zone, strlen(zone), 2) : 0);
	if ((err = model__prev_map(&pm, prev)))
		goto out;
	for (size_t i = 0; i < n_unique; i++)
		if ((err = model__endpoints(&j, &refs[i], &res.services[i], &pm)))
			goto out;

	if ((err = model__record_allocs(&res)))
		goto out;
	res.in = (struct snap_input){
		.cluster_domain = o->cluster_domain,
		.node_name = o->node_name,
		.node_zone = zone,
		.service_cidr_prefix = o->cidrs.v[0].prefix,
		.services = res.services,
		.n_services = res.n_services,
	};
	memcpy(res.in.service_cidr, o->cidrs.v[0].base, 16);
	if ((err = model__keep_state(&res, &j, refs)) ||
	    (err = model__routes(src, n, o->cluster_domain, &res, d)))
		goto out;
	*out = res;
	res.services = NULL;
	err = 0;
out:
	if (err)
		model_out_free(&res);
	free(refs);
	free(lost);
	free(pm.slots);
	free(j.slice_v);
	free(j.pod_v);
	strmap_free(&j.slices);
	strmap_free(&j.pods);
	return err;
}

void model__free_endpoints(struct snap_service_in *s)
{
	/* the port matrix lives in the same allocation */
	free((void *)s->endpoints);
	s->endpoints = NULL;
	s->n_endpoints = 0;
}

void model_state_free(struct model_state *st)
{
	if (!st)
		return;
	free(st->j.slice_v);
	free(st->j.pod_v);
	strmap_free(&st->j.slices);
	strmap_free(&st->j.pods);
	free(st->refs);
	strmap_free(&st->by_name);
	strmap_free(&st->by_selector);
	strmap_free(&st->by_ip);
	free(st->own_ports);
	free(st->changes);
	free(st->dirty);
	free(st->dirty_list);
	free(st);
}

void model_out_free(struct model_out *out)
{
	if (!out)
		return;
	for (size_t i = 0; out->services && i < out->n_services; i++) {
		model__free_endpoints(&out->services[i]);
		if (out->state)
			free(out->state->own_ports[i]);
	}
	model_state_free(out->state);
	free(out->services);
	free(out->ports);
	free(out->allocs);
	free(out->alloc_keys);
	free(out->splits);
	free(out->route_notes);
	memset(out, 0, sizeof(*out));
}
