/* SPDX-License-Identifier: MIT */
/*
 * A parsed set moved into one allocation. The parser builds a set out of
 * a few dozen small allocations per object (every name, label and array);
 * the agent keeps every file's set for its life, and at 100,000 files the
 * allocator's headers and the arrays' spare capacity were most of its
 * memory (1.8 KB for a Service and its EndpointSlice). Packed, a set is
 * the bytes it says and nothing else, and frees in one call.
 *
 * One walk serves both passes: measuring (no destination: the offsets are
 * counted, nothing is written) and copying. Each record is rewritten in a
 * local copy and stored whole, so the measuring pass never needs memory to
 * write into.
 *
 * Records come first, each array at its own type's alignment, then every
 * string (byte-aligned), so no string costs a record padding. A kept set
 * (manifest_load_kept_fd) starts with the set itself, and its strings with
 * the path it stands for: one file, one allocation.
 */
#include "manifest_priv.h"

#include <errno.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

struct packer {
	char *base;    /* NULL while measuring */
	size_t off;    /* records: from base */
	char *strings; /* where the strings start (once measured) */
	size_t str;    /* strings: from `strings` */
};

static void *pk_bytes(struct packer *p, const void *src, size_t n, size_t align)
{
	void *dst;

	if (!src)
		return NULL;
	p->off = (p->off + align - 1) & ~(align - 1);
	dst = p->base ? p->base + p->off : NULL;
	if (dst && n)
		memcpy(dst, src, n);
	p->off += n;
	return dst;
}

static char *pk_str(struct packer *p, const char *s)
{
	size_t n;
	char *dst;

	if (!s)
		return NULL;
	n = strlen(s) + 1;
	dst = p->base ? p->strings + p->str : NULL;
	if (dst)
		memcpy(dst, s, n);
	p->str += n;
	return dst;
}

/* Room for the `n` records of `src` (written later with pk_put). */
#define pk_array(p, src, n) \
	((n) ? pk_bytes((p), (src), (n) * sizeof(*(src)), alignof(__typeof__(*(src)))) : NULL)

/* `rec` is evaluated in both passes: measuring counts what it packs. */
#define pk_put(arr, i, rec)                 \
	do {                                \
		__typeof__(rec) pk_rec_ = (rec); \
		if (arr)                    \
			(arr)[i] = pk_rec_; \
	} while (0)

static struct k8s_labels pk_labels(struct packer *p, const struct k8s_labels *l)
{
	struct k8s_labels out = { .v = pk_array(p, l->v, l->n), .n = l->n };

	for (size_t i = 0; i < l->n; i++) {
		struct k8s_label r = { pk_str(p, l->v[i].key), pk_str(p, l->v[i].value) };
		pk_put(out.v, i, r);
	}
	return out;
}

static struct k8s_meta pk_meta(struct packer *p, const struct k8s_meta *m)
{
	struct k8s_meta r = *m;

	r.ns = pk_str(p, m->ns);
	r.name = pk_str(p, m->name);
	return r;
}

static struct k8s_service pk_service(struct packer *p, const struct k8s_service *s)
{
	struct k8s_service r = *s;

	r.meta = pk_meta(p, &s->meta);
	r.selector = pk_labels(p, &s->selector);
	r.ports = pk_array(p, s->ports, s->n_ports);
	for (size_t i = 0; i < s->n_ports; i++) {
		struct k8s_service_port sp = s->ports[i];
		sp.name = pk_str(p, sp.name);
		sp.target_port_name = pk_str(p, sp.target_port_name);
		sp.app_protocol = pk_str(p, sp.app_protocol);
		pk_put(r.ports, i, sp);
	}
	r.external_name = pk_str(p, s->external_name);
	r.external_ips = pk_array(p, s->external_ips, s->n_external_ips);
	r.lb_ips = pk_array(p, s->lb_ips, s->n_lb_ips);
	return r;
}

static struct k8s_slice pk_slice(struct packer *p, const struct k8s_slice *s)
{
	struct k8s_slice r = *s;

	r.meta = pk_meta(p, &s->meta);
	r.service = pk_str(p, s->service);
	r.endpoints = pk_array(p, s->endpoints, s->n_endpoints);
	for (size_t i = 0; i < s->n_endpoints; i++) {
		struct k8s_endpoint e = s->endpoints[i];
		e.node = pk_str(p, e.node);
		e.zone = pk_str(p, e.zone);
		e.hostname = pk_str(p, e.hostname);
		e.target = pk_str(p, e.target);
		e.zone_hints = pk_str(p, e.zone_hints);
		pk_put(r.endpoints, i, e);
	}
	r.ports = pk_array(p, s->ports, s->n_ports);
	for (size_t i = 0; i < s->n_ports; i++) {
		struct k8s_ep_port ep = s->ports[i];
		ep.name = pk_str(p, ep.name);
		pk_put(r.ports, i, ep);
	}
	return r;
}

