/* SPDX-License-Identifier: MIT */
/* One resource's list/watch state machine (the drawing is in reflector.h):
 * the requests it makes, the answers and events it reads, the files it
 * writes. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "backoff.h"
#include "event.h"
#include "log.h"
#include "object.h"
#include "rf.h"

double rf_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *rf__what(const struct rf *r)
{
	return r->listing ? "list" : "watch";
}

static void rf__set_rv(struct rf *r, const char *rv)
{
	char *dup;

	if (!rv || !*rv || (r->rv && !strcmp(r->rv, rv)))
		return;
	dup = strdup(rv);
	if (!dup)
		return; /* keep the older version: resuming there is safe */
	free(r->rv);
	r->rv = dup;
}

static void rf__restart_list(struct rf *r)
{
	r->listing = true;
	free(r->cont);
	r->cont = NULL;
	sync_names_free(&r->seen);
}

/* 410: the version is gone, list again. At once the first time, as
 * client-go does; a server that answers every fresh list's version with
 * 410 again is backed off, not hammered. */
static void rf__relist(struct rf *r, double now)
{
	r->gone_streak++;
	rf__restart_list(r);
	r->state = RF_WAIT;
	r->next_at = now;
	if (r->gone_streak > 1)
		r->next_at += sync_backoff(r->gone_streak - 1,
					   (double)random() / ((double)RAND_MAX + 1));
}

static void rf__fail(struct rf *r, double now, bool lost)
{
	double delay;

	r->failures++;
	if (lost && !r->lost_since)
		r->lost_since = now;
	/* A list is consistent only whole: after a failure it restarts. */
	if (r->listing)
		rf__restart_list(r);
	delay = sync_backoff(r->failures, (double)random() / ((double)RAND_MAX + 1));
	r->next_at = now + delay;
	r->state = RF_WAIT;
	log_debug("%s: retrying in %.1f s", r->res->name, delay);
}

/* ---- objects -------------------------------------------------------- */

/* Write one object; its file name into file. 0, -EINVAL (a name that is
 * not one: logged, skipped), or -errno of the write (logged). */
static int rf__put(struct rf *r, struct json_object *obj, const char *name,
		   const char *ns, char *file, size_t n)
{
	const char *text;
	size_t len;
	int ret;

	ret = sync_folder_file_name(r->res->namespaced ? (ns ? ns : "") : NULL,
				    name, file, n);
	if (ret) {
		log_error("%s: skipped an object named \"%.80s\" in namespace "
			  "\"%.80s\": not a Kubernetes name", r->res->name,
			  name ? name : "", ns ? ns : "");
		return -EINVAL;
	}
	text = sync_object_render(obj, r->res->api_version, r->res->kind, &len);
	if (!text) {
		log_error("%s: %s: out of memory", r->res->name, file);
		return -ENOMEM;
	}
	ret = sync_folder_put(r->o->dir, r->res->name, file, text, len);
	if (ret)
		log_error("%s/%s/%s: %s", r->o->dir, r->res->name, file,
			  strerror(-ret));
	return ret;
}

static int rf__page_items(struct rf *r, struct json_object *items)
{
	char file[300];
	size_t n = json_object_array_length(items);

	for (size_t i = 0; i < n; i++) {
		struct json_object *it = json_object_array_get_idx(items, i);
		const char *name = sync_meta_str(it, "name");
		int ret;

		if (!json_object_is_type(it, json_type_object) || !name || !*name) {
			log_error("%s: list: skipped item %zu: no metadata.name",
				  r->res->name, i);
			continue;
		}
		ret = rf__put(r, it, name, sync_meta_str(it, "namespace"), file,
			      sizeof(file));
		if (ret == -EINVAL)
			continue;
		if (ret)
			return ret;
		if (sync_names_add(&r->seen, file))
			return -ENOMEM;
	}
	return 0;
}

/* The list is complete: what it lacks is gone. */
static void rf__list_done(struct rf *r, double now)
{
	size_t removed = 0;
	int ret = sync_folder_prune(r->o->dir, r->res->name, &r->seen, &removed);

	if (ret)
		log_error("%s/%s: pruning: %s", r->o->dir, r->res->name, strerror(-ret));
	log_info("%s: listed %zu objects at version %s%s%zu removed",
		 r->res->name, r->seen.n, r->rv ? r->rv : "?",
		 r->synced ? " (relist), " : ", ", removed);
	sync_names_free(&r->seen);
	r->synced = true;
	r->listing = false;
	r->failures = 0;
	r->state = RF_WAIT;
	r->next_at = now;
}

