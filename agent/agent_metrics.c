/* SPDX-License-Identifier: MIT */
/* The metrics tied to the agent: its table names the VIPs, its loop
 * serves /metrics (agent_metrics.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "agent_metrics.h"
#include "metrics_http.h"
#include "inbox.h"
#include "log.h"
#include "metrics.h"
#include "metrics_snap.h"

struct agent_metrics {
	struct metrics m;
	struct metrics_http http;
	struct ldmesh_table table; /* our own table, read as pods read it */
	bool table_ok;
	const struct ldmesh_snap *snap; /* pinned while a datagram is added */
	double start_s;
	uint64_t first_generation;
	struct agent *a;
};

static bool agent_metrics__resolve(void *ctx, const uint8_t vip[16], uint16_t port,
				   uint8_t protocol, struct metrics_service *out)
{
	struct agent_metrics *am = ctx;

	return metrics_resolve_snap(am->snap, vip, port, protocol, out);
}

static struct metrics_view *agent_metrics__view(void *ctx)
{
	struct agent_metrics *am = ctx;
	struct metrics_agent_info ai = {
		.generation = am->a->pub.generation,
		.publishes = am->a->pub.generation - am->first_generation,
		.start_time_s = am->start_s,
		.scrapes = am->http.scrapes + 1, /* this one */
		.http_refused = am->http.refused,
	};
	const struct inbox_stats *st = am->a->inbox ? inbox_stats(am->a->inbox) : NULL;

	if (st) {
		ai.inbox_received = st->received;
		ai.inbox_invalid = st->invalid;
		ai.inbox_rate_limited = st->rate_limited;
		ai.inbox_unhandled = st->unhandled;
	}

	return metrics_view_take(&am->m, &ai);
}

/* The inbox's handler for LDMESH_REPORT_COUNTS: checked already. The
 * table is pinned for the datagram, so its VIPs are named by one
 * generation. */
static void agent_metrics__on_counts(void *ctx, const struct inbox_msg *msg)
{
	struct agent_metrics *am = ctx;
	int slot = -1;

	am->snap = am->table_ok ? ldmesh_table_acquire(&am->table, &slot) : NULL;
	metrics_ingest_entries(&am->m, msg->source, msg->entries, msg->count, msg->entry_size,
			       agent_now_ns(CLOCK_MONOTONIC) / 1000000000ULL,
			       agent_metrics__resolve, am);
	if (am->snap)
		ldmesh_table_release(&am->table, slot);
	am->snap = NULL;
}

int agent_metrics_open(struct agent *a)
{
	struct agent_metrics *am;
	char why[300];
	int err;

	if (!a->o.metrics_addr)
		return 0;
	am = calloc(1, sizeof(*am));
	if (!am)
		return -ENOMEM;
	am->a = a;
	am->start_s = (double)agent_now_ns(CLOCK_REALTIME) / 1e9;
	am->first_generation = a->pub.generation;
	err = metrics_init(&am->m, a->o.metrics_max_series ? a->o.metrics_max_series
							    : METRICS_MAX_SERIES_DEFAULT);
	if (err < 0) {
		log_error("--metrics-max-series: %s", strerror(-err));
		free(am);
		return err;
	}
	am->table_ok = ldmesh_table_init(&am->table, a->o.table, &ldmesh_reader_libc, NULL,
					 NULL) == 0;
	err = metrics_http_open(&am->http, a->o.metrics_addr, agent_metrics__view, am, why,
				sizeof(why));
	if (err < 0) {
		log_error("--metrics %s", why);
		if (am->table_ok)
			ldmesh_table_close(&am->table);
		metrics_fini(&am->m);
		free(am);
		return err;
	}
	log_info("serving metrics on http://%s/metrics (at most %zu series)", a->o.metrics_addr,
		 am->m.max_series);
	a->metrics = am;
	if (a->inbox)
		inbox_on(a->inbox, LDMESH_REPORT_COUNTS, agent_metrics__on_counts, am);
	/* processes count only while someone serves the counts */
	a->pub.control_flags |= LDMESH_CONTROL_F_METRICS;
	publish_heartbeat(&a->pub);
	return 0;
}

void agent_metrics_close(struct agent *a)
{
	struct agent_metrics *am = a->metrics;

	if (!am)
		return;
	if (a->inbox)
		inbox_on(a->inbox, LDMESH_REPORT_COUNTS, NULL, NULL);
	/* the flag stays as it is: a process counting across an agent's
	 * restart sends to the next one, which sets its own at once */
	metrics_http_close(&am->http);
	metrics_fini(&am->m);
	if (am->table_ok)
		ldmesh_table_close(&am->table);
	free(am);
	a->metrics = NULL;
}

unsigned agent_metrics_pollfds(struct agent *a, struct pollfd *fds)
{
	return a->metrics ? metrics_http_pollfds(&a->metrics->http, fds) : 0;
}

void agent_metrics_handle(struct agent *a, const struct pollfd *fds, unsigned n)
{
	if (a->metrics)
		metrics_http_handle(&a->metrics->http, fds, n, agent_now_ns(CLOCK_MONOTONIC));
}

void agent_metrics_timeout(struct agent *a, int *timeout)
{
	int ms = a->metrics ? metrics_http_timeout_ms(&a->metrics->http,
						      agent_now_ns(CLOCK_MONOTONIC))
			    : -1;

	if (ms >= 0 && (*timeout < 0 || ms < *timeout))
		*timeout = ms;
}

void agent_metrics_each_second(struct agent *a)
{
	if (a->metrics)
		metrics_expire(&a->metrics->m, agent_now_ns(CLOCK_MONOTONIC) / 1000000000ULL,
			       METRICS_IDLE_S);
}
