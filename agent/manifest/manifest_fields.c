/* SPDX-License-Identifier: MIT */
/*
 * Typed access to manifest fields. Scalars are resolved the way the API
 * server's YAML decoder (go-yaml v2 via sigs.k8s.io/yaml) resolves them, so
 * a value the API server would refuse for its type is refused here too:
 * `port: "80"` is a string where an integer belongs, `name: 123` an integer
 * where a string belongs.
 */
#include "manifest_priv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldmesh/snapshot.h>

/* "path:line:col: message" (or "path: message" with no place). */
static void mf__line(const struct mf_ctx *c, const mf_node *at, char *line, size_t cap,
		     const char *fmt, va_list ap)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (at)
		snprintf(line, cap, "%s:%u:%u: %s", c->name, at->line, at->col, msg);
	else
		snprintf(line, cap, "%s: %s", c->name, msg);
}

void mf_error(struct mf_ctx *c, const mf_node *at, const char *fmt, ...)
{
	char line[768];
	va_list ap;

	va_start(ap, fmt);
	mf__line(c, at, line, sizeof(line), fmt, ap);
	va_end(ap);
	c->errors++;
	if (!c->d)
		return;
	c->d->errors++;
	if (c->d->report)
		c->d->report(c->d->ctx, line);
}

void mf_warn(struct mf_ctx *c, const mf_node *at, const char *fmt, ...)
{
	char msg[600], line[768];
	va_list ap;

	if (!c->d)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (at)
		snprintf(line, sizeof(line), "%s:%u:%u: warning: %s", c->name, at->line, at->col,
			 msg);
	else
		snprintf(line, sizeof(line), "%s: warning: %s", c->name, msg);
	if (c->d->warn)
		c->d->warn(c->d->ctx, line);
	else if (c->d->report)
		c->d->report(c->d->ctx, line);
}

void mf_note(struct mf_ctx *c, const mf_node *at, const char *fmt, ...)
{
	char line[768];
	va_list ap;

	if (!c->d || !c->d->note)
		return;
	va_start(ap, fmt);
	mf__line(c, at, line, sizeof(line), fmt, ap);
	va_end(ap);
	c->d->note(c->d->ctx, line);
}

const char *mf_path(char *buf, size_t size, const char *parent,
		    const char *key)
{
	snprintf(buf, size, "%s%s%s", parent ? parent : "",
		 parent && *parent ? "." : "", key);
	return buf;
}

const char *mf_path_i(char *buf, size_t size, const char *parent,
		      const char *key, size_t i)
{
	snprintf(buf, size, "%s%s%s[%zu]", parent ? parent : "",
		 parent && *parent ? "." : "", key, i);
	return buf;
}

static bool mf_in(const char *s, const char *const *set)
{
	for (; *set; set++)
		if (!strcmp(s, *set))
			return true;
	return false;
}

/* go-yaml v2 reads YAML 1.1 booleans: yes/no/on/off count as booleans. */
static const char *const mf_bools[] = {
	"true", "True", "TRUE", "false", "False", "FALSE",
	"y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
	"on", "On", "ON", "off", "Off", "OFF", NULL,
};
static const char *const mf_trues[] = {
	"true", "True", "TRUE", "y", "Y", "yes", "Yes", "YES",
	"on", "On", "ON", NULL,
};

static bool mf_is_int_text(const char *s)
{
	const char *digits = "0123456789";

	if (*s == '-' || *s == '+')
		s++;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		digits = "0123456789abcdefABCDEF";
		s += 2;
	} else if (s[0] == '0' && s[1] == 'o') {
		digits = "01234567";
		s += 2;
	}
	return *s && strspn(s, digits) == strlen(s);
}

