/* SPDX-License-Identifier: MIT */
#include "ctl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "json.h"

static void ctl__time(uint64_t unix_ns, char *buf, size_t len)
{
	time_t t = (time_t)(unix_ns / 1000000000ULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The agent's <table>/status (publish.h), if it is there and trusted like
 * the table: "last-scan TIME" and "rejected PATH\tERROR" lines. */
struct ctl_agent_status {
	char last_scan[40];
	char (*rejected)[2][600]; /* path, error */
	size_t n;
	char (*notes)[600];       /* what the agent says stays wrong (state,
	                             folder, table) */
	size_t n_notes;
	bool unreadable;          /* there, but not for this user (0600) */
};

static void ctl__agent_status(const struct ctl *c, struct ctl_agent_status *st)
{
	char path[512], line[1300];
	struct stat sb;
	FILE *f;
	int fd;

	memset(st, 0, sizeof(*st));
	snprintf(path, sizeof(path), "%s/status", c->table);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		/* the agent's alone: it may quote manifests */
		st->unreadable = errno == EACCES;
		return;
	}
	if (fstat(fd, &sb) < 0 || ldmesh_trust_check(&sb, false, geteuid()) ||
	    !(f = fdopen(fd, "r"))) {
		close(fd);
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		char *tab, *nl = strchr(line, '\n');

		if (nl)
			*nl = 0;
		if (!strncmp(line, "note ", 5)) {
			void *v = realloc(st->notes, (st->n_notes + 1) * sizeof(*st->notes));
			if (!v)
				break;
			st->notes = v;
			snprintf(st->notes[st->n_notes++], sizeof(st->notes[0]), "%.599s", line + 5);
		} else if (!strncmp(line, "last-scan ", 10)) {
			snprintf(st->last_scan, sizeof(st->last_scan), "%.39s", line + 10);
		} else if (!strncmp(line, "rejected ", 9) && (tab = strchr(line + 9, '\t'))) {
			void *v = realloc(st->rejected, (st->n + 1) * sizeof(*st->rejected));
			if (!v)
				break;
			st->rejected = v;
			*tab = 0;
			snprintf(st->rejected[st->n][0], sizeof(st->rejected[0][0]), "%.599s", line + 9);
			snprintf(st->rejected[st->n][1], sizeof(st->rejected[0][1]), "%.599s", tab + 1);
			st->n++;
		}
	}
	fclose(f);
}

/* null for a base: the JSON says "no base", not "base 0" */
static void ctl__json_base(struct json *j, const struct ldmesh_snap *s)
{
	if (s->base_generation)
		json_u64(j, s->base_generation);
	else
		json_null(j);
}

static uint32_t ctl__listed(const struct ldmesh_snap *s)
{
	uint32_t n = 0, count = ldmesh_snap_service_count(s);

	for (uint32_t i = 0; i < count; i++)
		n += ldmesh_snap_service_listed(s, i);
	return n;
}

/* The endpoints of the services the table lists: through a delta, not
 * those of the base's services it supersedes. */
static uint32_t ctl__endpoints(const struct ldmesh_snap *s)
{
	uint32_t n = 0;
	struct ldmesh_service svc;

	for (uint32_t i = 0; i < ldmesh_snap_service_count(s); i++)
		if (ldmesh_snap_service_listed(s, i) && ldmesh_snap_service(s, i, &svc))
			n += svc.endpoint_count;
	return n;
}

static size_t ctl__bytes(const struct ldmesh_snap *s)
{
	return s->size + (s->base_snap ? s->base_snap->size : 0);
}

/* A base the agent announced ahead of the generation shown (snapshot.h,
 * 3.2): its generation, or 0. */
static uint64_t ctl__announced(const struct ctl *c)
{
	struct ldmesh_control_record rec;

	if (!c->control || ldmesh_control_ahead_get(c->control, &rec) < 0 ||
	    rec.generation <= c->snap->generation)
		return 0;
	return rec.generation;
}

/* status -o json: the fields the README documents. */
static void ctl__status_json(const struct ctl *c, const struct ctl_agent_status *ag,
			     const struct ctl_live *live, uint64_t announced, const char *when)
{
	const struct ldmesh_snap *h = c->snap;
	struct json j;

	json_init(&j, c->out);
	json_open(&j, '{');
	json_key(&j, "table"), json_str(&j, c->table);
	json_key(&j, "generation"), json_u64(&j, c->snap->generation);
	json_key(&j, "baseGeneration"), ctl__json_base(&j, c->snap);
	json_key(&j, "announcedGeneration");
	if (announced)
		json_u64(&j, announced);
	else
		json_null(&j);
	json_key(&j, "publishedAt"), json_str(&j, when);
	json_key(&j, "complete"), json_bool(&j, !(h->flags & LDMESH_SNAP_F_INCOMPLETE));
	json_key(&j, "agentPid"), json_u64(&j, c->control ? c->control->agent_pid : 0);
	json_key(&j, "agentAlive"), json_bool(&j, live->alive);
	json_key(&j, "heartbeatAgeSeconds");
	if (live->known && live->age_ns != UINT64_MAX)
		json_fixed(&j, (double)live->age_ns / 1e9, 3);
	else
		json_null(&j);
	json_key(&j, "heartbeatPid"), json_u64(&j, live->pid);
	json_key(&j, "services"), json_u64(&j, ctl__listed(c->snap));
	json_key(&j, "endpoints"), json_u64(&j, ctl__endpoints(c->snap));
	json_key(&j, "bytes"), json_u64(&j, ctl__bytes(c->snap));
	json_key(&j, "clusterDomain"), json_str(&j, STR(h->cluster_domain));
	json_key(&j, "node"), json_str(&j, STR(h->node_name));
	json_key(&j, "formatVersion"), json_u64(&j, LDMESH_SNAP_VERSION_MAJOR);
	json_key(&j, "lastScan");
	if (ag->last_scan[0])
		json_str(&j, ag->last_scan);
	else
		json_null(&j);
	json_key(&j, "rejected"), json_open(&j, '[');
	for (size_t i = 0; i < ag->n; i++) {
		json_open(&j, '{');
		json_key(&j, "path"), json_str(&j, ag->rejected[i][0]);
		json_key(&j, "error"), json_str(&j, ag->rejected[i][1]);
		json_close(&j, '}');
	}
	json_close(&j, ']');
	json_key(&j, "notes"), json_open(&j, '[');
	for (size_t i = 0; i < ag->n_notes; i++)
		json_str(&j, ag->notes[i]);
	json_close(&j, ']');
	json_close(&j, '}');
	json_end(&j);
}

int ctl_status(const struct ctl *c)
{
	const struct ldmesh_snap *h = c->snap;
	struct ctl_agent_status ag;
	uint64_t announced = ctl__announced(c);
	struct ctl_live live;
	char when[32], alive[128];

	ctl__time(h->created_unix_ns, when, sizeof(when));
	ctl__agent_status(c, &ag);
	ctl_live(c->control, &live);
	if (c->json) {
		ctl__status_json(c, &ag, &live, announced, when);
		free(ag.rejected);
		free(ag.notes);
		return 0;
	}
	fprintf(c->out, "table:       %s\n", c->table);
	if (h->base_generation)
		fprintf(c->out, "generation:  %" PRIu64 " (delta, base %" PRIu64 "%s)\n",
			h->generation, h->base_generation,
			h->base_snap ? "" : ", not linked");
	else
		fprintf(c->out, "generation:  %" PRIu64 "\n", h->generation);
	if (announced)
		fprintf(c->out, "announced:   %" PRIu64 " (a base that folds the deltas: "
				"processes map it now, it is current within seconds)\n",
			announced);
	fprintf(c->out,
		"published:   %s by pid %u\n"
		"agent:       %s\n"
		"services:    %u\n"
		"endpoints:   %u\n"
		"size:        %zu bytes\n"
		"complete:    %s\n"
		"domain:      %s\n"
		"node:        %s\n",
		when, c->control ? c->control->agent_pid : 0,
		ctl_live_say(&live, alive, sizeof(alive)), ctl__listed(h),
		ctl__endpoints(h), ctl__bytes(h),
		h->flags & LDMESH_SNAP_F_INCOMPLETE
			? "no (a cluster name the table lacks goes to DNS: the agent runs with "
			  "--require-sync and the folder is not synced)"
			: "yes",
		STR(h->cluster_domain), *STR(h->node_name) ? STR(h->node_name) : "(not set)");
	fprintf(c->out, "last scan:   %s\n"
			"rejected:    %zu file(s)%s\n",
		ag.last_scan[0] ? ag.last_scan : "(unknown)", ag.n,
		ag.n ? " (their last good version, if any, is in force)" : "");
	for (size_t i = 0; i < ag.n; i++)
		fprintf(c->out, "  %s\n", ag.rejected[i][1]);
	if (ag.n_notes)
		fprintf(c->out, "notes:       %zu\n", ag.n_notes);
	for (size_t i = 0; i < ag.n_notes; i++)
		fprintf(c->out, "  %s\n", ag.notes[i]);
	if (ag.unreadable)
		fprintf(c->out, "agent status: %s/status is readable by the agent's user only\n",
			c->table);
	free(ag.rejected);
	free(ag.notes);
	return 0;
}

static void ctl__services_text(const struct ctl *c, const uint32_t *order, uint32_t n)
{
	char ips[128], a[64], ports[256];

	fprintf(c->out, "%-16s %-24s %-13s %-18s %-20s %s\n", "NAMESPACE", "NAME",
		"TYPE", "CLUSTER-IP", "PORT(S)", "ENDPOINTS");
	for (uint32_t k = 0; k < n; k++) {
		struct ldmesh_service sv, *s = &sv;

		ctl_service(c->snap, order[k], s);
		ports[0] = 0;
		for (uint32_t p = 0; p < s->port_count; p++) {
			struct ldmesh_port pt;
			size_t used = strlen(ports);

			ctl_port(c->snap, s->first_port + p, &pt);
			snprintf(ports + used, sizeof(ports) - used, "%s%u/%s", p ? "," : "",
				 pt.port, ctl_proto_name(pt.protocol));
		}
		ctl_ips(c, s, ips, sizeof(ips));
		if (s->type == LDMESH_SVC_EXTERNAL_NAME)
			snprintf(ips, sizeof(ips), "%s", STR(s->external_name));
		fprintf(c->out, "%-16s %-24s %-13s %-18s %-20s %u/%u ready\n", STR(s->ns),
			STR(s->name), ctl_type_name(s), ips, ports[0] ? ports : "<none>",
			s->ready_count, s->endpoint_count);
		for (uint32_t e = 0; e < s->endpoint_count; e++) {
			uint32_t ep = s->first_endpoint + e;
			struct ldmesh_endpoint enc, *en = &enc;
			char eports[128] = "";

			ctl_endpoint(c->snap, ep, en);
			for (uint32_t p = 0; p < s->port_count; p++) {
				size_t used = strlen(eports);
				snprintf(eports + used, sizeof(eports) - used, "%s%u", p ? "," : ":",
					 ldmesh_snap_endpoint_port(c->snap, s, ep, p));
			}
			fprintf(c->out, "  %s%s %-11s %s%s%s%s%s%s\n",
				ctl_addr(en->addr, a, sizeof(a)), eports,
				ctl_ep_state(en->flags),
				*STR(en->node) ? "node=" : "", STR(en->node),
				*STR(en->zone) ? " zone=" : "", STR(en->zone),
				*STR(en->target) ? " pod=" : "", STR(en->target));
		}
	}
}

static void ctl__endpoint_json(const struct ctl *c, struct json *j,
			       const struct ldmesh_service *s, uint32_t ep, uint32_t port_index)
{
	struct ldmesh_endpoint enc, *en = &enc;
	char a[64];

	ctl_endpoint(c->snap, ep, en);
	json_open(j, '{');
	json_key(j, "ip"), json_str(j, ctl_addr(en->addr, a, sizeof(a)));
	json_key(j, "port"), json_u64(j, ldmesh_snap_endpoint_port(c->snap, s, ep, port_index));
	json_key(j, "ready"), json_bool(j, en->flags & LDMESH_EP_F_READY);
	json_key(j, "serving"), json_bool(j, en->flags & LDMESH_EP_F_SERVING);
	json_key(j, "terminating"), json_bool(j, en->flags & LDMESH_EP_F_TERMINATING);
	json_key(j, "ejected"), json_bool(j, en->flags & LDMESH_EP_F_EJECTED);
	json_key(j, "node"), json_str(j, STR(en->node));
	json_key(j, "zone"), json_str(j, STR(en->zone));
	json_key(j, "hostname"), json_str(j, STR(en->hostname));
	json_key(j, "pod"), json_str(j, STR(en->target));
	json_close(j, '}');
}

static void ctl__services_json(const struct ctl *c, const uint32_t *order, uint32_t n)
{
	struct json j;
	char a[64];

	json_init(&j, c->out);
	json_open(&j, '{');
	json_key(&j, "generation"), json_u64(&j, c->snap->generation);
	json_key(&j, "baseGeneration");
	ctl__json_base(&j, c->snap);
	json_key(&j, "services"), json_open(&j, '[');
	for (uint32_t si = 0; si < n; si++) {
		struct ldmesh_service sv, *s = &sv;

		ctl_service(c->snap, order[si], s);
		json_open(&j, '{');
		json_key(&j, "namespace"), json_str(&j, STR(s->ns));
		json_key(&j, "name"), json_str(&j, STR(s->name));
		json_key(&j, "type"), json_str(&j, ctl_type_name(s));
		json_key(&j, "headless"), json_bool(&j, s->flags & LDMESH_SVC_F_HEADLESS);
		json_key(&j, "clusterIPs"), json_open(&j, '[');
		for (uint8_t k = 0; k < s->ip_count; k++)
			json_str(&j, ctl_addr(s->cluster_ips[k], a, sizeof(a)));
		json_close(&j, ']');
		json_key(&j, "externalName");
		if (s->type == LDMESH_SVC_EXTERNAL_NAME)
			json_str(&j, STR(s->external_name));
		else
			json_null(&j);
		json_key(&j, "sessionAffinity");
		json_str(&j, (s->flags & LDMESH_SVC_F_AFFINITY_CLIENT_IP) ? "ClientIP" : "None");
		json_key(&j, "internalTrafficPolicy");
		json_str(&j, (s->flags & LDMESH_SVC_F_INTERNAL_LOCAL) ? "Local" : "Cluster");
		json_key(&j, "ports"), json_open(&j, '[');
		for (uint32_t p = 0; p < s->port_count; p++) {
			struct ldmesh_port ptc, *pt = &ptc;

			ctl_port(c->snap, s->first_port + p, pt);
			json_open(&j, '{');
			json_key(&j, "name"), json_str(&j, STR(pt->name));
			json_key(&j, "port"), json_u64(&j, pt->port);
			json_key(&j, "protocol"), json_str(&j, ctl_proto_name(pt->protocol));
			json_key(&j, "targetPort");
			if (*STR(pt->target_port_name))
				json_str(&j, STR(pt->target_port_name));
			else
				json_u64(&j, pt->target_port);
			json_key(&j, "endpoints"), json_open(&j, '[');
			for (uint32_t e = 0; e < s->endpoint_count; e++)
				ctl__endpoint_json(c, &j, s, s->first_endpoint + e, p);
			json_close(&j, ']');
			json_close(&j, '}');
		}
		json_close(&j, ']');
		json_close(&j, '}');
	}
	json_close(&j, ']');
	json_close(&j, '}');
	json_end(&j);
}

int ctl_services(const struct ctl *c)
{
	uint32_t n, *order = ctl_sorted(c, &n);

	if (!order) {
		fprintf(stderr, "ldmeshctl: out of memory\n");
		return 1;
	}
	if (c->json)
		ctl__services_json(c, order, n);
	else
		ctl__services_text(c, order, n);
	free(order);
	return 0;
}

static int ctl__parse_target(const char *target, uint8_t addr[16], uint16_t *port,
			     uint8_t *proto)
{
	char host[64];
	const char *colon, *slash = strrchr(target, '/');
	size_t hlen;
	char *end;
	unsigned long p;

	*proto = LDMESH_PROTO_TCP;
	if (slash) {
		if (!strcasecmp(slash + 1, "udp"))
			*proto = LDMESH_PROTO_UDP;
		else if (!strcasecmp(slash + 1, "sctp"))
			*proto = LDMESH_PROTO_SCTP;
		else if (strcasecmp(slash + 1, "tcp"))
			return -1;
	}
	if (target[0] == '[') {
		const char *close = strchr(target, ']');
		if (!close || close[1] != ':')
			return -1;
		hlen = (size_t)(close - target - 1);
		if (hlen >= sizeof(host))
			return -1;
		memcpy(host, target + 1, hlen);
		colon = close + 1;
	} else {
		colon = strrchr(target, ':');
		if (!colon || (size_t)(colon - target) >= sizeof(host))
			return -1;
		hlen = (size_t)(colon - target);
		memcpy(host, target, hlen);
	}
	host[hlen] = 0;
	p = strtoul(colon + 1, &end, 10);
	if (end == colon + 1 || (*end && *end != '/') || p == 0 || p > 65535)
		return -1;
	*port = (uint16_t)p;
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, host, addr + 12) == 1) {
		addr[10] = addr[11] = 0xff;
		return 0;
	}
	return inet_pton(AF_INET6, host, addr) == 1 ? 0 : -1;
}

