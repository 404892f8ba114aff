/* SPDX-License-Identifier: MIT */
/* One series and its key, shared by the store (series.c) and the
 * exposition (expo.c). */
#ifndef LDMESH_AGENT_METRICS_SERIES_PRIV_H
#define LDMESH_AGENT_METRICS_SERIES_PRIV_H

#include <stdint.h>

#include "metrics.h"

/* Who counted, what they dialled, where it went. Zero-filled before
 * use, so it hashes and compares as bytes. A VIP the table knows is keyed
 * by its Service (vip zero: a dual-stack Service is one series); one it
 * does not know, by its address. */
struct metrics_key {
	char src_ns[64];
	char src_pod[64];
	struct metrics_service svc; /* all empty for an unknown VIP */
	uint8_t vip[16];
	uint8_t backend[16];
	uint16_t vip_port;
	uint16_t backend_port;
	uint8_t protocol;
	uint8_t pad[3];
};

struct metrics_series {
	struct metrics_series *next;       /* in its bucket */
	struct metrics_series *prev_all, *next_all;
	uint64_t hash;
	uint64_t touched_s;
	struct metrics_key key;
	char *labels; /* the rendered label pairs, escaped, owned */
	uint64_t opened, closed, failovers, ejections;
	uint64_t failed[LDMESH_FAIL_REASONS];
	uint64_t latency[LDMESH_LATENCY_BUCKETS]; /* per bucket, not cumulative */
	uint64_t latency_us_sum;
	uint64_t bytes_sent, bytes_received;
	uint64_t rtt_us_sum, rtt_count;
};

/* The label pairs of `k`, escaped for the exposition; caller-owned, NULL
 * when out of memory (expo.c). */
char *metrics_labels(const struct metrics_key *k);

#endif