static struct k8s_pod pk_pod(struct packer *p, const struct k8s_pod *s)
{
	struct k8s_pod r = *s;

	r.meta = pk_meta(p, &s->meta);
	r.labels = pk_labels(p, &s->labels);
	r.ips = pk_array(p, s->ips, s->n_ips);
	r.node = pk_str(p, s->node);
	r.hostname = pk_str(p, s->hostname);
	r.subdomain = pk_str(p, s->subdomain);
	r.ports = pk_array(p, s->ports, s->n_ports);
	for (size_t i = 0; i < s->n_ports; i++) {
		struct k8s_container_port cp = s->ports[i];
		cp.name = pk_str(p, cp.name);
		pk_put(r.ports, i, cp);
	}
	return r;
}

static struct k8s_node pk_node(struct packer *p, const struct k8s_node *s)
{
	struct k8s_node r = *s;

	r.meta = pk_meta(p, &s->meta);
	r.zone = pk_str(p, s->zone);
	return r;
}

static struct k8s_tcproute pk_route(struct packer *p, const struct k8s_tcproute *s)
{
	struct k8s_tcproute r = *s;

	r.meta = pk_meta(p, &s->meta);
	r.parents = pk_array(p, s->parents, s->n_parents);
	for (size_t i = 0; i < s->n_parents; i++) {
		struct k8s_parent_ref pr = s->parents[i];
		pr.ns = pk_str(p, pr.ns);
		pr.name = pk_str(p, pr.name);
		pk_put(r.parents, i, pr);
	}
	r.refs = pk_array(p, s->refs, s->n_refs);
	for (size_t i = 0; i < s->n_refs; i++) {
		struct k8s_backend_ref br = s->refs[i];
		br.ns = pk_str(p, br.ns);
		br.name = pk_str(p, br.name);
		pk_put(r.refs, i, br);
	}
	return r;
}

static struct manifest_set pk_set(struct packer *p, const struct manifest_set *s)
{
	struct manifest_set r = *s;

	r.services = pk_array(p, s->services, s->n_services);
	for (size_t i = 0; i < s->n_services; i++)
		pk_put(r.services, i, pk_service(p, &s->services[i]));
	r.slices = pk_array(p, s->slices, s->n_slices);
	for (size_t i = 0; i < s->n_slices; i++)
		pk_put(r.slices, i, pk_slice(p, &s->slices[i]));
	r.pods = pk_array(p, s->pods, s->n_pods);
	for (size_t i = 0; i < s->n_pods; i++)
		pk_put(r.pods, i, pk_pod(p, &s->pods[i]));
	r.nodes = pk_array(p, s->nodes, s->n_nodes);
	for (size_t i = 0; i < s->n_nodes; i++)
		pk_put(r.nodes, i, pk_node(p, &s->nodes[i]));
	r.routes = pk_array(p, s->routes, s->n_routes);
	for (size_t i = 0; i < s->n_routes; i++)
		pk_put(r.routes, i, pk_route(p, &s->routes[i]));
	return r;
}

/* Both passes over `set`; with `path`, the set itself and a copy of the
 * path come first. Returns the allocation, NULL when out of memory. */
static void *pk_run(const struct manifest_set *set, const char *path, struct manifest_set *out,
		    const char **kept_path)
{
	struct packer p = { .base = NULL };
	size_t head = path ? sizeof(*set) : 0, records;

	p.off = head;
	pk_str(&p, path);
	pk_set(&p, set);
	records = p.off;
	if (!(p.base = malloc(records + p.str ? records + p.str : 1)))
		return NULL;
	p.strings = p.base + records;
	p.off = head;
	p.str = 0;
	*kept_path = pk_str(&p, path);
	*out = pk_set(&p, set);
	out->packed = true;
	if (path)
		memcpy(p.base, out, sizeof(*out));
	return p.base;
}

int mf_pack(const struct manifest_set *set, struct manifest_set *out)
{
	const char *none;
	void *base = pk_run(set, NULL, out, &none);

	if (!base)
		return -ENOMEM;
	/* Without a head, the records (so the allocation) start with the
	 * first array that is not NULL; manifest_set_free finds it there. A
	 * set with no objects has no strings either: nothing to keep. */
	if (!out->services && !out->slices && !out->pods && !out->nodes && !out->routes)
		free(base);
	return 0;
}

const struct manifest_set *mf_pack_kept(const struct manifest_set *set, const char *path,
					const char **kept_path)
{
	struct manifest_set r;

	return pk_run(set, path, &r, kept_path);
}
