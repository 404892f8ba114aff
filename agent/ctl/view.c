/* SPDX-License-Identifier: MIT */
/* What every view of the table shares: records copied out and checked,
 * names of types and protocols, the services sorted as kubectl sorts
 * them, and which of kube-proxy's rules picks a service's backends. */
#include "ctl.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

/* A snapshot string copied out, NUL-terminated: the mapping is untrusted
 * and may change under us. Eight rotating buffers, more than the most
 * strings one printf here takes. */
const char *ctl_str(const struct ctl *c, ldmesh_str_t ref)
{
	static char bufs[8][LDMESH_STR_MAX + 3];
	static unsigned next;
	char *b = bufs[next++ % 8];

	return ldmesh_snap_strcpy(c->snap, ref, b, sizeof(bufs[0]));
}

/* Record `i`, checked; a damaged one reads as empty (no ports, no
 * endpoints), so a tool shows what it can of a damaged table. */
void ctl_service(const struct ldmesh_snap *s, uint32_t i, struct ldmesh_service *out)
{
	if (!ldmesh_snap_service(s, i, out))
		memset(out, 0, sizeof(*out));
}

void ctl_port(const struct ldmesh_snap *s, uint32_t i, struct ldmesh_port *out)
{
	if (!ldmesh_snap_port(s, i, out))
		memset(out, 0, sizeof(*out));
}

void ctl_endpoint(const struct ldmesh_snap *s, uint32_t i, struct ldmesh_endpoint *out)
{
	if (!ldmesh_snap_endpoint(s, i, out))
		memset(out, 0, sizeof(*out));
}

