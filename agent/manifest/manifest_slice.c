/* SPDX-License-Identifier: MIT */
/*
 * discovery.k8s.io/v1 EndpointSlice, and v1 Endpoints converted to slices
 * the way the EndpointSlice mirroring controller does (one per subset).
 */
#include "manifest_priv.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* pkg/apis/discovery/validation: maxEndpoints, maxPorts, maxAddresses. */
#define MF_SLICE_MAX_ENDPOINTS 1000
#define MF_SLICE_MAX_PORTS 20000
#define MF_SLICE_MAX_ADDRESSES 100

/* The label that ties a slice to its Service (discovery.LabelServiceName). */
#define MF_LABEL_SERVICE_NAME "kubernetes.io/service-name"

static void mf_endpoint_free(struct k8s_endpoint *e)
{
	free(e->node);
	free(e->zone);
	free(e->hostname);
	free(e->target);
	free(e->zone_hints);
}

void mf_slice_free(struct k8s_slice *s)
{
	mf_meta_free(&s->meta);
	free(s->service);
	for (size_t i = 0; i < s->n_endpoints; i++)
		mf_endpoint_free(&s->endpoints[i]);
	free(s->endpoints);
	for (size_t i = 0; i < s->n_ports; i++)
		free(s->ports[i].name);
	free(s->ports);
	memset(s, 0, sizeof(*s));
}

static int mf_new_slice(struct mf_ctx *c, size_t *idx)
{
	if (mf_grow((void **)&c->set.slices, &c->cap_slices, c->set.n_slices,
		    sizeof(*c->set.slices)))
		return -ENOMEM;
	*idx = c->set.n_slices++;
	return 0;
}

/* nodeName, hostname, targetRef.name: shared by both kinds' addresses. */
static int mf_endpoint_refs(struct mf_ctx *c, const mf_node *em,
			    const char *path, struct k8s_endpoint *e)
{
	const mf_node *ref = NULL, *at = NULL;
	char p[MF_PATH_MAX];
	const char *host;
	int ret;

	if (mf_get_strdup(c, em, path, "nodeName", &e->node) == -ENOMEM)
		return -ENOMEM;
	ret = mf_get_str(c, em, path, "hostname", &host, &at);
	if (ret == 1 && !mf_is_dns1123_label(host))
		mf_error(c, at,
			 "%s.hostname: \"%.64s\" is not a valid DNS-1123 label",
			 path, host);
	if (ret == 1 && !(e->hostname = strdup(host)))
		return -ENOMEM;
	ret = mf_get_map(c, em, path, "targetRef", &ref);
	if (ret == 1)
		ret = mf_get_strdup(c, ref, mf_path(p, sizeof(p), path,
						    "targetRef"),
				    "name", &e->target);
	return ret == -ENOMEM ? ret : 0;
}

static int mf_slice_port(struct mf_ctx *c, const mf_node *pm,
			 const char *path, unsigned port_flags,
			 struct k8s_ep_port *ep)
{
	if (mf_port_name(c, pm, path, &ep->name) == -ENOMEM)
		return -ENOMEM;
	if (mf_get_protocol(c, pm, path, "protocol", &ep->protocol) == -ENOMEM ||
	    mf_get_port(c, pm, path, "port", port_flags, &ep->port) == -ENOMEM)
		return -ENOMEM;
	return 0;
}

/* `key` is "ports"; Endpoints require a port number and, with several
 * ports, a name on each (validateEndpointPort); slices need neither. */
static int mf_slice_ports(struct mf_ctx *c, const mf_node *map,
			  const char *path, bool endpoints_rules,
			  struct k8s_slice *s)
{
	const mf_node *seq = NULL;
	char p[MF_PATH_MAX];
	int ret = mf_get_seq(c, map, path, "ports", &seq);

