/* SPDX-License-Identifier: MIT */
/*
 * Node-wide health, the agent's side (agent.h: agent_health_*): failure
 * reports from the inbox (ldmesh/report.h) are believed only when they
 * name a ready endpoint of the table, a backend's address and a port it
 * serves; then the agent probes it itself (health.h) and ejects it only
 * when its own probe fails. What is ejected or re-admitted is published at
 * once, not after the folder's settle delay, as a delta of the Services
 * that hold the backend; the snapshot writer orders it out of their chosen
 * endpoints (snap_block.c), so every process on the node follows with no
 * change on its connect path.
 */
#define _GNU_SOURCE
#include "agent.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define AGENT_HEALTH_INTERVAL_MS 5000
#define AGENT_MAX_EJECTION_PERCENT 50
/* Entries of one failure report looked at: a process reports the few
 * backends it just failed on; a datagram of thousands is a flood. */
#define AGENT_REPORT_ENTRIES 16

/* Whether endpoint `e` of `s` is backend `b`: its address, serving b's
 * port. */
static bool agent__serves(const struct snap_service_in *s, const struct snap_endpoint_in *e,
			  const struct health_backend *b)
{
	if (memcmp(e->addr, b->addr, 16) || !e->ports)
		return false;
	for (size_t p = 0; p < s->n_ports; p++)
		if (e->ports[p] == b->port && s->ports[p].protocol == LDMESH_PROTO_TCP)
			return true;
	return false;
}