/* route of an SCTP port: in the table, but the preload redirects TCP and
 * UDP only: say what a connect really does. */
static int ctl__route_sctp(const struct ctl *c, const char *target, const struct ldmesh_service *s)
{
	if (c->json) {
		char svc[2 * LDMESH_STR_MAX + 2];
		struct json j;

		snprintf(svc, sizeof(svc), "%s/%s", STR(s->ns), STR(s->name));
		json_init(&j, c->out);
		json_open(&j, '{');
		json_key(&j, "service"), json_str(&j, svc);
		json_key(&j, "action"), json_str(&j, "pass");
		json_key(&j, "backends"), json_open(&j, '[');
		json_close(&j, ']');
		json_close(&j, '}');
		json_end(&j);
	} else {
		fprintf(c->out, "%s -> service %s/%s: SCTP is not redirected; "
			"connect passes through\n", target, STR(s->ns), STR(s->name));
	}
	return 1;
}

/* route -o json of a service port with `n` candidates from `first`. */
static int ctl__route_json(const struct ctl *c, const struct ldmesh_vip_slot *slot,
			   const struct ldmesh_service *s, uint32_t first, uint32_t n)
{
	char svc[2 * LDMESH_STR_MAX + 2], why[256];
	struct json j;

	json_init(&j, c->out);
	json_open(&j, '{');
	snprintf(svc, sizeof(svc), "%s/%s", STR(s->ns), STR(s->name));
	json_key(&j, "service"), json_str(&j, svc);
	json_key(&j, "via");
	json_str(&j, slot->kind == LDMESH_VIP_LOAD_BALANCER ? "load-balancer-ingress" :
		     slot->kind == LDMESH_VIP_EXTERNAL_IP ? "external-ip" : "cluster-ip");
	json_key(&j, "action");
	json_str(&j, !n ? "reject" : s->ready_count ? "ready" : "fallback-terminating");
	if (n) {
		json_key(&j, "rule"), json_str(&j, ctl_rule(c, s, why, sizeof(why)));
		json_key(&j, "zone"), json_str(&j, STR(c->snap->node_zone));
	}
	json_key(&j, "backends"), json_open(&j, '[');
	for (uint32_t e = first; e < first + n; e++)
		if (ldmesh_snap_endpoint_port(c->snap, s, e, slot->port_index))
			ctl__endpoint_json(c, &j, s, e, slot->port_index);
	json_close(&j, ']');
	json_close(&j, '}');
	json_end(&j);
	return 0;
}