	if (ret != 1 || !seq->n)
		return ret == -ENOMEM ? ret : 0;
	if (!endpoints_rules && seq->n > MF_SLICE_MAX_PORTS) {
		mf_error(c, seq, "ports: Too many: %zu, must have at most %d",
			 seq->n, MF_SLICE_MAX_PORTS);
		return 0;
	}
	s->ports = calloc(seq->n, sizeof(*s->ports));
	if (!s->ports)
		return -ENOMEM;
	for (size_t i = 0; i < seq->n; i++) {
		const mf_node *pm = seq->child[i];
		struct k8s_ep_port *ep = &s->ports[s->n_ports];

		mf_path_i(p, sizeof(p), path, "ports", i);
		if (mf_as_map(c, pm, p) < 0)
			continue;
		s->n_ports++;
		if (mf_slice_port(c, pm, p,
				  endpoints_rules ? MF_PORT_REQUIRED : 0, ep))
			return -ENOMEM;
		if (endpoints_rules && seq->n > 1 && !*ep->name)
			mf_error(c, pm, "%s.name: Required value", p);
		/* Slices: two unnamed ports clash too (validateEndpointPorts);
		 * Endpoints: an unnamed one was just reported as required. */
		for (size_t j = 0; j + 1 < s->n_ports; j++)
			if (!(endpoints_rules && !*ep->name) &&
			    !strcmp(s->ports[j].name, ep->name))
				mf_error(c, pm, "%s.name: Duplicate value: \"%s\"",
					 p, ep->name);
	}
	return 0;
}

/* conditions: nil ready means ready, nil serving means "same as ready"
 * (manifest.h), nil terminating means not terminating. */
static int mf_conditions(struct mf_ctx *c, const mf_node *em,
			 const char *path, struct k8s_endpoint *e)
{
	const mf_node *cond = NULL;
	char p[MF_PATH_MAX];
	bool v;
	int ret;

	e->ready = true;
	e->terminating = false;
	ret = mf_get_map(c, em, path, "conditions", &cond);
	if (ret != 1) {
		e->serving = e->ready;
		return 0;
	}
	mf_path(p, sizeof(p), path, "conditions");
	if (mf_get_bool(c, cond, p, "ready", &v) == 1)
		e->ready = v;
	e->serving = e->ready;
	if (mf_get_bool(c, cond, p, "serving", &v) == 1)
		e->serving = v;
	if (mf_get_bool(c, cond, p, "terminating", &v) == 1)
		e->terminating = v;
	return 0;
}

static int mf_zone_hints(struct mf_ctx *c, const mf_node *em,
			 const char *path, struct k8s_endpoint *e)
{
	const mf_node *hints = NULL, *zones = NULL;
	char p[MF_PATH_MAX], q[MF_PATH_MAX];
	size_t len = 0;
	int ret;

	ret = mf_get_map(c, em, path, "hints", &hints);
	if (ret == 1)
		ret = mf_get_seq(c, hints, mf_path(p, sizeof(p), path, "hints"),
				 "forZones", &zones);
	if (ret != 1 || !zones->n)
		return ret == -ENOMEM ? ret : 0;
	for (size_t i = 0; i < zones->n; i++) {
		const char *zone;
		char *nz;

		mf_path_i(q, sizeof(q), p, "forZones", i);
		if (mf_as_map(c, zones->child[i], q) < 0 ||
		    mf_get_str(c, zones->child[i], q, "name", &zone, NULL) != 1)
			continue;
		nz = realloc(e->zone_hints, len + strlen(zone) + 2);
		if (!nz)
			return -ENOMEM;
		e->zone_hints = nz;
		len += (size_t)sprintf(nz + len, "%s%s", len ? "," : "", zone);
	}
	return 0;
}

