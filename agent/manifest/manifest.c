/* SPDX-License-Identifier: MIT */
/*
 * Manifest files -> manifest_set: documents, List unwrapping, dispatch by
 * kind, and ownership. The kinds themselves live in manifest_service.c,
 * manifest_slice.c and manifest_pod.c; the duplicate-object check in
 * manifest_seen.c.
 */
#include "manifest_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void manifest_set_free(struct manifest_set *set)
{
	if (!set)
		return;
	if (set->packed) {
		/* The allocation starts with the first array (mf_pack). */
		free(set->services ? (void *)set->services
		     : set->slices ? (void *)set->slices
		     : set->pods   ? (void *)set->pods
		     : set->nodes  ? (void *)set->nodes
				   : (void *)set->routes);
		memset(set, 0, sizeof(*set));
		return;
	}
	for (size_t i = 0; i < set->n_services; i++)
		mf_service_free(&set->services[i]);
	for (size_t i = 0; i < set->n_slices; i++)
		mf_slice_free(&set->slices[i]);
	for (size_t i = 0; i < set->n_pods; i++)
		mf_pod_free(&set->pods[i]);
	for (size_t i = 0; i < set->n_nodes; i++)
		mf_node_free(&set->nodes[i]);
	for (size_t i = 0; i < set->n_routes; i++)
		mf_tcproute_free(&set->routes[i]);
	free(set->routes);
	free(set->services);
	free(set->slices);
	free(set->pods);
	free(set->nodes);
	memset(set, 0, sizeof(*set));
}

const struct manifest_set manifest_set_empty;

void manifest_kept_free(const struct manifest_set *kept)
{
	if (kept != &manifest_set_empty)
		free((void *)kept);
}

int manifest_set_keep(struct manifest_set *set, const char *path,
		      const struct manifest_set **out, const char **kept_path)
{
	const struct manifest_set *kept = mf_pack_kept(set, path, kept_path);

	if (!kept)
		return -ENOMEM;
	manifest_set_free(set);
	*out = kept;
	return 0;
}

static bool mf_ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

static int mf_object(struct mf_ctx *c, const mf_node *obj,
		     const char *def_api, const char *def_kind);

/* The kind of each item of a typed list (ServiceList: Service) into
 * item_kind, "" for `List` (whose items name their own). */
static void mf_item_kind(const char *kind, char item_kind[64])
{
	item_kind[0] = 0;
	if (strcmp(kind, "List") && strlen(kind) - 4 < 64)
		snprintf(item_kind, 64, "%.*s", (int)(strlen(kind) - 4), kind);
}

/* Item `i` of a list whose apiVersion is `api` and item kind `item_kind`
 * (mf_item_kind): 0 or -ENOMEM. */
static int mf_list_item(struct mf_ctx *c, const mf_node *item, size_t i, const char *api,
			const char *item_kind)
{
	char p[MF_PATH_MAX];

	if (yaml_tree_is_null(item))
		return 0;
	if (mf_as_map(c, item, mf_path_i(p, sizeof(p), "", "items", i)) < 0)
		return 0;
	return mf_object(c, item, *item_kind ? api : NULL, *item_kind ? item_kind : NULL);
}

/*
 * kind: List (what kubectl prints) or a typed list such as ServiceList
 * (what the API returns). Items of a typed list may omit apiVersion and
 * kind: the list's own give them. (A streamed list's items went to
 * mf_list_item as they were parsed: its `items` is empty here.)
 */
static int mf_list(struct mf_ctx *c, const mf_node *obj, const char *api,
		   const char *kind)
{
	const mf_node *items = NULL;
	char item_kind[64];
	int ret;

	ret = mf_get_seq(c, obj, "", "items", &items);
	if (ret != 1)
		return ret == -ENOMEM ? ret : 0;
	mf_item_kind(kind, item_kind);
	for (size_t i = 0; i < items->n; i++) {
		ret = mf_list_item(c, items->child[i], i, api, item_kind);
		if (ret == -ENOMEM)
			return ret;
	}
	return 0;
}

