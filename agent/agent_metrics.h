/* SPDX-License-Identifier: MIT */
/*
 * The agent's metrics (metrics/): the counters datagrams added up per
 * series, and /metrics served on --metrics inside the loop (agent.c polls
 * the server's sockets with its own). Off (every call a no-op) unless
 * --metrics names an address.
 */
#ifndef LDMESH_AGENT_AGENT_METRICS_H
#define LDMESH_AGENT_AGENT_METRICS_H

#include <poll.h>
#include <stddef.h>

#include "metrics_http.h"

struct agent;

/* Listen on a->o.metrics_addr and take the inbox's counters datagrams
 * (inbox_on: added up, their VIPs named by the table in force). 0 (or
 * off), or -errno (reported). */
int agent_metrics_open(struct agent *a);
void agent_metrics_close(struct agent *a);

/* The loop's part: descriptors to poll (into fds[0, METRICS_HTTP_FDS),
 * returns the count), what poll said of them, the next deadline (lowers
 * *timeout, -1 meaning none), and the once-a-second expiry. */
unsigned agent_metrics_pollfds(struct agent *a, struct pollfd *fds);
void agent_metrics_handle(struct agent *a, const struct pollfd *fds, unsigned n);
void agent_metrics_timeout(struct agent *a, int *timeout);
void agent_metrics_each_second(struct agent *a);

#endif