/* route as text: the service port, the rule, one line a backend. */
static int ctl__route_text(const struct ctl *c, const char *target,
			   const struct ldmesh_vip_slot *slot, const struct ldmesh_service *s,
			   uint32_t first, uint32_t n)
{
	struct ldmesh_port pt;
	struct ldmesh_endpoint en;
	char a[64], why[256];

	ctl_port(c->snap, s->first_port + slot->port_index, &pt);
	fprintf(c->out, "%s -> service %s/%s port %s%s", target, STR(s->ns), STR(s->name),
		*STR(pt.name) ? STR(pt.name) : "(unnamed)",
		slot->kind == LDMESH_VIP_LOAD_BALANCER ? " (load-balancer ingress, short-circuited)" :
		slot->kind == LDMESH_VIP_EXTERNAL_IP ? " (external IP)" : "");
	if (!n) {
		fprintf(c->out, ": no endpoints; connect fails with ECONNREFUSED\n");
		return 0;
	}
	fprintf(c->out, ": %u %s backend(s)\n", n,
		s->ready_count ? "ready" : "terminating (no ready endpoint)");
	ctl_rule(c, s, why, sizeof(why));
	fprintf(c->out, "  rule: %s\n", why);
	for (uint32_t e = first; e < first + n; e++) {
		uint16_t p = ldmesh_snap_endpoint_port(c->snap, s, e, slot->port_index);
		if (p) {
			ctl_endpoint(c->snap, e, &en);
			fprintf(c->out, "  %s:%u\n", ctl_addr(en.addr, a, sizeof(a)), p);
		}
	}
	return 0;
}

