/* SPDX-License-Identifier: MIT */
/*
 * TCPRoute (gateway.networking.k8s.io v1alpha2 and v1), as the Gateway API
 * for service mesh (GAMMA) uses it: parentRefs naming a Service (group ""
 * or "core", kind Service) attach the route to that Service, or to one of
 * its ports; the rule's backendRefs split the connections made to it.
 *
 * Checked as the CRD's schema and CEL rules check it: at least one and at
 * most 16 rules and parentRefs (32 parentRefs), at most 16 backendRefs,
 * weight 0..1,000,000 (default 1), a port required for a Service
 * backendRef. A TCPRoute rule has no matches, so its first rule takes
 * every connection: later rules are warned about and ignored. What the
 * schema allows but ldmesh cannot honour is kept and refused where it
 * applies: a parentRef of another kind (a Gateway) is skipped with a
 * note; a backendRef of another kind, or in another namespace (which
 * needs a ReferenceGrant, not read here), keeps its weight but its share
 * of connections is rejected, as the spec asks of a backendRef that
 * cannot be resolved.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ldmesh/snapshot.h"
#include "manifest_priv.h"

#define MF_ROUTE_MAX_RULES 16
#define MF_ROUTE_MAX_PARENTS 32
#define MF_ROUTE_MAX_BACKENDS 16

void mf_tcproute_free(struct k8s_tcproute *r)
{
	mf_meta_free(&r->meta);
	for (size_t i = 0; i < r->n_parents; i++) {
		free(r->parents[i].ns);
		free(r->parents[i].name);
	}
	for (size_t i = 0; i < r->n_refs; i++) {
		free(r->refs[i].ns);
		free(r->refs[i].name);
	}
	free(r->parents);
	free(r->refs);
	memset(r, 0, sizeof(*r));
}

/* group "" or "core" and kind Service. A backendRef's defaults are the
 * core group and Service; a parentRef's the Gateway API group and
 * Gateway, but `kind: Service` without a group can mean nothing but the
 * core Service (the Gateway group has none), so it is read as one.
 * 1: a Service; 0: another kind; <0 as the readers. */
static int mf_route_is_service(struct mf_ctx *c, const mf_node *m, const char *path,
			       bool parent)
{
	const char *group = NULL;
	const char *kind = parent ? "Gateway" : "Service";
	int r1 = mf_get_str(c, m, path, "group", &group, NULL);
	int r2 = mf_get_str(c, m, path, "kind", &kind, NULL);

	if (r1 < 0 || r2 < 0)
		return r1 == -ENOMEM || r2 == -ENOMEM ? -ENOMEM : -EINVAL;
	return (!group || !*group || !strcmp(group, "core")) && !strcmp(kind, "Service");
}

/* name (required, a DNS-1123 subdomain) and namespace (the route's when
 * absent) of a reference, heap copies. 0, -EINVAL (reported), -ENOMEM. */
static int mf_route_ref_name(struct mf_ctx *c, const mf_node *m, const char *path,
			     const char *route_ns, char **ns, char **name)
{
	const char *n = NULL, *s = route_ns;
	const mf_node *at = NULL;
	int r1 = mf_get_str(c, m, path, "name", &n, &at);
	int r2 = mf_get_str(c, m, path, "namespace", &s, NULL);

	if (r1 == -ENOMEM || r2 == -ENOMEM)
		return -ENOMEM;
	if (r1 < 0 || r2 < 0)
		return -EINVAL;
	if (!r1 || !*n) {
		mf_error(c, m, "%s.name: Required value", path);
		return -EINVAL;
	}
	if (!mf_is_dns1123_subdomain(n)) {
		mf_error(c, at, "%s.name: Invalid value: \"%.64s\": not a DNS-1123 subdomain",
			 path, n);
		return -EINVAL;
	}
	if (!mf_is_dns1123_label(s)) {
		mf_error(c, m, "%s.namespace: Invalid value: \"%.64s\"", path, s);
		return -EINVAL;
	}
	*ns = strdup(s);
	*name = strdup(n);
	return *ns && *name ? 0 : -ENOMEM;
}

static int mf_route_parents(struct mf_ctx *c, const mf_node *spec, struct k8s_tcproute *r)
{
	const mf_node *seq = NULL;
	char p[MF_PATH_MAX];
	int ret = mf_get_seq(c, spec, "spec", "parentRefs", &seq);

	if (ret != 1)
		return ret == -ENOMEM ? ret : 0;
	if (seq->n > MF_ROUTE_MAX_PARENTS) {
		mf_error(c, seq, "spec.parentRefs: Too many: %zu: must have at most %d items",
			 seq->n, MF_ROUTE_MAX_PARENTS);
		return 0;
	}
	if (seq->n && !(r->parents = calloc(seq->n, sizeof(*r->parents))))
		return -ENOMEM;
	for (size_t i = 0; i < seq->n; i++) {
		const mf_node *m = seq->child[i];
		struct k8s_parent_ref *pr = &r->parents[r->n_parents];

		mf_path_i(p, sizeof(p), "spec", "parentRefs", i);
		if (mf_as_map(c, m, p) < 0)
			continue;
		ret = mf_route_is_service(c, m, p, true);
		if (ret == 0)
			mf_note(c, m, "%s: not a Service: a Gateway's route is not ldmesh's", p);
		if (ret != 1) {
			if (ret == -ENOMEM)
				return ret;
			continue;
		}
		ret = mf_route_ref_name(c, m, p, r->meta.ns, &pr->ns, &pr->name);
		r->n_parents++;
		if (ret == -ENOMEM || (ret = mf_get_port(c, m, p, "port", 0, &pr->port)) == -ENOMEM)
			return -ENOMEM;
	}
	return 0;
}

