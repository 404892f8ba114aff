/* SPDX-License-Identifier: MIT */
#include "names.h"

#include <string.h>

bool names_normalise(const char *in, struct names_query *q)
{
	size_t n = 0, label = 0;

	q->dots = 0;
	q->absolute = false;
	for (const char *p = in; *p; p++) {
		char ch = *p;

		if (ch == '.') {
			if (!p[1]) {
				q->absolute = true;
				break;
			}
			if (!label)
				return false;
			label = 0;
			q->dots++;
		} else {
			/* whitespace and control bytes never reach DNS, and
			 * '/' or '%' mark paths and IPv6 scopes, not names */
			if ((unsigned char)ch <= ' ' || ch == '/' || ch == '%' ||
			    ch == 0x7f)
				return false;
			if (ch >= 'A' && ch <= 'Z')
				ch = (char)(ch - 'A' + 'a');
			label++;
		}
		if (n >= NAMES_MAX)
			return false;
		q->name[n++] = ch;
	}
	if (!n || !label)
		return false;
	q->name[n] = 0;
	q->len = n;
	return true;
}

bool names_in_domain(const char *fqdn, size_t len, const char *domain,
		     size_t dlen)
{
	if (!dlen || len < dlen)
		return false;
	if (memcmp(fqdn + len - dlen, domain, dlen))
		return false;
	return len == dlen || fqdn[len - dlen - 1] == '.';
}

/* out = name "." a "." b "." c (NULL parts skipped); 0 if too long */
static int names__join(const struct names_query *q, const char *a,
		       const char *b, const char *c, char out[NAMES_BUF])
{
	const char *parts[3] = { a, b, c };
	size_t n = q->len;

	memcpy(out, q->name, n);
	for (int i = 0; i < 3; i++) {
		size_t pl;

		if (!parts[i])
			continue;
		pl = strlen(parts[i]);
		if (n + 1 + pl > NAMES_MAX)
			return 0;
		out[n++] = '.';
		memcpy(out + n, parts[i], pl);
		n += pl;
	}
	out[n] = 0;
	return (int)n;
}

int names_candidate(const struct names_query *q, const struct preload_config *c,
		    const char *domain, size_t dlen, unsigned idx,
		    char out[NAMES_BUF])
{
	unsigned own = dlen ? 3 : 0;
	bool as_is_first;

	if (q->absolute)
		return idx == 0 ? names__join(q, NULL, NULL, NULL, out) : -1;

	/* the Kubernetes forms: <ns>.svc.<domain>, svc.<domain>, <domain> */
	if (idx < own) {
		switch (idx) {
		case 0:
			return names__join(q, c->ns, "svc", domain, out);
		case 1:
			return names__join(q, "svc", domain, NULL, out);
		default:
			return names__join(q, domain, NULL, NULL, out);
		}
	}
	idx -= own;

	/* glibc res_search: as-is first when dots >= ndots, else last */
	as_is_first = q->dots >= c->ndots;
	if (as_is_first) {
		if (idx == 0)
			return names__join(q, NULL, NULL, NULL, out);
		idx--;
	}
	if (idx < c->n_search)
		return names__join(q, config_search(c, idx), NULL, NULL, out);
	if (!as_is_first && idx == c->n_search)
		return names__join(q, NULL, NULL, NULL, out);
	return -1;
}
