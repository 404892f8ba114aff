/* SPDX-License-Identifier: MIT */
#include "object.h"

#include <json-c/json.h>

#include "event.h"

static void object__default(struct json_object *obj, const char *key,
			    const char *value)
{
	if (!sync_json_str(obj, key))
		json_object_object_add(obj, key, json_object_new_string(value));
}

const char *sync_object_render(struct json_object *obj, const char *api_version,
			       const char *kind, size_t *len)
{
	struct json_object *meta;

	if (json_object_object_get_ex(obj, "metadata", &meta) &&
	    json_object_is_type(meta, json_type_object))
		json_object_object_del(meta, "managedFields");
	object__default(obj, "apiVersion", api_version);
	object__default(obj, "kind", kind);
	return json_object_to_json_string_length(
		obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, len);
}
