/* SPDX-License-Identifier: MIT */
/* The loop: every resource's reflector on one curl multi handle, one
 * thread, and the marker that says the folder is in step. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "log.h"
#include "marker.h"
#include "rf.h"

struct sync_loop {
	struct rf *rf;
	size_t n;
	bool marker_on, said_synced;
	double marker_at;
};

static void loop__marker(struct sync_loop *l, const struct sync_opts *o, double now)
{
	bool all_synced = true, healthy = true;
	double lost = 0;
	int ret;

	for (size_t i = 0; i < l->n; i++) {
		struct rf *r = &l->rf[i];

		if (r->state == RF_ABSENT || r->state == RF_OFF)
			continue;
		all_synced &= r->synced;
		if (r->lost_since) {
			healthy = false;
			if (now - r->lost_since > lost)
				lost = now - r->lost_since;
		}
	}
	if (all_synced && healthy) {
		if (l->marker_on && now - l->marker_at < SYNC_MARKER_REFRESH)
			return;
		ret = sync_marker_write(o->dir, time(NULL));
		if (ret) {
			log_error("%s/%s: %s", o->dir, SYNC_MARKER_NAME, strerror(-ret));
			return;
		}
		if (!l->said_synced || !l->marker_on)
			log_info("synced: %s/%s written", o->dir, SYNC_MARKER_NAME);
		l->said_synced = l->marker_on = true;
		l->marker_at = now;
	} else if (l->marker_on && lost > o->lost_after) {
		ret = sync_marker_remove(o->dir);
		if (ret) {
			log_error("%s/%s: %s", o->dir, SYNC_MARKER_NAME, strerror(-ret));
			return;
		}
		log_error("the API server has been unreachable for %.0f s: %s/%s removed",
			  lost, o->dir, SYNC_MARKER_NAME);
		l->marker_on = false;
	}
}

static int loop__init(struct sync_loop *l, const struct sync_opts *o)
{
	int ret;

	l->rf = calloc(sync_n_resources, sizeof(*l->rf));
	if (!l->rf)
		return -ENOMEM;
	l->n = sync_n_resources;
	for (size_t i = 0; i < l->n; i++) {
		ret = rf_init(&l->rf[i], &sync_resources[i], o);
		if (ret)
			return ret;
	}
	return 0;
}

static void loop__free(struct sync_loop *l, CURLM *multi)
{
	for (size_t i = 0; l->rf && i < l->n; i++)
		rf_free(&l->rf[i], multi);
	free(l->rf);
}

static void loop__completed(struct sync_loop *l, CURLM *multi, double now)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(multi, &left))) {
		struct rf *r = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		CURLcode res = m->data.result;
		curl_multi_remove_handle(multi, m->easy_handle);
		rf_done(r, res, now);
		sync_http_req_free(&r->req);
	}
}

int sync_run(const struct sync_opts *o)
{
	struct sync_loop l = { 0 };
	CURLM *multi = curl_multi_init();
	int ret, running;

	if (!multi)
		return -ENOMEM;
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());
	ret = loop__init(&l, o);
	if (ret)
		goto out;
	while (!*o->stop) {
		double now = rf_now(), wait = 1.0;

		for (size_t i = 0; i < l.n; i++) {
			struct rf *r = &l.rf[i];

			if (r->state == RF_WAIT && r->next_at <= now)
				rf_start(r, multi, now);
		}
		curl_multi_perform(multi, &running);
		loop__completed(&l, multi, rf_now());
		now = rf_now();
		loop__marker(&l, o, now);
		for (size_t i = 0; i < l.n; i++)
			if (l.rf[i].state == RF_WAIT && l.rf[i].next_at - now < wait)
				wait = l.rf[i].next_at - now;
		if (wait > 0)
			curl_multi_poll(multi, NULL, 0, (int)(wait * 1000) + 1, NULL);
	}
out:
	loop__free(&l, multi);
	curl_multi_cleanup(multi);
	return ret;
}