static int mf_slice_endpoint(struct mf_ctx *c, const mf_node *em,
			     const char *path, bool v4, struct k8s_endpoint *e)
{
	const mf_node *addrs = NULL;
	char p[MF_PATH_MAX];
	int ret;

	ret = mf_get_seq(c, em, path, "addresses", &addrs);
	if (ret == -ENOMEM)
		return ret;
	if (ret == 0 || (ret == 1 && !addrs->n))
		mf_error(c, ret ? addrs : em, "%s.addresses: Required value",
			 path);
	else if (ret == 1 && addrs->n > MF_SLICE_MAX_ADDRESSES)
		mf_error(c, addrs, "%s.addresses: Too many: %zu, must have at most %d",
			 path, addrs->n, MF_SLICE_MAX_ADDRESSES);
	for (size_t i = 0; ret == 1 && i < addrs->n; i++) {
		uint8_t ip[16];

		mf_path_i(p, sizeof(p), path, "addresses", i);
		if (mf_as_ip(c, addrs->child[i], p, ip) != 1)
			continue;
		if (mf_ip_is_v4(ip) != v4)
			mf_error(c, addrs->child[i],
				 "%s: \"%.64s\" must be an %s address (addressType)",
				 p, addrs->child[i]->str, v4 ? "IPv4" : "IPv6");
		else if (i == 0)
			memcpy(e->addr, ip, 16);
	}
	if (mf_conditions(c, em, path, e) ||
	    mf_endpoint_refs(c, em, path, e) ||
	    mf_get_strdup(c, em, path, "zone", &e->zone) == -ENOMEM ||
	    mf_zone_hints(c, em, path, e))
		return -ENOMEM;
	return 0;
}

int mf_endpoint_slice(struct mf_ctx *c, const mf_node *obj)
{
	static const char *const types[] = { "IPv4", "IPv6", "FQDN", NULL };
	const mf_node *at = NULL, *eps = NULL;
	struct k8s_meta meta = { 0 };
	struct k8s_labels labels = { .v = NULL };
	const char *type, *svc;
	struct k8s_slice *s;
	char p[MF_PATH_MAX];
	int ret, t = -1;
	size_t idx;

	ret = mf_meta(c, obj, MF_NAME_DNS1123_SUBDOMAIN, &meta, &labels);
	if (ret == -ENOMEM)
		goto out;
	ret = mf_get_str(c, obj, "", "addressType", &type, &at);
	if (ret == -ENOMEM)
		goto out;
	if (ret == 0)
		mf_error(c, obj, "addressType: Required value");
	for (int i = 0; ret == 1 && types[i]; i++)
		if (!strcmp(type, types[i]))
			t = i;
	if (ret == 1 && t < 0)
		mf_error(c, at,
			 "addressType: unsupported value \"%.64s\": supported values: \"IPv4\", \"IPv6\", \"FQDN\"",
			 type);
	svc = mf_label_get(&labels, MF_LABEL_SERVICE_NAME);
	/* FQDN slices name hosts, not addresses; kube-proxy ignores them, and
	 * slices without a service-name label belong to no Service. */
	if (t == 2 || (t >= 0 && !svc)) {
		mf_note(c, obj, "skipped EndpointSlice: %s",
			t == 2 ? "FQDN addresses (kube-proxy ignores them)"
			       : "no kubernetes.io/service-name label");
		c->set.skipped++;
		ret = 0;
		goto out;
	}
	ret = mf_new_slice(c, &idx);
	if (ret)
		goto out;
	s = &c->set.slices[idx];
	s->meta = meta;
	memset(&meta, 0, sizeof(meta));
	if (mf_seen_add(c, MF_ENDPOINT_SLICE, &s->meta) ||
	    (svc && !(s->service = strdup(svc)))) {
		ret = -ENOMEM;
		goto out;
	}
	ret = mf_slice_ports(c, obj, "", false, s);
	if (ret)
		goto out;
	ret = mf_get_seq(c, obj, "", "endpoints", &eps);
	if (ret != 1 || !eps->n) {
		ret = ret == -ENOMEM ? ret : 0;
		goto out;
	}
	if (eps->n > MF_SLICE_MAX_ENDPOINTS)
		mf_error(c, eps, "endpoints: Too many: %zu, must have at most %d",
			 eps->n, MF_SLICE_MAX_ENDPOINTS);
	s->endpoints = calloc(eps->n, sizeof(*s->endpoints));
	if (!s->endpoints) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < eps->n; i++) {
		mf_path_i(p, sizeof(p), "", "endpoints", i);
		if (mf_as_map(c, eps->child[i], p) < 0)
			continue;
		ret = mf_slice_endpoint(c, eps->child[i], p, t != 1,
					&s->endpoints[s->n_endpoints++]);
		if (ret)
			goto out;
	}