static void rf__page(struct rf *r, double now)
{
	struct json_object *items, *meta = NULL;
	const char *cont, *rv;
	int ret;

	if (!json_object_is_type(r->page, json_type_object) ||
	    !json_object_object_get_ex(r->page, "items", &items) ||
	    !json_object_is_type(items, json_type_array)) {
		log_error("%s: list: the answer is not a list (no items array)",
			  r->res->name);
		rf__fail(r, now, true);
		return;
	}
	ret = rf__page_items(r, items);
	if (ret) {
		rf__fail(r, now, true);
		return;
	}
	json_object_object_get_ex(r->page, "metadata", &meta);
	cont = sync_json_str(meta, "continue");
	rv = sync_json_str(meta, "resourceVersion");
	if (!rv || !*rv) {
		/* A watch needs the list's version: without one it would
		 * start from a stale version, or from "now" and miss what
		 * changed since the list. */
		log_error("%s: list: the answer has no metadata.resourceVersion",
			  r->res->name);
		rf__fail(r, now, true);
		return;
	}
	rf__set_rv(r, rv);
	free(r->cont);
	r->cont = cont && *cont ? strdup(cont) : NULL;
	if (cont && *cont && !r->cont) {
		rf__fail(r, now, false);
		return;
	}
	if (r->cont) {
		r->state = RF_WAIT;
		r->next_at = now;
		return;
	}
	rf__list_done(r, now);
}

/* ---- the watch stream --------------------------------------------- */

static int rf__event(void *ctx, struct json_object *v)
{
	struct rf *r = ctx;
	struct sync_event ev;
	char err[160], file[300];
	int ret = 0;

	if (sync_event_read(v, &ev, err, sizeof(err))) {
		/* One bad event is skipped: the stream is still in step. */
		log_error("%s: watch: skipped %s", r->res->name, err);
		return 0;
	}
	r->events++;
	/* The server is delivering: the next failure starts the backoff
	 * over (client-go resets it after a healthy stretch). */
	if (ev.type != SYNC_EV_ERROR)
		r->failures = r->gone_streak = 0;
	switch (ev.type) {
	case SYNC_EV_ERROR:
		if (ev.code == 410) {
			log_info("%s: watch: version %s expired (410: %s): relisting",
				 r->res->name, r->rv ? r->rv : "?", ev.message);
			r->abort = RF_ABORT_GONE;
		} else {
			log_error("%s: watch: ERROR event %d: %.200s", r->res->name,
				  ev.code, ev.message);
			r->abort = RF_ABORT_ERROR_EVENT;
		}
		return 1;
	case SYNC_EV_BOOKMARK:
		break;
	case SYNC_EV_ADDED:
	case SYNC_EV_MODIFIED:
		ret = rf__put(r, ev.object, ev.name, ev.ns, file, sizeof(file));
		if (ret == -EINVAL) /* not a name: logged, nothing to write */
			ret = 0;
		break;
	case SYNC_EV_DELETED:
		if (sync_folder_file_name(r->res->namespaced ? (ev.ns ? ev.ns : "") : NULL,
					  ev.name, file, sizeof(file)))
			break;
		ret = sync_folder_remove(r->o->dir, r->res->name, file);
		if (ret)
			log_error("%s/%s/%s: %s", r->o->dir, r->res->name, file,
				  strerror(-ret));
		break;
	}
	if (ret) {
		/* The version stays before this event: the watch is dropped
		 * and resumed from there, so the change is tried again (a
		 * full disk does not lose it). */
		r->abort = RF_ABORT_BAD;
		return 1;
	}
	rf__set_rv(r, ev.rv);
	return 0;
}

static int rf__keep_page(void *ctx, struct json_object *v)
{
	struct rf *r = ctx;

	if (r->page) {
		snprintf(r->dec.err, sizeof(r->dec.err),
			 "a list answer of more than one JSON value");
		return -EBADMSG;
	}
	r->page = json_object_get(v);
	return 0;
}