/* kind: List, or a typed list (a kind ending in List, with items) */
static bool mf_is_list(const mf_node *obj, const char *kind)
{
	return !strcmp(kind, "List") ||
	       (mf_ends_with(kind, "List") && yaml_tree_map_get(obj, "items"));
}

static int mf_object(struct mf_ctx *c, const mf_node *obj,
		     const char *def_api, const char *def_kind)
{
	const char *api = def_api, *kind = def_kind;
	int r1, r2;

	r1 = mf_get_str(c, obj, "", "apiVersion", &api, NULL);
	r2 = mf_get_str(c, obj, "", "kind", &kind, NULL);
	if (r1 == -ENOMEM || r2 == -ENOMEM)
		return -ENOMEM;
	if (r1 < 0 || r2 < 0)
		return 0;
	if (!api || !*api)
		mf_error(c, obj, "apiVersion: Required value");
	if (!kind || !*kind)
		mf_error(c, obj, "kind: Required value");
	if (!api || !*api || !kind || !*kind)
		return 0;

	/* A kind merely ending in "List" without items is not a list. */
	if (mf_is_list(obj, kind))
		return mf_list(c, obj, api, kind);
	if (!strcmp(api, "v1") && !strcmp(kind, "Service"))
		return mf_service(c, obj);
	if (!strcmp(api, "discovery.k8s.io/v1") &&
	    !strcmp(kind, "EndpointSlice"))
		return mf_endpoint_slice(c, obj);
	if (!strcmp(api, "v1") && !strcmp(kind, "Endpoints"))
		return mf_endpoints(c, obj);
	if (!strcmp(api, "v1") && !strcmp(kind, "Pod"))
		return mf_pod(c, obj);
	if (!strcmp(api, "v1") && !strcmp(kind, "Node"))
		return mf_node_obj(c, obj);
	if ((!strcmp(api, "gateway.networking.k8s.io/v1") ||
	     !strcmp(api, "gateway.networking.k8s.io/v1alpha2")) &&
	    !strcmp(kind, "TCPRoute"))
		return mf_tcproute(c, obj);
	/* Other kinds, and same-named kinds of other groups (a Knative
	 * serving.knative.dev/v1 Service), are not ours. */
	mf_note(c, obj, "skipped %.64s %.64s: not a kind ldmesh reads", api, kind);
	c->set.skipped++;
	return 0;
}

/* The parse as a yaml_tree sink (yaml_tree.h, "Streaming"): documents
 * one by one, and the items of a large List as they are parsed. */
struct mf_sink {
	struct mf_ctx *c;
	const struct yaml_tree_hint *streamed; /* this document's items went
	                                          to mf_sink_item, or NULL */
	char item_kind[64];
};

static bool mf_sink_want(void *ctx, const struct yaml_tree_hint *h)
{
	struct mf_sink *k = ctx;

	/* as mf_object decides: a root without apiVersion is refused, its
	 * items unread; the hint's document has `items` */
	if (!h->api[0] || !(mf_ends_with(h->kind, "List")))
		return false;
	k->streamed = h;
	mf_item_kind(h->kind, k->item_kind);
	return true;
}

static int mf_sink_item(void *ctx, const mf_node *item, size_t i)
{
	struct mf_sink *k = ctx;

	return mf_list_item(k->c, item, i, k->streamed->api, k->item_kind);
}

/* The root of a streamed document still says what the scan read: a file
 * rewritten in place between the two passes is refused, not half read
 * under the other's kind. */
static bool mf_sink_same_root(const struct yaml_tree_hint *h, const mf_node *root)
{
	const mf_node *api = yaml_tree_map_get(root, "apiVersion");
	const mf_node *kind = yaml_tree_map_get(root, "kind");

	return api && kind && api->kind == YAML_TREE_SCALAR && kind->kind == YAML_TREE_SCALAR &&
	       !strcmp(api->str, h->api) && !strcmp(kind->str, h->kind);
}