static int mf_route_backend(struct mf_ctx *c, const mf_node *m, const char *p,
			    const char *route_ns, struct k8s_backend_ref *br)
{
	long long weight = 1;
	const mf_node *at = NULL;
	int svc = mf_route_is_service(c, m, p, false);
	int ret;

	if (svc == -ENOMEM)
		return svc;
	ret = mf_route_ref_name(c, m, p, route_ns, &br->ns, &br->name);
	if (ret == -ENOMEM)
		return ret;
	ret = mf_get_port(c, m, p, "port", svc == 1 ? MF_PORT_REQUIRED : 0, &br->port);
	if (ret == -ENOMEM)
		return ret;
	ret = mf_get_int(c, m, p, "weight", &weight, &at);
	if (ret == -ENOMEM)
		return ret;
	if (ret == 1 && (weight < 0 || weight > LDMESH_SPLIT_WEIGHT_MAX))
		mf_error(c, at, "%s.weight: Invalid value: %lld: must be between 0 and %u", p,
			 weight, LDMESH_SPLIT_WEIGHT_MAX);
	br->weight = weight < 0 || weight > LDMESH_SPLIT_WEIGHT_MAX ? 0 : (uint32_t)weight;
	if (svc == 0)
		mf_warn(c, m, "%s: not a core Service: its share of connections is rejected", p);
	else if (br->ns && strcmp(br->ns, route_ns))
		mf_warn(c, m, "%s: in namespace %.63s, not the route's: needs a ReferenceGrant, "
			"which ldmesh does not read; its share of connections is rejected",
			p, br->ns);
	br->refused = svc != 1 || (br->ns && strcmp(br->ns, route_ns));
	return 0;
}

static int mf_route_rules(struct mf_ctx *c, const mf_node *spec, struct k8s_tcproute *r)
{
	const mf_node *rules = NULL, *refs = NULL;
	char p[MF_PATH_MAX], rp[MF_PATH_MAX];
	int ret = mf_get_seq(c, spec, "spec", "rules", &rules);

	if (ret == 0 || (ret == 1 && !rules->n))
		mf_error(c, ret ? rules : spec, "spec.rules: Required value: at least one rule");
	if (ret != 1 || !rules->n)
		return ret == -ENOMEM ? ret : 0;
	if (rules->n > MF_ROUTE_MAX_RULES) {
		mf_error(c, rules, "spec.rules: Too many: %zu: must have at most %d items",
			 rules->n, MF_ROUTE_MAX_RULES);
		return 0;
	}
	if (rules->n > 1)
		mf_warn(c, rules->child[1], "spec.rules[1]: a TCPRoute rule has no matches, so "
			"the first takes every connection: rules after it are ignored");
	mf_path_i(rp, sizeof(rp), "spec", "rules", 0);
	if (mf_as_map(c, rules->child[0], rp) < 0)
		return 0;
	ret = mf_get_seq(c, rules->child[0], rp, "backendRefs", &refs);
	if (ret == 0 || (ret == 1 && !refs->n))
		mf_error(c, ret ? refs : rules->child[0],
			 "%s.backendRefs: Required value: at least one backendRef", rp);
	if (ret != 1 || !refs->n)
		return ret == -ENOMEM ? ret : 0;
	if (refs->n > MF_ROUTE_MAX_BACKENDS) {
		mf_error(c, refs, "%s.backendRefs: Too many: %zu: must have at most %d items", rp,
			 refs->n, MF_ROUTE_MAX_BACKENDS);
		return 0;
	}
	if (!(r->refs = calloc(refs->n, sizeof(*r->refs))))
		return -ENOMEM;
	for (size_t i = 0; i < refs->n; i++) {
		const mf_node *m = refs->child[i];

		mf_path_i(p, sizeof(p), rp, "backendRefs", i);
		if (mf_as_map(c, m, p) < 0)
			continue;
		ret = mf_route_backend(c, m, p, r->meta.ns, &r->refs[r->n_refs++]);
		if (ret == -ENOMEM)
			return ret;
	}
	return 0;
}

int mf_tcproute(struct mf_ctx *c, const mf_node *obj)
{
	const mf_node *spec = NULL;
	struct k8s_tcproute *r;
	int ret;

	if (mf_grow((void **)&c->set.routes, &c->cap_routes, c->set.n_routes, sizeof(*r)))
		return -ENOMEM;
	r = &c->set.routes[c->set.n_routes++];
	memset(r, 0, sizeof(*r));
	ret = mf_meta(c, obj, MF_NAME_DNS1123_SUBDOMAIN, &r->meta, NULL);
	if (ret == -ENOMEM || mf_seen_add(c, MF_TCPROUTE, &r->meta))
		return -ENOMEM;
	if (!r->meta.ns)
		return 0; /* metadata refused (reported) */
	ret = mf_get_map(c, obj, "", "spec", &spec);
	if (ret == 0)
		mf_error(c, obj, "spec: Required value");
	if (ret != 1)
		return ret == -ENOMEM ? ret : 0;
	ret = mf_route_parents(c, spec, r);
	return ret ? ret : mf_route_rules(c, spec, r);
}