static size_t rf__write(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct rf *r = ctx;
	size_t len = size * nmemb;
	long status = 0;
	int ret;

	curl_easy_getinfo(r->req.easy, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		size_t room = sizeof(r->body) - 1 - r->body_len;

		memcpy(r->body + r->body_len, p, len < room ? len : room);
		r->body_len += len < room ? len : room;
		r->body[r->body_len] = '\0';
		return len;
	}
	ret = sync_decoder_feed(&r->dec, p, len, r->listing ? rf__keep_page : rf__event, r);
	if (ret == 0)
		return len;
	if (ret < 0) {
		log_error("%s: %s: %s: dropping the connection", r->res->name,
			  rf__what(r), ret == -ENOMEM ? "out of memory" : r->dec.err);
		r->abort = RF_ABORT_BAD;
	}
	return 0; /* curl ends the transfer: CURLE_WRITE_ERROR */
}

/* The end of the headers of a 200: the server is there. */
static size_t rf__header(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct rf *r = ctx;
	long status = 0;

	if (size * nmemb <= 2 && (p[0] == '\r' || p[0] == '\n')) {
		curl_easy_getinfo(r->req.easy, CURLINFO_RESPONSE_CODE, &status);
		if (status == 200)
			r->lost_since = 0;
	}
	return size * nmemb;
}

/* ---- requests ------------------------------------------------------- */

static char *rf__url(struct rf *r, long *timeout)
{
	const struct sync_resource *res = r->res;
	char limit[16], tmo[16], *field = NULL, *url;

	if (res->this_node && asprintf(&field, "metadata.name=%s", r->o->node) < 0)
		return NULL;
	if (r->listing) {
		snprintf(limit, sizeof(limit), "%d", SYNC_LIST_LIMIT);
		*timeout = SYNC_LIST_TIMEOUT;
		url = sync_http_url(r->o->cfg->server, res->path, "limit", limit,
				    "continue", r->cont, "labelSelector",
				    res->label_selector, "fieldSelector", field,
				    (char *)NULL);
	} else {
		long t = SYNC_WATCH_MIN + random() % SYNC_WATCH_MIN;

		snprintf(tmo, sizeof(tmo), "%ld", t);
		*timeout = t + 30;
		url = sync_http_url(r->o->cfg->server, res->path, "watch", "1",
				    "resourceVersion", r->rv, "allowWatchBookmarks",
				    "true", "timeoutSeconds", tmo, "labelSelector",
				    res->label_selector, "fieldSelector", field,
				    (char *)NULL);
	}
	free(field);
	return url;
}

