/* SPDX-License-Identifier: MIT */
/*
 * A small generic YAML tree built from libyaml's event API: maps, sequences
 * and scalars, each with the 1-based line and column where it starts. JSON is
 * YAML, so the same loader reads both. Every document of a stream is kept.
 *
 * Aliases are expanded by reference: an alias node *is* the anchored node, so
 * a subtree may have several parents. Nodes are owned by the stream (one
 * list), never by their parents, so sharing costs nothing to free. Expansion
 * is still bounded (see YAML_TREE_MAX_NODES) because consumers walk the
 * shared subtree once per reference.
 */
#ifndef LDMESH_AGENT_YAML_TREE_H
#define LDMESH_AGENT_YAML_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Deepest nesting accepted. A Kubernetes object is rarely deeper than 15
 * (a Pod's spec.containers[].env[].valueFrom.secretKeyRef is 7); the bound
 * keeps recursive consumers' stacks small and refuses "[[[[..." bombs.
 */
#define YAML_TREE_MAX_DEPTH 64u

/*
 * Nodes an alias may add by expansion, per stream, each alias charged at
 * the full size of what it names: a "billion laughs" file of a few hundred
 * bytes expands to 10^9 nodes, so the budget is charged at the alias,
 * before anything is walked. Expansions cost walking, not memory (an alias
 * is its anchor, by reference), and real manifests use few: kubectl never
 * writes one.
 */
#define YAML_TREE_MAX_EXPANDED 1000000u

/*
 * Nodes actually written in a stream. These cost memory (~100 bytes each
 * with their strings), so they are bounded too, far above what real files
 * hold: `kubectl get svc -A -o yaml` of 100,000 Services is about 3 million
 * nodes. MANIFEST_MAX_FILE_BYTES would allow 16 million one-byte scalars.
 */
#define YAML_TREE_MAX_NODES 8000000u

/*
 * Longest scalar, in bytes. etcd refuses requests above 1.5 MiB, so no real
 * object holds a longer string (the largest are ConfigMap values and
 * last-applied-configuration annotations).
 */
#define YAML_TREE_MAX_SCALAR (2u << 20)

/*
 * Anchors alive in one document (YAML scopes anchors per document). Real
 * manifests use a handful; the bound keeps the anchor hash chains short.
 */
#define YAML_TREE_MAX_ANCHORS 10000u

enum yaml_tree_kind {
	YAML_TREE_SCALAR,
	YAML_TREE_MAP,
	YAML_TREE_SEQ,
};

struct yaml_tree_node {
	enum yaml_tree_kind kind;
	/*
	 * Scalar only: written quoted ('..', "..", | or >) or tagged !!str, so
	 * it is a string whatever it looks like: `port: "80"` is a string,
	 * `port: 80` is not.
	 */
	bool quoted;
	uint32_t line, col; /* 1-based, where the node starts */
	char *str;          /* scalar: NUL-terminated (may hold NULs: see len) */
	size_t len;         /* scalar: bytes in str */
	/*
	 * Map: n pairs, key i at child[2i], value at child[2i + 1].
	 * Sequence: n items at child[i].
	 */
	struct yaml_tree_node **child;
	size_t n;
	size_t weight;      /* nodes in this subtree, expansions included */
	uint32_t height;    /* 1 for a scalar */
	struct yaml_tree_node *next_owned; /* the stream's list of nodes */
};

struct yaml_tree_doc {
	struct yaml_tree_node *root; /* null (yaml_tree_is_null) for an
	                                empty document */
	uint32_t line, col;          /* where the document starts */
};

struct yaml_tree_stream {
	struct yaml_tree_doc *docs;
	size_t n_docs;
	struct yaml_tree_node *owned;
};

struct yaml_tree_error {
	uint32_t line, col; /* 1-based; 0 when the error has no place */
	char msg[256];
};

/*
 * Parse `len` bytes at `data`. 0 and *out filled (caller-owned, release
 * with yaml_tree_free); or -EINVAL (bad input) / -ENOMEM with *err filled
 * and *out untouched.
 */
int yaml_tree_load_data(const char *data, size_t len,
			struct yaml_tree_stream *out, struct yaml_tree_error *err);

/*
 * The same for a file. A file larger than `max_bytes` (or not a regular
 * file) is refused before any parsing: -EFBIG / -EINVAL. I/O errors are
 * -errno. The message never includes the path; the caller adds it.
 */
int yaml_tree_load_file(const char *path, size_t max_bytes,
			struct yaml_tree_stream *out,
			struct yaml_tree_error *err);

/* The same for a file already open (the caller's to close): the agent
 * opens a manifest, checks what it opened, then parses that. */
int yaml_tree_load_fd(int fd, size_t max_bytes, struct yaml_tree_stream *out,
		      struct yaml_tree_error *err);

/*
 * Streaming: a large `kind: List` (kubectl's output for 100,000 Services
 * is ~3 million nodes, ~300 MB as a tree) need not be held whole. With a
 * sink, an input of YAML_TREE_STREAM_MIN_BYTES or more is streamed: each
 * document goes to `doc` once complete and is freed after,
 * instead of being kept in the stream; and the items of a document's
 * root `items` sequence go to `item` one by one, each freed after, when
 * `want_items` says so for that document. kubectl writes `kind` AFTER
 * `items` (keys sorted), so a first pass (events only, no tree) reads
 * each root's apiVersion and kind for `want_items` (the hint); a document
 * using anchors, aliases or a merge key at its root is never streamed
 * (an alias could name an item already freed). The second pass finds the
 * same root again; a file that changed between the passes so that a
 * streamed document grew an anchor or alias is refused ("changed while
 * read"); the caller checks the root's kind against its hint itself.
 * A smaller input is parsed into one tree as by yaml_tree_load_*, and
 * its documents go to `doc` in order once the whole input parsed (a
 * syntax error anywhere: none does). Callbacks return 0, or -ENOMEM /
 * -EINVAL to stop the parse.
 */
#define YAML_TREE_STREAM_MIN_BYTES (1u << 20)
#define YAML_TREE_HINT_MAX 128 /* longest apiVersion/kind kept by the scan */

struct yaml_tree_hint {
	size_t doc;                     /* document index, from 0 */
	char api[YAML_TREE_HINT_MAX];   /* root apiVersion, "" if absent */
	char kind[YAML_TREE_HINT_MAX];  /* root kind (non-empty) */
};

struct yaml_tree_sink {
	int (*doc)(void *ctx, const struct yaml_tree_doc *doc);
	bool (*want_items)(void *ctx, const struct yaml_tree_hint *hint);
	int (*item)(void *ctx, const struct yaml_tree_node *item, size_t index);
	void *ctx;
};

/* yaml_tree_load_data / _fd / _file with a sink: nothing is kept; 0, or the same
 * errors with *err filled (a callback's error too, its message its own). */
int yaml_tree_stream_data(const char *data, size_t len, const struct yaml_tree_sink *sink,
			  struct yaml_tree_error *err);
int yaml_tree_stream_fd(int fd, size_t max_bytes, const struct yaml_tree_sink *sink,
			struct yaml_tree_error *err);
int yaml_tree_stream_file(const char *path, size_t max_bytes, const struct yaml_tree_sink *sink,
			  struct yaml_tree_error *err);

/* Frees every node and zeroes the stream; accepts NULL. */
void yaml_tree_free(struct yaml_tree_stream *s);

/*
 * YAML's null: a plain empty scalar, `~`, `null`, `Null` or `NULL`.
 * NULL (an absent node) counts as null too.
 */
bool yaml_tree_is_null(const struct yaml_tree_node *n);

/* The value for scalar key `key` in `map`, honouring `<<` merge keys (the
 * map's own keys win); NULL if absent or `map` is not a map. */
const struct yaml_tree_node *yaml_tree_map_get(const struct yaml_tree_node *map,
					       const char *key);

#endif