static bool mf_is_float_text(const char *s)
{
	size_t mant = 0;

	if (mf_in(s, (const char *const[]){ ".inf", ".Inf", ".INF", "-.inf",
					      "-.Inf", "-.INF", "+.inf",
					      ".nan", ".NaN", ".NAN", NULL }))
		return true;
	if (*s == '-' || *s == '+')
		s++;
	for (; *s >= '0' && *s <= '9'; s++)
		mant++;
	if (*s == '.')
		for (s++; *s >= '0' && *s <= '9'; s++)
			mant++;
	if (!mant)
		return false;
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '-' || *s == '+')
			s++;
		if (!(*s >= '0' && *s <= '9'))
			return false;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	return !*s;
}

enum mf_scalar mf_scalar_type(const mf_node *n)
{
	if (yaml_tree_is_null(n))
		return MF_S_NULL;
	if (n->quoted)
		return MF_S_STR;
	if (mf_in(n->str, mf_bools))
		return MF_S_BOOL;
	if (mf_is_int_text(n->str))
		return MF_S_INT;
	if (mf_is_float_text(n->str))
		return MF_S_FLOAT;
	return MF_S_STR;
}

const char *mf_describe(const mf_node *n, char *buf, size_t size)
{
	static const char *const what[] = {
		[MF_S_NULL] = "null",
		[MF_S_BOOL] = "the boolean",
		[MF_S_INT] = "the integer",
		[MF_S_FLOAT] = "the number",
		[MF_S_STR] = "the string",
	};
	enum mf_scalar t;

	if (n->kind == YAML_TREE_MAP)
		return "a map";
	if (n->kind == YAML_TREE_SEQ)
		return "a sequence";
	t = mf_scalar_type(n);
	if (t == MF_S_NULL)
		return "null";
	if (t == MF_S_STR)
		snprintf(buf, size, "%s \"%.64s\"", what[t], n->str);
	else
		snprintf(buf, size, "%s %.64s", what[t], n->str);
	return buf;
}

static int mf_wrong(struct mf_ctx *c, const mf_node *n, const char *path,
		    const char *want)
{
	char buf[96];

	mf_error(c, n, "%s: must be %s, not %s", path, want,
		 mf_describe(n, buf, sizeof(buf)));
	return -EINVAL;
}

int mf_as_map(struct mf_ctx *c, const mf_node *n, const char *path)
{
	if (n->kind != YAML_TREE_MAP)
		return mf_wrong(c, n, path, "a map");
	return 1;
}

int mf_get_map(struct mf_ctx *c, const mf_node *map, const char *path,
	       const char *key, const mf_node **out)
{
	const mf_node *v = yaml_tree_map_get(map, key);
	char p[MF_PATH_MAX];

	if (yaml_tree_is_null(v))
		return 0;
	if (v->kind != YAML_TREE_MAP)
		return mf_wrong(c, v, mf_path(p, sizeof(p), path, key),
				"a map");
	*out = v;
	return 1;
}

int mf_get_seq(struct mf_ctx *c, const mf_node *map, const char *path,
	       const char *key, const mf_node **out)
{
	const mf_node *v = yaml_tree_map_get(map, key);
	char p[MF_PATH_MAX];

	if (yaml_tree_is_null(v))
		return 0;
	if (v->kind != YAML_TREE_SEQ)
		return mf_wrong(c, v, mf_path(p, sizeof(p), path, key),
				"a list");
	*out = v;
	return 1;
}

int mf_as_str(struct mf_ctx *c, const mf_node *n, const char *path,
	      const char **out)
{
	if (n->kind != YAML_TREE_SCALAR || mf_scalar_type(n) != MF_S_STR)
		return mf_wrong(c, n, path, "a string");
	/* "\0" is legal in a double-quoted YAML string; in a name it would
	 * silently cut the name short. */
	if (strlen(n->str) != n->len) {
		mf_error(c, n, "%s: must not contain NUL characters", path);
		return -EINVAL;
	}
	*out = n->str;
	return 1;
}

int mf_get_str(struct mf_ctx *c, const mf_node *map, const char *path,
	       const char *key, const char **out, const mf_node **at)
{
	const mf_node *v = yaml_tree_map_get(map, key);
	char p[MF_PATH_MAX];
	int ret;

	if (yaml_tree_is_null(v))
		return 0;
	ret = mf_as_str(c, v, mf_path(p, sizeof(p), path, key), out);
	if (ret == 1 && at)
		*at = v;
	return ret;
}