void rf_start(struct rf *r, CURLM *multi, double now)
{
	char err[300];
	long timeout = 0;
	char *url = rf__url(r, &timeout);
	int ret;

	if (!url) {
		rf__fail(r, now, false);
		return;
	}
	ret = sync_http_req_init(&r->req, r->o->cfg, url, timeout, err, sizeof(err));
	log_debug("%s: GET %s", r->res->name, url);
	free(url);
	if (ret) {
		log_error("%s: %s", r->res->name, err);
		rf__fail(r, now, true);
		return;
	}
	sync_decoder_reset(&r->dec);
	r->dec.max_bytes = r->listing ? SYNC_PAGE_MAX : SYNC_EVENT_MAX;
	r->body_len = 0;
	r->body[0] = '\0';
	r->abort = RF_OK;
	r->events = 0;
	r->started = now;
	curl_easy_setopt(r->req.easy, CURLOPT_WRITEFUNCTION, rf__write);
	curl_easy_setopt(r->req.easy, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->req.easy, CURLOPT_HEADERFUNCTION, rf__header);
	curl_easy_setopt(r->req.easy, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(r->req.easy, CURLOPT_PRIVATE, r);
	if (curl_multi_add_handle(multi, r->req.easy) != CURLM_OK) {
		sync_http_req_free(&r->req);
		rf__fail(r, now, false);
		return;
	}
	r->state = r->listing ? RF_LIST : RF_WATCH;
}

/* The Status object's message of an error answer, or its start. */
static const char *rf__status_msg(struct rf *r, struct json_object **held)
{
	struct json_object *st = json_tokener_parse(r->body);
	const char *m = sync_json_str(st, "message");

	*held = st;
	return m ? m : r->body;
}

static void rf__http_error(struct rf *r, long status, double now)
{
	struct json_object *st = NULL;
	const char *msg;
	char *loc = NULL;

	if (status >= 300 && status < 400) {
		curl_easy_getinfo(r->req.easy, CURLINFO_REDIRECT_URL, &loc);
		log_error("%s: %s: HTTP %ld redirect to %.200s refused: the API "
			  "server does not redirect", r->res->name, rf__what(r),
			  status, loc ? loc : "(no Location)");
		rf__fail(r, now, true);
		return;
	}
	msg = rf__status_msg(r, &st);
	log_error("%s: %s: HTTP %ld: %.300s", r->res->name, rf__what(r), status, msg);
	json_object_put(st);
	rf__fail(r, now, true);
}

static void rf__done_200(struct rf *r, double now)
{
	int ret = sync_decoder_finish(&r->dec);

	if (r->listing) {
		if (ret || !r->page) {
			log_error("%s: list: %s", r->res->name,
				  ret ? r->dec.err : "an empty answer");
			rf__fail(r, now, true);
			return;
		}
		rf__page(r, now);
		return;
	}
	if (ret) {
		log_error("%s: watch: connection closed mid-event: %s",
			  r->res->name, r->dec.err);
		rf__fail(r, now, true);
		return;
	}
	/* A watch the server ended at once with nothing in it is a server
	 * refusing quietly: back off rather than spin. */
	if (r->events == 0 && now - r->started < 1.0) {
		rf__fail(r, now, false);
		return;
	}
	r->state = RF_WAIT;
	r->next_at = now;
}

void rf_done(struct rf *r, CURLcode res, double now)
{
	long status = 0;

	curl_easy_getinfo(r->req.easy, CURLINFO_RESPONSE_CODE, &status);
	if (r->abort == RF_ABORT_GONE) {
		rf__relist(r, now);
	} else if (r->abort != RF_OK) {
		rf__fail(r, now, true); /* already logged */
	} else if (res != CURLE_OK) {
		log_error("%s: %s: %s%s (at version %s)", r->res->name, rf__what(r),
			  r->req.errbuf[0] ? r->req.errbuf : curl_easy_strerror(res),
			  sync_decoder_partial(&r->dec) ? " (mid-event)" : "",
			  r->rv ? r->rv : "none yet");
		rf__fail(r, now, true);
	} else if (status == 410) {
		log_info("%s: %s: 410 Gone (version %s expired): relisting",
			 r->res->name, rf__what(r), r->rv ? r->rv : "?");
		rf__relist(r, now);
	} else if (status == 404 && r->res->optional && r->listing && r->res->fallback) {
		log_info("%s: %s not served by this API server (404): trying %s",
			 r->res->name, r->res->api_version, r->res->fallback->api_version);
		r->res = r->res->fallback;
		rf__restart_list(r);
		r->state = RF_WAIT;
		r->next_at = now;
	} else if (status == 404 && r->res->optional && r->listing) {
		log_info("%s: not served by this API server (404): skipped",
			 r->res->name);
		r->state = RF_ABSENT;
	} else if (status != 200) {
		rf__http_error(r, status, now);
	} else {
		rf__done_200(r, now);
	}
	json_object_put(r->page);
	r->page = NULL;
}

int rf_init(struct rf *r, const struct sync_resource *res, const struct sync_opts *o)
{
	int ret;

	r->res = res;
	r->o = o;
	r->listing = true;
	ret = sync_decoder_init(&r->dec, SYNC_EVENT_MAX);
	if (ret)
		return ret;
	if (res->this_node && !o->node) {
		log_info("%s: no node name (--node or NODE_NAME): not mirrored",
			 res->name);
		r->state = RF_OFF;
		return 0;
	}
	ret = sync_folder_prepare(o->dir, res->name);
	if (ret)
		log_error("%s/%s: %s", o->dir, res->name, strerror(-ret));
	return ret;
}

void rf_free(struct rf *r, CURLM *multi)
{
	if (r->req.easy)
		curl_multi_remove_handle(multi, r->req.easy);
	sync_http_req_free(&r->req);
	sync_decoder_free(&r->dec);
	sync_names_free(&r->seen);
	json_object_put(r->page);
	free(r->cont);
	free(r->rv);
}
