/* SPDX-License-Identifier: MIT */
/*
 * A restarted agent's cache rebuilt over the base on disk (snap_build.h,
 * snap_cache_restore), so its first publish is a delta over the base
 * readers have mapped, not a new base.
 *
 * The shadows the cache keeps hold the content hash of each service's
 * block, made in this process's shared string pool: the file cannot give
 * them. So the model is built as a base here (in memory, never written),
 * and each of the file's services is compared with the model's service of
 * the same namespace/name by what a reader sees of it (every field of its
 * records, its strings by content, its endpoint-port cells and affinity
 * table, and the VIP and name keys the indexes give it). A service the
 * same in both keeps the model's shadow: edits compare with it as with
 * any base's. Any other is shadowed from the file (its keys as the file's
 * indexes hold them, no key, no content): a delta supersedes it, so what
 * readers see of it comes from the delta. The base index of each shadow is
 * the file's, which the delta's SUPERSEDED entries name.
 */
#include "snap_build.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ldmesh/hash.h"
#include "ldmesh/reader.h"
#include "snap_cache.h"

/* What the indexes give each service of one snapshot: per service the
 * count and an order-free sum of its VIP and name keys, and (CSR) the
 * slots themselves. */
struct restore_keys {
	uint32_t *n_vips, *n_names;   /* per service */
	uint64_t *sum;                /* per service: keys hashed, summed */
	uint32_t *vip_at, *name_at;   /* per service + 1: first of its slots */
	uint32_t *vip_slot, *name_slot; /* slot indexes, by service */
};

static void restore__keys_free(struct restore_keys *k)
{
	free(k->n_vips);
	free(k->n_names);
	free(k->sum);
	free(k->vip_at);
	free(k->name_at);
	free(k->vip_slot);
	free(k->name_slot);
}

static uint64_t restore__str(const struct ldmesh_snap *s, ldmesh_str_t ref, uint64_t h)
{
	struct ldmesh_strv v = ldmesh_snap_string(s, ref);

	h = ldmesh_hash64(&v.len, 1, h);
	return ldmesh_hash64(v.p, v.len, h);
}

#define restore__mix(h, field) ldmesh_hash64(&(field), sizeof(field), (h))

/* A name slot's key: its hash, FQDN and endpoint within its service; false
 * when the slot names an endpoint outside the service. */
static bool restore__name_key(const struct ldmesh_snap *s, const struct ldmesh_name_slot *n,
			      uint64_t *key)
{
	struct ldmesh_service svc;
	uint32_t ep = LDMESH_NONE;

	if (!ldmesh_snap_service(s, n->service, &svc))
		return false;
	if (n->endpoint != LDMESH_NONE) {
		if (n->endpoint < svc.first_endpoint ||
		    n->endpoint - svc.first_endpoint >= svc.endpoint_count)
			return false;
		ep = n->endpoint - svc.first_endpoint;
	}
	*key = restore__mix(restore__str(s, n->fqdn, restore__mix(1, n->hash)), ep);
	return true;
}

static uint64_t restore__vip_key(const struct ldmesh_vip_slot *v)
{
	uint64_t h = ldmesh_hash64(v->addr, 16, 2);

	h = restore__mix(h, v->port);
	h = restore__mix(h, v->protocol);
	h = restore__mix(h, v->kind);
	return restore__mix(h, v->port_index);
}

/* Fill `k` for the base `s`: -EINVAL when a slot names no service of it
 * (or a shadow: not a base), -ENOMEM. */