int ctl_route(const struct ctl *c, const char *target)
{
	struct ldmesh_vip_slot slot;
	struct ldmesh_service s;
	uint32_t first, n;
	uint16_t port;
	uint8_t addr[16], proto;

	if (ctl__parse_target(target, addr, &port, &proto) < 0) {
		fprintf(stderr, "ldmeshctl: route %s: expected IP:PORT[/tcp|/udp|/sctp]\n", target);
		return 2;
	}
	if (!ldmesh_snap_find_vip(c->snap, addr, port, proto, &slot)) {
		if (c->json)
			fprintf(c->out, "{\"service\":null,\"action\":\"pass\",\"backends\":[]}\n");
		else
			fprintf(c->out, "%s: not a service; connect passes through\n", target);
		return 1;
	}
	ctl_service(c->snap, slot.service, &s);
	n = ldmesh_snap_candidates(&s, &first);
	if (proto == LDMESH_PROTO_SCTP)
		return ctl__route_sctp(c, target, &s);
	if (s.split_count && proto == LDMESH_PROTO_TCP && !c->json)
		fprintf(c->out, "%s: split by a TCPRoute among backend Services (ldmeshctl "
				"describe service %s); its own backends, for what no split takes:\n",
			target, STR(s.name));
	return c->json ? ctl__route_json(c, &slot, &s, first, n)
		       : ctl__route_text(c, target, &slot, &s, first, n);
}
