/* SPDX-License-Identifier: MIT */
/*
 * One resource's reflector (reflector.c), driven by the loop (loop.c):
 * private to ldmesh-sync. The states are drawn in reflector.h.
 */
#ifndef LDMESH_SYNC_RF_H
#define LDMESH_SYNC_RF_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

#include "decode.h"
#include "folder.h"
#include "http.h"
#include "reflector.h"
#include "resources.h"

struct json_object;

enum rf_state { RF_WAIT, RF_LIST, RF_WATCH, RF_ABSENT, RF_OFF };

/* Why a transfer was cut short from inside the write callback. */
enum rf_abort { RF_OK, RF_ABORT_GONE, RF_ABORT_BAD, RF_ABORT_ERROR_EVENT };

struct rf {
	const struct sync_resource *res;
	const struct sync_opts *o;
	enum rf_state state;
	bool listing;        /* next request (or this one) is a list page */
	bool synced;         /* a complete list has been written */
	char *cont;          /* continue token of the list in progress */
	char *rv;            /* resume point: the last version seen */
	struct sync_names seen; /* file names of the list in progress */
	struct sync_http_req req;
	struct sync_decoder dec;
	struct json_object *page;
	char body[512];      /* a non-200 answer's start, for the message */
	size_t body_len;
	enum rf_abort abort;
	unsigned events;     /* events in the current watch */
	unsigned failures;   /* in a row */
	unsigned gone_streak; /* 410s with no event between them */
	double next_at, started;
	double lost_since;   /* 0 while the server answers */
};

/* 0 or -ENOMEM. A this_node resource without a node name starts RF_OFF. */
int rf_init(struct rf *r, const struct sync_resource *res, const struct sync_opts *o);
void rf_free(struct rf *r, CURLM *multi);

/* Start the request the state calls for (state RF_WAIT, next_at due). */
void rf_start(struct rf *r, CURLM *multi, double now);

/* The request ended with `res`: move to the next state. */
void rf_done(struct rf *r, CURLcode res, double now);

/* CLOCK_MONOTONIC in seconds. */
double rf_now(void);

#endif