static int restore__keys(const struct ldmesh_snap *s, struct restore_keys *k)
{
	uint32_t n = s->n_services;

	k->n_vips = calloc(n + 1, sizeof(*k->n_vips));
	k->n_names = calloc(n + 1, sizeof(*k->n_names));
	k->sum = calloc(n + 1, sizeof(*k->sum));
	k->vip_at = calloc(n + 2, sizeof(*k->vip_at));
	k->name_at = calloc(n + 2, sizeof(*k->name_at));
	k->vip_slot = malloc((s->vip_slots + 1) * sizeof(*k->vip_slot));
	k->name_slot = malloc((s->name_slots + 1) * sizeof(*k->name_slot));
	if (!k->n_vips || !k->n_names || !k->sum || !k->vip_at || !k->name_at || !k->vip_slot ||
	    !k->name_slot)
		return -ENOMEM;
	for (uint32_t i = 0; i < s->vip_slots; i++) {
		const struct ldmesh_vip_slot *v = &s->vip[i];

		if (v->service == LDMESH_NONE)
			continue;
		if (v->service >= n)
			return -EINVAL;
		k->n_vips[v->service]++;
		k->sum[v->service] += restore__vip_key(v);
	}
	for (uint32_t i = 0; i < s->name_slots; i++) {
		const struct ldmesh_name_slot *nm = &s->names[i];
		uint64_t key;

		if (nm->service == LDMESH_NONE)
			continue;
		if (nm->service >= n || !restore__name_key(s, nm, &key))
			return -EINVAL;
		k->n_names[nm->service]++;
		k->sum[nm->service] += key * 3 + 1; /* apart from the VIP keys' */
	}
	for (uint32_t i = 0; i < n; i++) {
		k->vip_at[i + 1] = k->vip_at[i] + k->n_vips[i];
		k->name_at[i + 1] = k->name_at[i] + k->n_names[i];
	}
	/* fill back to front, each service's slots in index order */
	for (uint32_t i = s->vip_slots; i-- > 0;)
		if (s->vip[i].service != LDMESH_NONE)
			k->vip_slot[k->vip_at[s->vip[i].service] + --k->n_vips[s->vip[i].service]] = i;
	for (uint32_t i = s->name_slots; i-- > 0;)
		if (s->names[i].service != LDMESH_NONE)
			k->name_slot[k->name_at[s->names[i].service] +
				     --k->n_names[s->names[i].service]] = i;
	for (uint32_t i = 0; i < n; i++) {
		k->n_vips[i] = k->vip_at[i + 1] - k->vip_at[i];
		k->n_names[i] = k->name_at[i + 1] - k->name_at[i];
	}
	return 0;
}

static uint64_t restore__port(const struct ldmesh_snap *s, const struct ldmesh_port *p,
			      uint64_t h)
{
	h = restore__str(s, p->name, h);
	h = restore__str(s, p->target_port_name, h);
	h = restore__str(s, p->app_protocol, h);
	h = restore__mix(h, p->port);
	h = restore__mix(h, p->target_port);
	h = restore__mix(h, p->node_port);
	h = restore__mix(h, p->protocol);
	return restore__mix(h, p->reserved);
}

static uint64_t restore__endpoint(const struct ldmesh_snap *s, const struct ldmesh_endpoint *e,
				  uint64_t h)
{
	h = ldmesh_hash64(e->addr, 16, h);
	h = restore__str(s, e->node, h);
	h = restore__str(s, e->zone, h);
	h = restore__str(s, e->hostname, h);
	h = restore__str(s, e->target, h);
	h = restore__str(s, e->zone_hints, h);
	return restore__mix(h, e->flags);
}

/* The service record's own fields, its strings by content. */
static uint64_t restore__service(const struct ldmesh_snap *s, const struct ldmesh_service *v)
{
	uint64_t h = restore__str(s, v->ns, 3);

	h = restore__str(s, v->name, h);
	h = restore__str(s, v->external_name, h);
	h = restore__mix(h, v->type);
	h = restore__mix(h, v->ip_count);
	h = restore__mix(h, v->flags);
	h = restore__mix(h, v->affinity_timeout_s);
	h = ldmesh_hash64(v->cluster_ips, sizeof(v->cluster_ips), h);
	h = restore__mix(h, v->port_count);
	h = restore__mix(h, v->endpoint_count);
	h = restore__mix(h, v->ready_count);
	h = restore__mix(h, v->fallback_count);
	h = restore__mix(h, v->affinity_size);
	return restore__mix(h, v->split_count);
}

/* A traffic split (3.5), its target by content. */
static uint64_t restore__split(const struct ldmesh_snap *s, const struct ldmesh_split *sp,
			       uint64_t h)
{
	h = restore__str(s, sp->target, h);
	h = restore__mix(h, sp->weight);
	h = restore__mix(h, sp->port);
	h = restore__mix(h, sp->parent_port);
	return restore__mix(h, sp->reserved);
}

/* What a reader sees of service `i` of the base `s`, hashed: false when a
 * record or cell lies outside its section. */