int mf_get_strdup(struct mf_ctx *c, const mf_node *map, const char *path,
		  const char *key, char **out)
{
	const char *s;
	int ret = mf_get_str(c, map, path, key, &s, NULL);

	if (ret != 1)
		return ret;
	*out = strdup(s);
	return *out ? 1 : -ENOMEM;
}

int mf_get_int(struct mf_ctx *c, const mf_node *map, const char *path,
	       const char *key, long long *out, const mf_node **at)
{
	const mf_node *v = yaml_tree_map_get(map, key);
	const char *s;
	char p[MF_PATH_MAX];
	bool neg;

	if (yaml_tree_is_null(v))
		return 0;
	if (v->kind != YAML_TREE_SCALAR || mf_scalar_type(v) != MF_S_INT)
		return mf_wrong(c, v, mf_path(p, sizeof(p), path, key),
				"an integer");
	s = v->str;
	neg = *s == '-';
	if (*s == '-' || *s == '+')
		s++;
	if (s[0] == '0' && s[1] == 'o')
		*out = strtoll(s + 2, NULL, 8);
	else
		*out = strtoll(s, NULL, 0); /* saturates; range checks follow */
	if (neg)
		*out = -*out;
	if (at)
		*at = v;
	return 1;
}

int mf_get_bool(struct mf_ctx *c, const mf_node *map, const char *path,
		const char *key, bool *out)
{
	const mf_node *v = yaml_tree_map_get(map, key);
	char p[MF_PATH_MAX];

	if (yaml_tree_is_null(v))
		return 0;
	if (v->kind != YAML_TREE_SCALAR || mf_scalar_type(v) != MF_S_BOOL)
		return mf_wrong(c, v, mf_path(p, sizeof(p), path, key),
				"a boolean");
	*out = mf_in(v->str, mf_trues);
	return 1;
}

int mf_get_port(struct mf_ctx *c, const mf_node *map, const char *path,
		const char *key, unsigned flags, uint16_t *out)
{
	const mf_node *at = NULL;
	char p[MF_PATH_MAX];
	long long v;
	int ret;

	*out = 0;
	ret = mf_get_int(c, map, path, key, &v, &at);
	mf_path(p, sizeof(p), path, key);
	if (ret == 0 && (flags & MF_PORT_REQUIRED)) {
		mf_error(c, map, "%s: Required value", p);
		return -EINVAL;
	}
	if (ret != 1)
		return ret;
	if (v == 0 && (flags & MF_PORT_ZERO_OK))
		return 1;
	if (v < 1 || v > 65535) {
		mf_error(c, at, "%s: %s is not a port (1-65535)", p, at->str);
		return -EINVAL;
	}
	*out = (uint16_t)v;
	return 1;
}

int mf_get_protocol(struct mf_ctx *c, const mf_node *map, const char *path,
		    const char *key, uint8_t *out)
{
	const mf_node *at = NULL;
	const char *s;
	char p[MF_PATH_MAX];
	int ret;

	*out = LDMESH_PROTO_TCP;
	ret = mf_get_str(c, map, path, key, &s, &at);
	if (ret != 1)
		return ret;
	if (!strcmp(s, "TCP"))
		*out = LDMESH_PROTO_TCP;
	else if (!strcmp(s, "UDP"))
		*out = LDMESH_PROTO_UDP;
	else if (!strcmp(s, "SCTP"))
		*out = LDMESH_PROTO_SCTP;
	else {
		mf_error(c, at,
			 "%s: unsupported value \"%.64s\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
			 mf_path(p, sizeof(p), path, key), s);
		return -EINVAL;
	}
	return 1;
}