const char *ctl_addr(const uint8_t addr[16], char *buf, size_t len)
{
	static const uint8_t v4[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (!memcmp(addr, v4, 12))
		return inet_ntop(AF_INET, addr + 12, buf, (socklen_t)len);
	return inet_ntop(AF_INET6, addr, buf, (socklen_t)len);
}

const char *ctl_proto_name(uint8_t protocol)
{
	switch (protocol) {
	case LDMESH_PROTO_TCP: return "TCP";
	case LDMESH_PROTO_UDP: return "UDP";
	case LDMESH_PROTO_SCTP: return "SCTP";
	default: return "?";
	}
}

const char *ctl_type_name(const struct ldmesh_service *s)
{
	switch (s->type) {
	case LDMESH_SVC_CLUSTER_IP: return "ClusterIP";
	case LDMESH_SVC_NODE_PORT: return "NodePort";
	case LDMESH_SVC_LOAD_BALANCER: return "LoadBalancer";
	case LDMESH_SVC_EXTERNAL_NAME: return "ExternalName";
	default: return "?";
	}
}

void ctl_ips(const struct ctl *c, const struct ldmesh_service *s, char *buf, size_t len)
{
	char a[64];

	buf[0] = 0;
	if (s->flags & LDMESH_SVC_F_HEADLESS)
		snprintf(buf, len, "None");
	for (uint8_t i = 0; i < s->ip_count; i++) {
		size_t used = strlen(buf);
		snprintf(buf + used, len - used, "%s%s", i ? "," : "",
			 ctl_addr(s->cluster_ips[i], a, sizeof(a)));
	}
	if (!buf[0])
		snprintf(buf, len, "<none>");
}

const char *ctl_ep_state(uint32_t flags)
{
	if (flags & LDMESH_EP_F_EJECTED)
		return "ejected"; /* ready, but the agent's probe failed */
	if (flags & LDMESH_EP_F_READY)
		return "ready";
	if ((flags & LDMESH_EP_F_SERVING) && (flags & LDMESH_EP_F_TERMINATING))
		return "terminating";
	return "not-ready";
}

/* The snapshot keeps services in manifest order; people read them sorted
 * by namespace and name, like kubectl. */
static const struct ldmesh_snap *ctl__sort_snap;

static int ctl__cmp_strv(struct ldmesh_strv a, struct ldmesh_strv b)
{
	int c = memcmp(a.p, b.p, a.len < b.len ? a.len : b.len);

	return c ? c : (int)a.len - (int)b.len;
}

static int ctl__cmp_service(const void *pa, const void *pb)
{
	const struct ldmesh_snap *s = ctl__sort_snap;
	struct ldmesh_service a, b;
	int c;

	ctl_service(s, *(const uint32_t *)pa, &a);
	ctl_service(s, *(const uint32_t *)pb, &b);
	c = ctl__cmp_strv(ldmesh_snap_string(s, a.ns), ldmesh_snap_string(s, b.ns));
	return c ? c : ctl__cmp_strv(ldmesh_snap_string(s, a.name),
				     ldmesh_snap_string(s, b.name));
}

/* The services of the table as a pod sees it: a delta's own, then its
 * base's but those the delta supersedes (unified indexes, reader.h). */
uint32_t *ctl_sorted(const struct ctl *c, uint32_t *n)
{
	uint32_t count = ldmesh_snap_service_count(c->snap);
	uint32_t *order = malloc(((size_t)count + 1) * sizeof(*order));

	*n = 0;
	if (!order)
		return NULL;
	for (uint32_t i = 0; i < count; i++)
		if (ldmesh_snap_service_listed(c->snap, i))
			order[(*n)++] = i;
	ctl__sort_snap = c->snap;
	qsort(order, *n, sizeof(*order), ctl__cmp_service);
	return order;
}

/* Which of kube-proxy's rules chose a service's backends on this node:
 * a short name (json) and a sentence. */
const char *ctl_rule(const struct ctl *c, const struct ldmesh_service *s,
		     char *why, size_t len)
{
	const char *zone = STR(c->snap->node_zone);

	if (!s->ready_count) {
		snprintf(why, len, "serving-terminating endpoints (none is ready)");
		return "fallback-terminating";
	}
	if ((s->flags & LDMESH_SVC_F_INTERNAL_LOCAL) && *STR(c->snap->node_name)) {
		snprintf(why, len, "endpoints on node %s (internalTrafficPolicy: Local)",
			 STR(c->snap->node_name));
		return "node-local";
	}
	if (s->flags & LDMESH_SVC_F_ZONE_CHOSEN) {
		snprintf(why, len, "endpoints hinted for zone %s (topology-aware routing)", zone);
		return "zone";
	}
	if (s->flags & LDMESH_SVC_F_TOPOLOGY) {
		if (*zone)
			snprintf(why, len, "all ready endpoints (topology-aware routing asked for, "
				 "not used: a ready endpoint has no zone hint, or none is for zone %s)",
				 zone);
		else
			snprintf(why, len, "all ready endpoints (topology-aware routing asked for, "
				 "not used: this node's zone is unknown)");
		return "all";
	}
	snprintf(why, len, "all ready endpoints");
	return "all";
}

/* Whether service `s` is in namespace `ns` (NULL: any) and named `name`
 * (NULL: any). */
static bool ctl__selected(const struct ctl *c, const struct ldmesh_service *s,
			  const char *ns, const char *name)
{
	return (!ns || !strcmp(STR(s->ns), ns)) && (!name || !strcmp(STR(s->name), name));
}

uint32_t *ctl_select(const struct ctl *c, const char *name, uint32_t *n)
{
	uint32_t all, *order = ctl_sorted(c, &all);

	*n = 0;
	if (!order)
		return NULL;
	for (uint32_t k = 0; k < all; k++) {
		struct ldmesh_service s;

		ctl_service(c->snap, order[k], &s);
		if (ctl__selected(c, &s, c->ns, name))
			order[(*n)++] = order[k];
	}
	return order;
}

int ctl_none_found(const struct ctl *c, const char *name)
{
	if (name)
		/* kubectl's words, which scripts and people know */
		fprintf(stderr, "Error from server (NotFound): services \"%s\" not found\n", name);
	else if (c->ns)
		fprintf(stderr, "No resources found in %s namespace.\n", c->ns);
	else
		fprintf(stderr, "No resources found\n");
	return name ? 1 : 0;
}

/* A text table in kubectl's layout: three spaces between columns. */
void ctl_grid_add(struct ctl_grid *g, const char *const *row)
{
	if (g->rows == g->cap) {
		size_t cap = g->cap ? 2 * g->cap : 16;
		char **v = realloc(g->cells, cap * g->cols * sizeof(*v));

		if (!v) {
			g->oom = true;
			return;
		}
		g->cells = v;
		g->cap = cap;
	}
	for (size_t k = 0; k < g->cols; k++) {
		char *s = strdup(row[k]);

		g->oom |= !s;
		g->cells[g->rows * g->cols + k] = s;
	}
	g->rows++;
}

void ctl_grid_print(const struct ctl_grid *g, FILE *f)
{
	size_t width[CTL_GRID_COLS] = { 0 };

	for (size_t r = 0; r < g->rows; r++)
		for (size_t k = 0; k < g->cols; k++) {
			const char *s = g->cells[r * g->cols + k];
			size_t n = s ? strlen(s) : 0;

			if (n > width[k])
				width[k] = n;
		}
	for (size_t r = 0; r < g->rows; r++) {
		fputs(g->indent ? g->indent : "", f);
		for (size_t k = 0; k < g->cols; k++) {
			const char *s = g->cells[r * g->cols + k];

			if (k + 1 < g->cols)
				fprintf(f, "%-*s   ", (int)width[k], s ? s : "");
			else
				fprintf(f, "%s\n", s ? s : "");
		}
	}
}

void ctl_grid_free(struct ctl_grid *g)
{
	for (size_t i = 0; i < g->rows * g->cols; i++)
		free(g->cells[i]);
	free(g->cells);
}