out:
	mf_meta_free(&meta);
	mf_labels_free(&labels);
	return ret;
}

/* subsets[i].addresses or .notReadyAddresses, appended to `s`. */
static int mf_subset_addrs(struct mf_ctx *c, const mf_node *sub,
			   const char *path, const char *key, bool ready,
			   struct k8s_slice *s)
{
	const mf_node *seq = NULL;
	char p[MF_PATH_MAX];
	void *v;
	int ret = mf_get_seq(c, sub, path, key, &seq);

	if (ret != 1 || !seq->n)
		return ret == -ENOMEM ? ret : 0;
	v = realloc(s->endpoints, (s->n_endpoints + seq->n) * sizeof(*s->endpoints));
	if (!v)
		return -ENOMEM;
	s->endpoints = v;
	for (size_t i = 0; i < seq->n; i++) {
		const mf_node *am = seq->child[i];
		struct k8s_endpoint *e;

		mf_path_i(p, sizeof(p), path, key, i);
		if (mf_as_map(c, am, p) < 0)
			continue;
		e = &s->endpoints[s->n_endpoints++];
		memset(e, 0, sizeof(*e));
		/* Endpoints has no serving/terminating: a not-ready address
		 * is neither (the mirroring controller's mapping). */
		e->ready = e->serving = ready;
		ret = mf_get_ip(c, am, p, "ip", e->addr);
		if (ret == 0)
			mf_error(c, am, "%s.ip: Required value", p);
		if (ret == -ENOMEM || mf_endpoint_refs(c, am, p, e))
			return -ENOMEM;
	}
	return 0;
}

int mf_endpoints(struct mf_ctx *c, const mf_node *obj)
{
	const mf_node *subs = NULL;
	struct k8s_meta meta = { 0 };
	char p[MF_PATH_MAX];
	size_t idx, first = SIZE_MAX, n;
	int ret;

	ret = mf_meta(c, obj, MF_NAME_DNS1123_SUBDOMAIN, &meta, NULL);
	if (ret == -ENOMEM ||
	    mf_get_seq(c, obj, "", "subsets", &subs) == -ENOMEM) {
		ret = -ENOMEM;
		goto out;
	}
	/* An Endpoints with no subsets still says "this Service has no
	 * endpoints": keep one empty slice so the consumer sees it. */
	n = subs && subs->n ? subs->n : 1;
	for (size_t i = 0; i < n; i++) {
		const mf_node *sub = subs && subs->n ? subs->child[i] : NULL;
		struct k8s_slice *s;

		mf_path_i(p, sizeof(p), "", "subsets", i);
		if (sub && mf_as_map(c, sub, p) < 0)
			continue;
		ret = mf_new_slice(c, &idx);
		if (ret)
			goto out;
		if (first == SIZE_MAX)
			first = idx;
		s = &c->set.slices[idx];
		s->from_endpoints = true;
		ret = mf_meta_copy(&s->meta, &meta);
		if (!ret && meta.name && !(s->service = strdup(meta.name)))
			ret = -ENOMEM;
		if (!ret && sub)
			ret = mf_subset_addrs(c, sub, p, "addresses", true, s);
		if (!ret && sub)
			ret = mf_subset_addrs(c, sub, p, "notReadyAddresses",
					      false, s);
		if (!ret && sub)
			ret = mf_slice_ports(c, sub, p, true, s);
		if (ret)
			goto out;
	}
	/* The duplicate check borrows strings owned by the set. */
	if (first != SIZE_MAX)
		ret = mf_seen_add(c, MF_ENDPOINTS, &c->set.slices[first].meta);
out:
	mf_meta_free(&meta);
	return ret;
}
