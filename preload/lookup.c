/* SPDX-License-Identifier: MIT */
#include "lookup.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "ldmesh/arpa.h"
#include "trace.h"

/* The cluster domain, copied: names_* functions want a stable string. */
static const char *lookup__domain(const struct ldmesh_snap *s, char buf[NAMES_BUF],
				  size_t *len)
{
	ldmesh_snap_strcpy(s, s->cluster_domain, buf, NAMES_BUF);
	*len = strlen(buf);
	return buf;
}

static void lookup__add(struct lookup_result *r, const uint8_t a[16])
{
	for (unsigned i = 0; i < r->n_addrs; i++)
		if (!memcmp(r->addrs[i], a, 16))
			return;
	if (r->n_addrs < LOOKUP_MAX_ADDRS)
		memcpy(r->addrs[r->n_addrs++], a, 16);
}

static void lookup__svc_name(const struct ldmesh_snap *s,
			     const struct ldmesh_service *svc,
			     struct lookup_result *r)
{
	struct ldmesh_strv ns = ldmesh_snap_string(s, svc->ns);
	struct ldmesh_strv name = ldmesh_snap_string(s, svc->name);

	/* each at most 255 bytes (one length byte): "ns/name" fits r->svc */
	memcpy(r->svc, ns.p, ns.len);
	r->svc[ns.len] = '/';
	memcpy(r->svc + ns.len + 1, name.p, name.len);
	r->svc[ns.len + 1 + name.len] = 0;
}

/* Headless: the pod IPs DNS would list (ldmesh_endpoint_listed), by the
 * endpoint flags, not the writer's per-node ready_count. */
static void lookup__headless(const struct ldmesh_snap *s,
			     const struct ldmesh_service *svc, uint64_t rnd,
			     struct lookup_result *r)
{
	uint32_t n = svc->endpoint_count;
	uint32_t start = n > LOOKUP_MAX_ADDRS ? (uint32_t)(rnd % n) : 0;

	for (uint32_t i = 0; i < n && r->n_addrs < LOOKUP_MAX_ADDRS; i++) {
		struct ldmesh_endpoint ep;

		if (ldmesh_snap_endpoint(s, svc->first_endpoint + (start + i) % n, &ep) &&
		    ldmesh_endpoint_listed(svc, &ep))
			lookup__add(r, ep.addr);
	}
}

/* The endpoint a per-pod name names, if it is one of the service's. */
static bool lookup__pod(const struct ldmesh_snap *s,
			const struct ldmesh_service *svc, uint32_t ep,
			struct ldmesh_endpoint *out)
{
	return ep >= svc->first_endpoint &&
	       ep - svc->first_endpoint < svc->endpoint_count &&
	       ldmesh_snap_endpoint(s, ep, out);
}

static void lookup__slot(const struct ldmesh_snap *s,
			 const struct ldmesh_name_slot *slot,
			 const struct ldmesh_service *svc, uint64_t rnd,
			 struct lookup_result *r)
{
	struct ldmesh_endpoint ep;

	lookup__svc_name(s, svc, r);
	if (slot->endpoint != LDMESH_NONE) {
		if (lookup__pod(s, svc, slot->endpoint, &ep))
			lookup__add(r, ep.addr);
	} else if (svc->flags & LDMESH_SVC_F_HEADLESS)
		lookup__headless(s, svc, rnd, r);
	else
		for (unsigned i = 0; i < svc->ip_count && i < LDMESH_MAX_CLUSTER_IPS; i++)
			lookup__add(r, svc->cluster_ips[i]);
	/* CoreDNS answers NXDOMAIN for a name with no address at all */
	r->status = r->n_addrs ? LOOKUP_FOUND : LOOKUP_NOTFOUND;
}

/* The first candidate of `q` the table holds, copied into *slot. */
static bool lookup__find(const struct ldmesh_snap *s, const struct preload_config *c,
			 const struct names_query *q, const char *domain,
			 size_t dlen, char out[NAMES_BUF], size_t *out_len,
			 struct ldmesh_name_slot *slot)
{
	char cand[NAMES_BUF];
	int n;