/* The model's ready (address, TCP target port) pairs, sorted, deduped. */
static int agent__collect_backends(struct agent *a)
{
	struct snap_ejected_backend *v;
	size_t n = 0, k = 0;

	for (size_t i = 0; i < a->model.n_services; i++)
		for (size_t e = 0; e < a->model.services[i].n_endpoints; e++)
			n += a->model.services[i].n_ports;
	v = malloc((n ? n : 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < a->model.n_services; i++) {
		const struct snap_service_in *s = &a->model.services[i];
		for (size_t e = 0; e < s->n_endpoints; e++) {
			const struct snap_endpoint_in *ep = &s->endpoints[e];
			if (!(ep->flags & LDMESH_EP_F_READY) || !ep->ports)
				continue;
			for (size_t p = 0; p < s->n_ports; p++)
				if (ep->ports[p] && s->ports[p].protocol == LDMESH_PROTO_TCP) {
					memcpy(v[k].addr, ep->addr, 16);
					v[k++].port = ep->ports[p];
				}
		}
	}
	qsort(v, k, sizeof(*v), snap_ejected_cmp);
	n = 0;
	for (size_t i = 0; i < k; i++)
		if (!n || snap_ejected_cmp(&v[n - 1], &v[i]))
			v[n++] = v[i];
	free(a->backends);
	a->backends = v;
	a->n_backends = n;
	return 0;
}

static bool agent__is_backend(void *ctx, const struct health_backend *b)
{
	struct agent *a = ctx;
	struct snap_ejected_backend key = { .port = b->port };

	memcpy(key.addr, b->addr, 16);
	return bsearch(&key, a->backends, a->n_backends, sizeof(key), snap_ejected_cmp) != NULL;
}

/* The ejected set as the snapshot reads it: health's, sorted. */
static void agent__ejected_refresh(struct agent *a)
{
	struct health_backend v[HEALTH_EJECTED_MAX];
	size_t n = a->health ? health_ejected(a->health, v, HEALTH_EJECTED_MAX) : 0;

	for (size_t i = 0; i < n; i++) {
		memcpy(a->ejected_v[i].addr, v[i].addr, 16);
		a->ejected_v[i].port = v[i].port;
	}
	qsort(a->ejected_v, n, sizeof(a->ejected_v[0]), snap_ejected_cmp);
	a->ejected.v = a->ejected_v;
	a->ejected.n = n;
}

/* The index of backends for the model as last published: built again
 * after each publish (generation + 1 is stored, so 0 means never). A
 * backend gone from the table is forgotten: ejected or not, it has no
 * Service left to be ordered out of. */
static int agent__backends(struct agent *a)
{
	int err;

	if (a->backends_gen == a->model.in.generation + 1)
		return 0;
	if ((err = agent__collect_backends(a)))
		return err;
	a->backends_gen = a->model.in.generation + 1;
	if (health_forget(a->health, agent__is_backend, a)) {
		log_info("forgot ejected backends no longer in the table");
		agent__ejected_refresh(a);
		agent_write_status(a);
	}
	return 0;
}

static void agent__on_failures(void *ctx, const struct inbox_msg *m)
{
	struct agent *a = ctx;
	uint64_t now = agent_now_ns(CLOCK_MONOTONIC);

	if (agent__backends(a) < 0)
		return;
	for (uint32_t i = 0; i < m->count && i < AGENT_REPORT_ENTRIES; i++) {
		struct ldmesh_report_failure f;
		struct health_backend b;

		memcpy(&f, m->entries + (size_t)i * m->entry_size, sizeof(f));
		memcpy(b.addr, f.addr, 16);
		b.port = f.port;
		/* the probe is a TCP connect: other protocols are not judged */
		if (f.protocol != LDMESH_PROTO_TCP || !f.reason || f.reason >= LDMESH_FAIL_REASONS ||
		    !agent__is_backend(a, &b))
			continue;
		(void)health_suspect(a->health, &b, now);
	}
}

static void agent__health_changed(void *ctx, const struct health_backend *b, bool ejected,
				  const char *why)
{
	struct agent *a = ctx;

	if (ejected)
		log_warn("backend ejected for every process on the node: %s; re-checked after "
			 "%u ms, then less often", why, a->o.health_interval_ms);
	else
		log_info("backend re-admitted: %s", why);
	if (a->n_changed < HEALTH_PROBES)
		a->changed[a->n_changed++] = *b;
	else
		a->changed_lost = true;
	agent__ejected_refresh(a);
}

void agent_health_init(struct agent *a)
{
	struct health_opts ho;

	if (!a->o.health_interval_ms)
		a->o.health_interval_ms = AGENT_HEALTH_INTERVAL_MS;
	if (!a->o.max_ejection_percent)
		a->o.max_ejection_percent = AGENT_MAX_EJECTION_PERCENT;
	a->ejected = (struct snap_ejected){ .v = a->ejected_v,
					    .max_percent = a->o.max_ejection_percent };
	if (a->o.no_health || !a->inbox)
		return;
	ho = (struct health_opts){ .interval_ms = a->o.health_interval_ms,
				   .changed = agent__health_changed, .ctx = a };
	if (health_new(&ho, &a->health) < 0) {
		log_error("health: out of memory; failure reports are not acted on");
		return;
	}
	inbox_on(a->inbox, LDMESH_REPORT_FAILURES, agent__on_failures, a);
}

size_t agent_health_pollfds(struct agent *a, struct pollfd *fds, size_t cap)
{
	return a->health ? health_pollfds(a->health, fds, cap) : 0;
}

int agent_health_timeout_ms(const struct agent *a)
{
	return a->health ? health_timeout_ms(a->health, agent_now_ns(CLOCK_MONOTONIC)) : -1;
}

/* Whether service `s` holds a backend ejected or re-admitted since the
 * last publish. */
static bool agent__touched(const struct agent *a, const struct snap_service_in *s)
{
	if (a->changed_lost)
		return true;
	for (size_t e = 0; e < s->n_endpoints; e++)
		for (size_t k = 0; k < a->n_changed; k++)
			if (agent__serves(s, &s->endpoints[e], &a->changed[k]))
				return true;
	return false;
}

/* Publish the Services holding what changed, as a delta. A model that
 * could not be resolved last time is not built on: a full publish. */
static void agent__health_publish(struct agent *a)
{
	struct snap_change *ch;
	size_t n = 0;

	if (!a->n_changed && !a->changed_lost)
		return;
	if (a->need_full || !a->pub.generation) {
		(void)agent_publish(a);
	} else if ((ch = malloc((a->model.n_services + 1) * sizeof(*ch)))) {
		for (size_t i = 0; i < a->model.n_services; i++) {
			const struct snap_service_in *s = &a->model.services[i];
			if (agent__touched(a, s))
				ch[n++] = (struct snap_change){ .ns = s->ns ? s->ns : "",
								.name = s->name ? s->name : "",
								.svc = s };
		}
		(void)agent_publish_services(a, ch, n);
		free(ch);
	} else {
		log_error("health: out of memory; publishing the whole table");
		(void)agent_publish(a);
	}
	a->n_changed = 0;
	a->changed_lost = false;
	agent_write_status(a);
}

void agent_health_step(struct agent *a, const struct pollfd *fds, size_t n)
{
	if (!a->health)
		return;
	/* after a publish from the folder: an ejected backend gone from it
	 * is forgotten now, not at the next report */
	if (a->ejected.n)
		(void)agent__backends(a);
	health_step(a->health, fds, n, agent_now_ns(CLOCK_MONOTONIC));
	agent__health_publish(a);
}

size_t agent_health_status(const struct agent *a, char *out, size_t cap)
{
	struct health_backend v[HEALTH_EJECTED_MAX];
	uint64_t now = agent_now_ns(CLOCK_MONOTONIC);
	size_t n = a->health ? health_ejected(a->health, v, HEALTH_EJECTED_MAX) : 0, len = 0;

	if (a->inbox && len < cap) {
		const struct inbox_stats *st = inbox_stats(a->inbox);
		len += (size_t)snprintf(out + len, cap - len,
					"reports received=%" PRIu64 " accepted=%" PRIu64
					" invalid=%" PRIu64 " rate-limited=%" PRIu64
					" unhandled=%" PRIu64 " senders-evicted=%" PRIu64 "\n",
					st->received, st->accepted, st->invalid, st->rate_limited,
					st->unhandled, st->evicted);
	}
	if (a->health && len < cap) {
		const struct health_stats *hs = health_stats(a->health);
		len += (size_t)snprintf(out + len, cap - len,
					"health suspected=%" PRIu64 " probes=%" PRIu64
					" ejections=%" PRIu64 " readmissions=%" PRIu64
					" dropped=%" PRIu64 " skipped=%" PRIu64 "\n",
					hs->suspected, hs->probes, hs->ejections,
					hs->readmissions, hs->dropped, hs->skipped);
	}
	for (size_t i = 0; i < n && len < cap; i++) {
		char addr[INET6_ADDRSTRLEN];
		uint64_t next = health_next_check(a->health, &v[i]);
		bool v4 = !memcmp(v[i].addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12);

		inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? v[i].addr + 12 : v[i].addr, addr,
			  sizeof(addr));
		len += (size_t)snprintf(out + len, cap - len, "ejected %s%s%s:%u\tnext-check-ms %"
					PRIu64 "\n", v4 ? "" : "[", addr, v4 ? "" : "]",
					v[i].port, next > now ? (uint64_t)((next - now) / 1000000U) : (uint64_t)0);
	}
	return len < cap ? len : cap ? cap - 1 : 0;
}

void agent_health_fini(struct agent *a)
{
	health_free(a->health);
	a->health = NULL;
	free(a->backends);
	a->backends = NULL;
}