static bool restore__digest(const struct ldmesh_snap *s, const struct restore_keys *k, uint32_t i,
			    uint64_t *out)
{
	struct ldmesh_service v;
	uint64_t h;

	if (!ldmesh_snap_service(s, i, &v))
		return false;
	h = restore__service(s, &v);
	for (uint32_t p = 0; p < v.port_count; p++) {
		struct ldmesh_port port;

		if (!ldmesh_snap_port(s, v.first_port + p, &port))
			return false;
		h = restore__port(s, &port, h);
	}
	for (uint32_t e = 0; e < v.endpoint_count; e++) {
		struct ldmesh_endpoint ep;

		if (!ldmesh_snap_endpoint(s, v.first_endpoint + e, &ep))
			return false;
		h = restore__endpoint(s, &ep, h);
	}
	for (uint32_t j = 0; j < v.split_count; j++) {
		struct ldmesh_split sp;

		if (!ldmesh_snap_split(s, &v, j, &sp))
			return false;
		h = restore__split(s, &sp, h);
	}
	if ((uint64_t)v.first_endpoint_port + (uint64_t)v.endpoint_count * v.port_count >
		    s->n_endpoint_ports ||
	    (v.affinity_size && (uint64_t)v.affinity_offset + v.affinity_size > s->n_affinity))
		return false;
	h = ldmesh_hash64(s->endpoint_ports + v.first_endpoint_port,
			  (size_t)v.endpoint_count * v.port_count * sizeof(uint16_t), h);
	if (v.affinity_size)
		h = ldmesh_hash64(s->affinity + v.affinity_offset,
				  (size_t)v.affinity_size * sizeof(uint32_t), h);
	h = restore__mix(h, k->n_vips[i]);
	h = restore__mix(h, k->n_names[i]);
	*out = restore__mix(h, k->sum[i]);
	return true;
}

/* Bytes of a shadow the cache holds (snap_shadow_write's layout). */
static size_t restore__shadow_size(const struct snap_shadow *sh)
{
	size_t size = sizeof(*sh) + sh->n_vips * sizeof(struct snap_vip_key) +
		      sh->n_names * sizeof(struct snap_name_key);
	uint8_t len;

	snap_shadow_ns(sh, &len);
	size += len + 2u;
	snap_shadow_name(sh, &len);
	size += len + 2u;
	for (uint32_t n = 0; n < sh->n_names; n++) {
		snap_shadow_str(sh, snap_shadow_names(sh)[n].fqdn, &len);
		size += len + 2u;
	}
	return (size + 7) & ~(size_t)7;
}

/* Bytes of the shadow of the file's service `i` (restore__disk_shadow). */
static size_t restore__disk_size(const struct ldmesh_snap *s, const struct restore_keys *k,
				 uint32_t i, const struct ldmesh_service *v)
{
	size_t size = sizeof(struct snap_shadow) + k->n_vips[i] * sizeof(struct snap_vip_key) +
		      k->n_names[i] * sizeof(struct snap_name_key);

	size += ldmesh_snap_string(s, v->ns).len + 2u + ldmesh_snap_string(s, v->name).len + 2u;
	for (uint32_t n = 0; n < k->n_names[i]; n++)
		size += ldmesh_snap_string(s, s->names[k->name_slot[k->name_at[i] + n]].fqdn).len +
			2u;
	return (size + 7) & ~(size_t)7;
}

static ldmesh_str_t restore__put(const struct ldmesh_snap *s, ldmesh_str_t ref, char *strings,
				 uint32_t *len)
{
	struct ldmesh_strv v = ldmesh_snap_string(s, ref);
	ldmesh_str_t at = SNAP_BLOCK_LOCAL | *len;

	*len += (uint32_t)snap_local_put(strings + *len, v.p, v.len);
	return at;
}

/* The shadow of the file's service `i` at `out`: its keys as the file's
 * indexes hold them, and no key or content an edit could match. */
static void restore__disk_shadow(const struct ldmesh_snap *s, const struct restore_keys *k,
				 uint32_t i, const struct ldmesh_service *v, struct snap_shadow *out)
{
	struct snap_vip_key *vips = (struct snap_vip_key *)out->data;
	struct snap_name_key *names = (struct snap_name_key *)(vips + k->n_vips[i]);
	char *strings = (char *)(names + k->n_names[i]);
	uint32_t len = 0;

	*out = (struct snap_shadow){ .n_vips = k->n_vips[i], .n_names = k->n_names[i] };
	for (uint32_t n = 0; n < k->n_vips[i]; n++) {
		const struct ldmesh_vip_slot *slot = &s->vip[k->vip_slot[k->vip_at[i] + n]];

		vips[n] = (struct snap_vip_key){ .port = slot->port, .protocol = slot->protocol,
						 .kind = slot->kind, .port_index = slot->port_index };
		memcpy(vips[n].addr, slot->addr, 16);
	}
	restore__put(s, v->ns, strings, &len);
	restore__put(s, v->name, strings, &len);
	for (uint32_t n = 0; n < k->n_names[i]; n++) {
		const struct ldmesh_name_slot *slot = &s->names[k->name_slot[k->name_at[i] + n]];

		names[n] = (struct snap_name_key){
			.hash = slot->hash,
			.endpoint = slot->endpoint == LDMESH_NONE ? LDMESH_NONE
								  : slot->endpoint - v->first_endpoint,
		};
		names[n].fqdn = restore__put(s, slot->fqdn, strings, &len);
	}
}