	for (unsigned i = 0; (n = names_candidate(q, c, domain, dlen, i, cand)) >= 0;
	     i++) {
		/* only cluster names can be in the table; the rest are DNS's */
		if (!n || !names_in_domain(cand, (size_t)n, domain, dlen))
			continue;
		if (ldmesh_snap_find_name(s, cand, (size_t)n, slot)) {
			memcpy(out, cand, (size_t)n + 1);
			*out_len = (size_t)n;
			return true;
		}
	}
	return false;
}

/* A relative name whose every search-list expansion lies inside the
 * cluster domain (a pod's usual resolv.conf): the table has answered all of
 * those already, so only the name as written is worth a DNS query. */
static bool lookup__search_all_ours(const struct preload_config *c,
				    const struct names_query *q,
				    const char *domain, size_t dlen)
{
	if (q->absolute || !c->n_search || !dlen)
		return false;
	for (unsigned i = 0; i < c->n_search; i++) {
		const char *d = config_search(c, i);
		if (!names_in_domain(d, strlen(d), domain, dlen))
			return false;
	}
	return true;
}

/* An ExternalName's target outside the cluster: the resolver's, as the
 * absolute name in r->canon. */
static void lookup__external(struct lookup_result *r)
{
	r->canon[r->canon_len++] = '.';
	r->canon[r->canon_len] = 0;
	r->status = LOOKUP_EXTERNAL;
}

static void lookup__start(const struct ldmesh_snap *s, struct lookup_result *r)
{
	r->status = LOOKUP_PASS;
	r->skip_search = false;
	r->incomplete = false;
	r->generation = s->generation;
	r->name_hash = 0;
	r->n_addrs = 0;
	r->canon_len = 0;
	r->canon[0] = 0;
	r->svc[0] = 0;
}

/* "a-b-c-d" (IPv4) or the address with ':' as '-' (IPv6), as kube-dns names
 * an endpoint that has no hostname of its own. */
static size_t lookup__dashed(const uint8_t addr[16], char *out, size_t len)
{
	char text[INET6_ADDRSTRLEN];

	if (addr_is_v4(addr))
		inet_ntop(AF_INET, addr + 12, text, sizeof(text));
	else
		inet_ntop(AF_INET6, addr, text, sizeof(text));
	for (char *p = text; *p; p++)
		if (*p == '.' || *p == ':')
			*p = '-';
	return (size_t)snprintf(out, len, "%s", text);
}

void lookup_addr(const struct ldmesh_snap *s, const uint8_t addr[16], struct lookup_result *r)
{
	char arpa[LDMESH_ARPA_MAX + 1], first[NAMES_BUF], dbuf[NAMES_BUF];
	struct ldmesh_name_slot slot;
	struct ldmesh_service svc;
	struct ldmesh_endpoint ep;
	size_t dlen, n = 0;
	const char *domain = lookup__domain(s, dbuf, &dlen);

	lookup__start(s, r);
	if (!ldmesh_snap_find_name(s, arpa, ldmesh_arpa_name(addr, arpa), &slot) ||
	    !ldmesh_snap_service(s, slot.service, &svc))
		return;
	if (slot.endpoint != LDMESH_NONE) {
		/* the endpoint it names holds this very address (a damaged
		 * table cannot make us name someone else) */
		if (!lookup__pod(s, &svc, slot.endpoint, &ep) || memcmp(ep.addr, addr, 16))
			return;
		if (ep.hostname)
			ldmesh_snap_strcpy(s, ep.hostname, first, sizeof(first));
		else
			lookup__dashed(addr, first, sizeof(first));
		n = (size_t)snprintf(r->canon, sizeof(r->canon), "%s.", first);
	}
	lookup__svc_name(s, &svc, r);
	struct ldmesh_strv ns = ldmesh_snap_string(s, svc.ns), name = ldmesh_snap_string(s, svc.name);
	n += (size_t)snprintf(r->canon + n, sizeof(r->canon) - n, "%.*s.%.*s.svc.%s",
			      (int)name.len, name.p, (int)ns.len, ns.p, domain);
	if (n >= sizeof(r->canon) || n > LDMESH_STR_MAX) {
		r->canon[0] = 0; /* longer than DNS allows: no such name */
		return;
	}
	r->canon_len = n;
	r->name_hash = slot.hash;
	memcpy(r->addrs[0], addr, 16);
	r->n_addrs = 1;
	r->status = LOOKUP_FOUND;
}

