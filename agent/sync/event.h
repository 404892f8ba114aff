/* SPDX-License-Identifier: MIT */
/*
 * One watch event, read from a decoded JSON value (decode.h): its type, the
 * object, and the object's identity. Pure: no I/O.
 *
 * Shapes (Kubernetes API concepts, "Efficient detection of changes"):
 *	{"type":"ADDED"|"MODIFIED"|"DELETED","object":{...the object...}}
 *	{"type":"BOOKMARK","object":{"kind":..,"metadata":{"resourceVersion":..}}}
 *	{"type":"ERROR","object":{"kind":"Status","code":410,"reason":..,"message":..}}
 */
#ifndef LDMESH_SYNC_EVENT_H
#define LDMESH_SYNC_EVENT_H

#include <stddef.h>

struct json_object;

enum sync_event_type {
	SYNC_EV_ADDED,
	SYNC_EV_MODIFIED,
	SYNC_EV_DELETED,
	SYNC_EV_BOOKMARK,
	SYNC_EV_ERROR,
};

struct sync_event {
	enum sync_event_type type;
	struct json_object *object; /* borrowed from the value */
	const char *rv;             /* metadata.resourceVersion, or NULL */
	const char *ns;             /* metadata.namespace, or NULL */
	const char *name;           /* metadata.name: set for the three
	                               object events, NULL otherwise */
	int code;                   /* ERROR: the Status's code, else 0 */
	const char *message;        /* ERROR: its message (or reason), or "" */
};

/*
 * Read `v` as an event. 0 and *ev filled (pointers borrowed from v); or
 * -EBADMSG with a reason in err: not an object, no or unknown type, no
 * object, an ADDED/MODIFIED/DELETED object without metadata.name.
 */
int sync_event_read(struct json_object *v, struct sync_event *ev, char *err,
		    size_t errlen);

/* A string member of an object (NULL if absent or not a string). */
const char *sync_json_str(struct json_object *o, const char *key);
/* metadata.<key> of an object, a string, or NULL. */
const char *sync_meta_str(struct json_object *o, const char *key);

#endif