/*
 * The address ranges the API server refuses wherever a Service or an
 * endpoint names an IP (validation.ValidateNonSpecialIP, used for
 * externalIPs and EndpointSlice/Endpoints addresses; ClusterIPs come from
 * the service CIDR, which never holds them): routing a connect to
 * 127.0.0.1:53 or the cloud metadata address 169.254.169.254 into a pod is
 * what an attacker writing a manifest would want. All multicast is refused,
 * not only link-local multicast: no service or pod is reached by it.
 */
static const char *mf__special_ip(const uint8_t ip[16])
{
	static const uint8_t zero[16];

	if (mf_ip_is_v4(ip)) {
		const uint8_t *a = ip + 12;
		if (!a[0] && !a[1] && !a[2] && !a[3])
			return "may not be unspecified (0.0.0.0)";
		if (a[0] == 127)
			return "may not be in the loopback range (127.0.0.0/8)";
		if (a[0] == 169 && a[1] == 254)
			return "may not be in the link-local range (169.254.0.0/16)";
		if ((a[0] & 0xf0) == 224)
			return "may not be a multicast address (224.0.0.0/4)";
		return NULL;
	}
	if (!memcmp(ip, zero, 16))
		return "may not be unspecified (::)";
	if (!memcmp(ip, zero, 15) && ip[15] == 1)
		return "may not be the loopback address (::1)";
	if (ip[0] == 0xfe && (ip[1] & 0xc0) == 0x80)
		return "may not be in the link-local range (fe80::/10)";
	if (ip[0] == 0xff)
		return "may not be a multicast address (ff00::/8)";
	return NULL;
}

int mf_as_ip(struct mf_ctx *c, const mf_node *n, const char *path,
	     uint8_t out[16])
{
	const char *s, *why;
	int ret = mf_as_str(c, n, path, &s);

	if (ret != 1)
		return ret;
	if (manifest_parse_ip(s, out) < 0) {
		mf_error(c, n, "%s: \"%.64s\" is not a valid IP address", path,
			 s);
		return -EINVAL;
	}
	if ((why = mf__special_ip(out))) {
		mf_error(c, n, "%s: Invalid value: \"%.64s\": %s", path, s, why);
		return -EINVAL;
	}
	return 1;
}

int mf_get_ip(struct mf_ctx *c, const mf_node *map, const char *path,
	      const char *key, uint8_t out[16])
{
	const mf_node *v = yaml_tree_map_get(map, key);
	char p[MF_PATH_MAX];

	if (yaml_tree_is_null(v))
		return 0;
	return mf_as_ip(c, v, mf_path(p, sizeof(p), path, key), out);
}

bool mf_ip_is_v4(const uint8_t ip[16])
{
	static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					    0xff, 0xff };

	return !memcmp(ip, prefix, sizeof(prefix));
}

int mf_grow(void **v, size_t *cap, size_t n, size_t size)
{
	size_t ncap;
	void *nv;

	if (n < *cap)
		return 0;
	if (n >= UINT32_MAX) /* counts are 32 bits (manifest.h) */
		return -ENOMEM;
	ncap = *cap ? *cap * 2 : 4;
	nv = realloc(*v, ncap * size);
	if (!nv)
		return -ENOMEM;
	/* Zeroed, so a half-parsed element is always safe to free. */
	memset((char *)nv + *cap * size, 0, (ncap - *cap) * size);
	*v = nv;
	*cap = ncap;
	return 0;
}

int mf_port_name(struct mf_ctx *c, const mf_node *pm, const char *path,
		 char **out)
{
	const mf_node *at = NULL;
	const char *name = "";
	int ret = mf_get_str(c, pm, path, "name", &name, &at);

	if (ret == -ENOMEM)
		return ret;
	if (ret == 1 && *name && !mf_is_dns1123_label(name))
		mf_error(c, at,
			 "%s.name: \"%.64s\" is not a valid DNS-1123 label (at most 63 of [-a-z0-9], alphanumeric at both ends)",
			 path, name);
	*out = strdup(ret == 1 ? name : "");
	return *out ? ret : -ENOMEM;
}