/* The model's base index of the file's service `i` when both say the
 * same of it, else LDMESH_NONE. */
static uint32_t restore__same(const struct snap_cache *c, const struct ldmesh_snap *disk,
			      const struct restore_keys *dk, const struct ldmesh_snap *model,
			      const struct restore_keys *mk, uint32_t i,
			      const struct ldmesh_service *v)
{
	struct ldmesh_strv ns = ldmesh_snap_string(disk, v->ns), name = ldmesh_snap_string(disk, v->name);
	uint32_t j = snap_cache_base_find(c, ns.p, ns.len, name.p, name.len,
					  snap_cache_name_hash(ns.p, ns.len, name.p, name.len));
	uint64_t a, b;

	if (j == LDMESH_NONE || j >= model->n_services || !restore__digest(disk, dk, i, &a) ||
	    !restore__digest(model, mk, j, &b))
		return LDMESH_NONE;
	return a == b ? j : LDMESH_NONE;
}

static bool restore__same_str(const struct ldmesh_snap *s, ldmesh_str_t ref, const char *want)
{
	struct ldmesh_strv v = ldmesh_snap_string(s, ref);

	want = want ? want : "";
	return strlen(want) == v.len && !memcmp(want, v.p, v.len);
}

/* The shadows of the file's services in one buffer, by the file's index. */
static int restore__shadows(struct snap_cache *c, const struct ldmesh_snap *disk,
			    const struct restore_keys *dk, const struct ldmesh_snap *model,
			    const struct restore_keys *mk, size_t *kept)
{
	uint32_t n = disk->n_services, *same = malloc((n + 1) * sizeof(*same));
	uint32_t *offs = malloc((n + 1) * sizeof(*offs));
	size_t size = 0;
	char *buf = NULL;

	if (!same || !offs)
		goto nomem;
	*kept = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct ldmesh_service v;

		if (!ldmesh_snap_service(disk, i, &v))
			goto bad;
		same[i] = restore__same(c, disk, dk, model, mk, i, &v);
		if (size > UINT32_MAX)
			goto bad;
		offs[i] = (uint32_t)size;
		size += same[i] != LDMESH_NONE ? restore__shadow_size(snap_cache_base_shadow(c, same[i]))
					       : restore__disk_size(disk, dk, i, &v);
	}
	if (!(buf = malloc(size ? size : 1)))
		goto nomem;
	for (uint32_t i = 0; i < n; i++) {
		struct ldmesh_service v;

		ldmesh_snap_service(disk, i, &v);
		if (same[i] != LDMESH_NONE) {
			const struct snap_shadow *sh = snap_cache_base_shadow(c, same[i]);

			memcpy(buf + offs[i], sh, restore__shadow_size(sh));
			(*kept)++;
		} else {
			restore__disk_shadow(disk, dk, i, &v, (struct snap_shadow *)(buf + offs[i]));
		}
	}
	free(same);
	return snap_cache_replace_base(c, buf, offs, n, disk->generation);
nomem:
	free(same);
	free(offs);
	return -ENOMEM;
bad:
	free(same);
	free(offs);
	return -EINVAL;
}

int snap_cache_restore(struct snap_cache *c, const struct snap_input *in,
		       const struct ldmesh_snap *disk, size_t *kept)
{
	struct restore_keys dk = { 0 }, mk = { 0 };
	struct ldmesh_snap model;
	const char *why;
	void *bytes = NULL;
	size_t size = 0;
	int err;

	if (disk->base_generation || disk->base_snap || disk->n_superseded)
		return -EINVAL;
	/* the model's blocks were made for these header strings: a base of
	 * another node or domain orders and names its records otherwise */
	if (!restore__same_str(disk, disk->cluster_domain, in->cluster_domain) ||
	    !restore__same_str(disk, disk->node_name, in->node_name) ||
	    !restore__same_str(disk, disk->node_zone, in->node_zone))
		return -ESTALE;
	if ((err = snap_build_cached(in, c, &bytes, &size)))
		return err;
	if (ldmesh_snap_init(&model, bytes, size, &why) < 0)
		err = -EINVAL;
	if (!err && !(err = restore__keys(disk, &dk)) && !(err = restore__keys(&model, &mk)))
		err = restore__shadows(c, disk, &dk, &model, &mk, kept);
	if (!err) {
		c->flags = disk->flags;
		c->restored = true;
	} else
		snap_cache_drop_base(c);
	restore__keys_free(&dk);
	restore__keys_free(&mk);
	free(bytes);
	return err;
}