void lookup_name(const struct ldmesh_snap *s, const struct preload_config *c,
		 const char *name, uint64_t rnd, struct lookup_result *r)
{
	struct ldmesh_name_slot slot;
	struct names_query q;
	char dbuf[NAMES_BUF];
	size_t dlen;
	const char *domain = lookup__domain(s, dbuf, &dlen);

	lookup__start(s, r);
	if (!name || !names_normalise(name, &q))
		return;

	if (!lookup__find(s, c, &q, domain, dlen, r->canon, &r->canon_len, &slot)) {
		bool ours = names_in_domain(q.name, q.len, domain, dlen);

		/* A cluster name a complete table lacks does not exist: say so
		 * now rather than let DNS time out over the search list. An
		 * incomplete table (a folder not yet synced) knows no such
		 * thing: the resolver is asked, search list and all. */
		if (s->flags & LDMESH_SNAP_F_INCOMPLETE)
			r->incomplete = ours || lookup__search_all_ours(c, &q, domain, dlen);
		else if (ours)
			r->status = LOOKUP_NOTFOUND;
		else
			r->skip_search = lookup__search_all_ours(c, &q, domain, dlen);
		return;
	}
	r->name_hash = slot.hash;
	for (int hop = 0; hop < LOOKUP_CHAIN_MAX; hop++) {
		struct ldmesh_service svc;
		struct names_query t;
		char target[NAMES_BUF];

		if (!ldmesh_snap_service(s, slot.service, &svc)) {
			r->status = LOOKUP_NOTFOUND; /* a damaged record */
			return;
		}
		if (svc.type != LDMESH_SVC_EXTERNAL_NAME ||
		    slot.endpoint != LDMESH_NONE) {
			lookup__slot(s, &slot, &svc, rnd, r);
			return;
		}
		/* ExternalName is a CNAME: its target is an FQDN */
		lookup__svc_name(s, &svc, r);
		ldmesh_snap_strcpy(s, svc.external_name, target, sizeof(target));
		if (!names_normalise(target, &t)) {
			r->status = LOOKUP_NOTFOUND;
			return;
		}
		memcpy(r->canon, t.name, t.len + 1);
		r->canon_len = t.len;
		if (!names_in_domain(t.name, t.len, domain, dlen)) {
			lookup__external(r);
			return;
		}
		if (!ldmesh_snap_find_name(s, t.name, t.len, &slot)) {
			/* an incomplete table may lack the target: DNS has it */
			if (s->flags & LDMESH_SNAP_F_INCOMPLETE) {
				lookup__external(r);
				r->incomplete = true;
			} else {
				r->status = LOOKUP_NOTFOUND;
			}
			return;
		}
	}
	r->status = LOOKUP_NOTFOUND;
}

void lookup_trace(struct trace_line *l, const struct lookup_result *r)
{
	switch (r->status) {
	case LOOKUP_PASS:
		/* skip_search: the name and its search-list expansions were
		 * all looked for in a complete table */
		trace_str(l, r->skip_search ? " pass (not a cluster name: every search domain lies "
					      "in the cluster domain, where the table has no such "
					      "name, so DNS is asked for the name alone, without "
					      "the search list)"
			     : r->incomplete ? " pass (the table is incomplete: not synced with "
					       "the API server)"
			     : " pass");
		return;
	case LOOKUP_NOTFOUND:
		trace_str(l, " notfound");
		break;
	case LOOKUP_EXTERNAL:
		trace_str(l, " -> ");
		trace_str(l, r->canon);
		trace_str(l, " (ExternalName)");
		break;
	case LOOKUP_FOUND:
		trace_str(l, " -> ");
		for (unsigned i = 0; i < r->n_addrs; i++) {
			if (i)
				trace_str(l, ",");
			trace_ip(l, r->addrs[i]);
		}
		break;
	}
	if (r->svc[0]) {
		trace_str(l, " svc=");
		trace_str(l, r->svc);
	}
	trace_str(l, " gen=");
	trace_u64(l, r->generation);
}

void lookup_trace_addr(struct trace_line *l, const struct lookup_result *r)
{
	if (r->status != LOOKUP_FOUND) {
		trace_str(l, " pass (no Service or headless endpoint has this address)");
		return;
	}
	trace_str(l, " -> ");
	trace_str(l, r->canon);
	trace_str(l, " svc=");
	trace_str(l, r->svc);
	trace_str(l, " gen=");
	trace_u64(l, r->generation);
}
