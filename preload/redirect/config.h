/* SPDX-License-Identifier: MIT */
/*
 * Everything the preload reads from its environment, once, at init: the
 * LDMESH_* variables (via secure_getenv, so a setuid program gets the
 * defaults), the pod's namespace, and the resolver's search list and ndots.
 */
#ifndef LDMESH_PRELOAD_CONFIG_H
#define LDMESH_PRELOAD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "export.h"
#include "ldmesh/reader.h"
#include "outlier.h"

#define CONFIG_NS_MAX 63          /* a namespace is a DNS-1123 label */
#define CONFIG_HOST_MAX 64        /* HOST_NAME_MAX on Linux */
#define CONFIG_SEARCH_MAX 32      /* kubelet's MaxDNSSearchPaths */
#define CONFIG_SEARCH_CHARS 2048  /* kubelet's MaxDNSSearchListChars */
#define CONFIG_NDOTS_MAX 15       /* glibc's RES_MAXNDOTS caps ndots: too */
#define CONFIG_RESOLV_MAX 16384   /* resolv.conf is read up to this much */
#define CONFIG_ATTEMPTS_MAX 10    /* a connect tries at most this many backends */
#define CONFIG_CONNECT_TIMEOUT_DEFAULT 3 /* s, LDMESH_CONNECT_TIMEOUT */
#define CONFIG_CONNECT_TIMEOUT_MAX 127   /* s: 6 SYN retries */
#define CONFIG_BAD_MAX 8          /* the LDMESH_* variables that can be wrong */

#define CONFIG_RESOLV_DEFAULT "/etc/resolv.conf"
#define CONFIG_NS_FILE "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

enum config_trace {
	CONFIG_TRACE_OFF = 0,
	CONFIG_TRACE_ON = 1,
	CONFIG_TRACE_STACK = 2,
};

/* An LDMESH_* variable whose value is not used, and what is instead: the
 * trace says it once, at init (config_load cannot: the trace is not open
 * yet). */
struct config_bad {
	const char *name;               /* "LDMESH_CONNECT_ATTEMPTS" */
	const char *why;                /* "not a whole number from 1 to 10" */
	char value[40];                 /* what it held, cut, unprintable as '?' */
	char instead[40];               /* what is used, "3" */
};

struct preload_config {
	bool disabled;                  /* LDMESH_DISABLE=1 */
	enum config_trace trace;        /* LDMESH_TRACE */
	char trace_file[LDMESH_PATH_MAX]; /* LDMESH_TRACE_FILE, "" = stderr */
	char table_dir[LDMESH_PATH_MAX];  /* LDMESH_TABLE */
	char ns[CONFIG_NS_MAX + 1];     /* the pod's namespace */
	char hostname[CONFIG_HOST_MAX + 1];
	uint64_t client_hash;           /* sessionAffinity key of this pod */
	unsigned connect_attempts;      /* LDMESH_CONNECT_ATTEMPTS: backends a
	                                   blocking connect tries, 1 = no failover */
	unsigned connect_syncnt;        /* LDMESH_CONNECT_TIMEOUT as the TCP_SYNCNT
	                                   of a redirected connect, 0 = the kernel's */
	struct outlier_config outlier;  /* LDMESH_OUTLIER_* */
	unsigned ndots;
	unsigned n_search;
	uint16_t search_off[CONFIG_SEARCH_MAX]; /* into search_buf */
	char search_buf[CONFIG_SEARCH_CHARS];   /* lower-case, no end dots */
	unsigned n_bad;
	struct config_bad bad[CONFIG_BAD_MAX];
};

/* White space between words of resolv.conf and /etc/hosts lines. */
static inline bool config_is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Read the environment and files into `c`. Never fails: whatever cannot be
 * read keeps its default. */
void config_load(struct preload_config *c) LDMESH_HIDDEN;

/* Defaults only (ndots 1, no search list, namespace "default"). */
void config_defaults(struct preload_config *c) LDMESH_HIDDEN;

/* Parse resolv.conf text the way glibc's res_init does for the keys that
 * matter here: the last `search` or `domain` line wins, `options ndots:N`. */
void config_parse_resolv(struct preload_config *c, const char *text,
			 size_t len) LDMESH_HIDDEN;

/* Replace the search list with the blank-separated domains in `list`
 * (a `search` line's arguments, or $LOCALDOMAIN). */
void config_set_search(struct preload_config *c, const char *list,
		       size_t len) LDMESH_HIDDEN;

/* Apply resolver options ("ndots:3 timeout:1"), as from $RES_OPTIONS. */
void config_parse_options(struct preload_config *c, const char *opts,
			  size_t len) LDMESH_HIDDEN;

static inline const char *config_search(const struct preload_config *c,
					unsigned i)
{
	return c->search_buf + c->search_off[i];
}

#endif