static int mf_sink_doc(void *ctx, const struct yaml_tree_doc *d)
{
	struct mf_sink *k = ctx;
	const mf_node *root = d->root;
	const struct yaml_tree_hint *streamed = k->streamed;

	k->streamed = NULL;
	/* `---` followed by nothing, or a lone `null`, is allowed. */
	if (yaml_tree_is_null(root))
		return 0;
	if (root->kind != YAML_TREE_MAP) {
		char buf[96];

		mf_error(k->c, root, "a document must be a map, not %s",
			 mf_describe(root, buf, sizeof(buf)));
		return 0;
	}
	if (streamed && !mf_sink_same_root(streamed, root)) {
		mf_error(k->c, root, "apiVersion or kind changed while the file was read");
		return 0;
	}
	return mf_object(k->c, root, NULL, NULL) == -ENOMEM ? -ENOMEM : 0;
}

/* Where a kept set goes (manifest_load_kept_fd), or NULL. */
struct mf_keep {
	const char *path;
	const struct manifest_set **out;
	const char **kept_path;
};

static int mf_finish(struct mf_ctx *c, int ret, struct manifest_set *out,
		     const struct mf_keep *keep)
{
	if (ret == -ENOMEM && !c->errors)
		mf_error(c, NULL, "out of memory");
	else if (!ret && c->errors)
		ret = -EINVAL;
	if (!ret && keep) {
		const struct manifest_set *kept = mf_pack_kept(&c->set, keep->path,
							       keep->kept_path);
		if (kept)
			*keep->out = kept;
		else {
			mf_error(c, NULL, "out of memory");
			ret = -ENOMEM;
		}
		manifest_set_free(&c->set);
	} else if (!ret && !mf_pack(&c->set, out)) {
		manifest_set_free(&c->set);
	} else if (!ret) {
		*out = c->set; /* as parsed: as good, only larger */
	} else {
		manifest_set_free(&c->set);
	}
	free(c->seen);
	return ret;
}

static void mf_tree_error(struct mf_ctx *c, const struct yaml_tree_error *e)
{
	mf_node at = { .line = e->line, .col = e->col };

	mf_error(c, e->line ? &at : NULL, "%s", e->msg);
}

/* The one core behind the front doors: `c` filled by the sink as the
 * input was parsed (parse_ret its verdict). */
static int mf_load(struct mf_ctx *c, int parse_ret, const struct yaml_tree_error *e,
		   struct manifest_set *out, const struct mf_keep *keep)
{
	int ret = parse_ret;

	if (ret)
		mf_tree_error(c, e);
	else
		mf_seen_check(c);
	return mf_finish(c, ret, out, keep);
}

#define MF_SINK(k) \
	{ .doc = mf_sink_doc, .want_items = mf_sink_want, .item = mf_sink_item, .ctx = (k) }

int manifest_load_data(const char *name, const char *data, size_t len,
		       struct manifest_set *out, struct diag *d)
{
	struct mf_ctx c = { .name = name ? name : "<data>", .d = d };
	struct mf_sink k = { .c = &c };
	const struct yaml_tree_sink sink = MF_SINK(&k);
	struct yaml_tree_error e;

	return mf_load(&c, yaml_tree_stream_data(data, len, &sink, &e), &e, out, NULL);
}

int manifest_load_file(const char *path, struct manifest_set *out,
		       struct diag *d)
{
	struct mf_ctx c = { .name = path, .d = d };
	struct mf_sink k = { .c = &c };
	const struct yaml_tree_sink sink = MF_SINK(&k);
	struct yaml_tree_error e;

	return mf_load(&c, yaml_tree_stream_file(path, MANIFEST_MAX_FILE_BYTES, &sink, &e), &e,
		       out, NULL);
}

int manifest_load_kept_fd(int fd, const char *path, const struct manifest_set **out,
			  const char **kept_path, struct diag *d)
{
	struct mf_ctx c = { .name = path, .d = d };
	struct mf_sink k = { .c = &c };
	const struct yaml_tree_sink sink = MF_SINK(&k);
	struct yaml_tree_error e;
	struct mf_keep keep = { path, out, kept_path };

	return mf_load(&c, yaml_tree_stream_fd(fd, MANIFEST_MAX_FILE_BYTES, &sink, &e), &e, NULL,
		       &keep);
}
