/* SPDX-License-Identifier: MIT */
#include "event.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

const char *sync_json_str(struct json_object *o, const char *key)
{
	struct json_object *m;

	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &m) ||
	    !json_object_is_type(m, json_type_string))
		return NULL;
	return json_object_get_string(m);
}

const char *sync_meta_str(struct json_object *o, const char *key)
{
	struct json_object *meta;

	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "metadata", &meta))
		return NULL;
	return sync_json_str(meta, key);
}

static const struct {
	const char *name;
	enum sync_event_type type;
} event__types[] = {
	{ "ADDED", SYNC_EV_ADDED },       { "MODIFIED", SYNC_EV_MODIFIED },
	{ "DELETED", SYNC_EV_DELETED },   { "BOOKMARK", SYNC_EV_BOOKMARK },
	{ "ERROR", SYNC_EV_ERROR },
};

static int event__type(const char *s, enum sync_event_type *t)
{
	for (size_t i = 0; i < sizeof(event__types) / sizeof(event__types[0]); i++)
		if (!strcmp(s, event__types[i].name)) {
			*t = event__types[i].type;
			return 0;
		}
	return -EBADMSG;
}

static void event__error(struct sync_event *ev)
{
	struct json_object *code;
	const char *msg = sync_json_str(ev->object, "message");

	if (!msg)
		msg = sync_json_str(ev->object, "reason");
	ev->message = msg ? msg : "";
	if (json_object_object_get_ex(ev->object, "code", &code) &&
	    json_object_is_type(code, json_type_int))
		ev->code = json_object_get_int(code);
}

int sync_event_read(struct json_object *v, struct sync_event *ev, char *err,
		    size_t errlen)
{
	const char *type;

	memset(ev, 0, sizeof(*ev));
	if (!json_object_is_type(v, json_type_object)) {
		snprintf(err, errlen, "an event that is not a JSON object");
		return -EBADMSG;
	}
	type = sync_json_str(v, "type");
	if (!type || event__type(type, &ev->type)) {
		snprintf(err, errlen, "an event of type \"%.40s\"",
			 type ? type : "(none)");
		return -EBADMSG;
	}
	if (!json_object_object_get_ex(v, "object", &ev->object) ||
	    !json_object_is_type(ev->object, json_type_object)) {
		snprintf(err, errlen, "a %s event without an object", type);
		return -EBADMSG;
	}
	if (ev->type == SYNC_EV_ERROR) {
		event__error(ev);
		return 0;
	}
	ev->rv = sync_meta_str(ev->object, "resourceVersion");
	if (ev->type == SYNC_EV_BOOKMARK)
		return 0;
	ev->name = sync_meta_str(ev->object, "name");
	ev->ns = sync_meta_str(ev->object, "namespace");
	if (!ev->name || !*ev->name) {
		snprintf(err, errlen, "a %s event whose object has no metadata.name",
			 type);
		ev->name = NULL;
		return -EBADMSG;
	}
	return 0;
}
