/* SPDX-License-Identifier: MIT */
/* ldmeshctl's commands, each printing one view of a pinned snapshot as
 * text, JSON or YAML (the JSON shapes are documented in the README). */
#ifndef LDMESH_AGENT_CTL_H
#define LDMESH_AGENT_CTL_H

#include <stdbool.h>
#include <stdio.h>

#include "ldmesh/reader.h"

enum ctl_output {
	CTL_OUT_TEXT,
	CTL_OUT_JSON,
	CTL_OUT_YAML,
	CTL_OUT_WIDE, /* get: the table with more columns */
};

struct ctl {
	FILE *out;
	bool json;                /* output == CTL_OUT_JSON */
	enum ctl_output output;
	const char *ns;           /* get/describe: the namespace, NULL for all */
	const char *table;        /* the directory, for status */
	const struct ldmesh_control *control; /* may be NULL */
	const struct ldmesh_snap *snap; /* NULL only for status --probe */
	const char *refused;      /* a newer generation refused (why), or NULL */
	const char *unusable;     /* no snapshot: why (the reader's words), or NULL */
};

int ctl_status(const struct ctl *c);
int ctl_services(const struct ctl *c);
/* "IP:PORT", "[IPv6]:PORT", optionally "/tcp", "/udp" or "/sctp".
 * Returns 0 when the address is a service, 1 when it is not, 2 on bad input. */
int ctl_route(const struct ctl *c, const char *target);
/* 0 when the name is answered from the table, 1 when not. */
int ctl_resolve(const struct ctl *c, const char *name);
/* ldmesh-dns's answer for NAME (TYPE, default A): 0 NOERROR, 1 otherwise. */
int ctl_dig(const struct ctl *c, const char *name, const char *type);

/* get services [NAME] and describe service [NAME] in c->ns (all when
 * NULL); `name` may be NULL for every service. 0, or 1 when NAME is not
 * there (said on stderr, as kubectl says it). */
int ctl_get_services(const struct ctl *c, const char *name);
int ctl_describe_services(const struct ctl *c, const char *name);
/* The sorted services in c->ns (all when NULL) named `name` (any when
 * NULL), as ctl_sorted. */
uint32_t *ctl_select(const struct ctl *c, const char *name, uint32_t *n);
/* Say on stderr that nothing matched, as kubectl says it: 1 for a NAME
 * not found, 0 for an empty namespace (kubectl's exit codes). */
int ctl_none_found(const struct ctl *c, const char *name);

/* top: per Service, from the agent's /metrics (top.c). */
struct ctl_top_opts {
	const char *url;     /* http://ADDR:PORT/metrics */
	const char *table;   /* for the ejected backends */
	double interval_s;   /* between frames */
	bool once;           /* one frame: totals since the agent started */
};
/* 0, or 1 when the agent cannot be read (said on stderr). */
int ctl_top(const struct ctl_top_opts *o, FILE *out);

/* ---- the agent's liveness (live.c) ---------------------------------- */

/* The control page's heartbeat (snapshot.h, 3.4) read against this
 * process's monotonic clock. */
struct ctl_live {
	bool known;       /* the page has a heartbeat at all */
	bool alive;       /* and it is at most CTL_LIVE_MAX_AGE_NS old */
	uint32_t pid;     /* who keeps it */
	uint64_t age_ns;  /* valid when known */
};
void ctl_live(const struct ldmesh_control *control, struct ctl_live *l);
/* "alive (pid N, heartbeat 0.3 s ago)", "not answering (...)": for status. */
const char *ctl_live_say(const struct ctl_live *l, char *buf, size_t len);
/* status --probe live|ready: one line on c->out; 0 when it passes, 1 when
 * not. c->snap may be NULL (nothing published yet). */
int ctl_probe(const struct ctl *c, const char *what);

/* ---- shared by the views (view.c) ----------------------------------- */

/* A snapshot string copied out, NUL-terminated, in one of eight rotating
 * buffers (more than one printf here takes). */
const char *ctl_str(const struct ctl *c, ldmesh_str_t ref);
#define STR(ref) ctl_str(c, (ref)) /* with a `c` in scope */
/* Record `i`, checked; a damaged one reads as zeros (no ports, no
 * endpoints), so a tool shows what it can of a damaged table. */
void ctl_service(const struct ldmesh_snap *s, uint32_t i, struct ldmesh_service *out);
void ctl_port(const struct ldmesh_snap *s, uint32_t i, struct ldmesh_port *out);
void ctl_endpoint(const struct ldmesh_snap *s, uint32_t i, struct ldmesh_endpoint *out);
/* Text of an IPv4-mapped-or-IPv6 address. */
const char *ctl_addr(const uint8_t addr[16], char *buf, size_t len);
const char *ctl_proto_name(uint8_t protocol);
const char *ctl_type_name(const struct ldmesh_service *s);
/* The ClusterIPs, comma-separated; "None" when headless, "<none>". */
void ctl_ips(const struct ctl *c, const struct ldmesh_service *s, char *buf, size_t len);
/* "ready", "terminating" (serving too) or "not-ready". */
const char *ctl_ep_state(uint32_t flags);
/* The listed services' unified indexes, sorted by namespace then name;
 * caller-owned (free), NULL when out of memory. */
uint32_t *ctl_sorted(const struct ctl *c, uint32_t *n);
/* Which of kube-proxy's rules chose a service's backends on this node:
 * a short name (json) and a sentence in `why`. */
const char *ctl_rule(const struct ctl *c, const struct ldmesh_service *s,
		     char *why, size_t len);

/* A text table in kubectl's layout: columns as wide as their widest
 * cell, three spaces apart, no borders. */
#define CTL_GRID_COLS 10
struct ctl_grid {
	size_t cols, rows, cap;  /* cols <= CTL_GRID_COLS, set by the caller */
	char **cells;            /* rows x cols, each owned */
	bool oom;                /* a row could not be kept: print nothing */
	const char *indent;      /* before each row, or NULL */
};
void ctl_grid_add(struct ctl_grid *g, const char *const *row); /* cols cells */
void ctl_grid_print(const struct ctl_grid *g, FILE *f);
void ctl_grid_free(struct ctl_grid *g);

#endif
