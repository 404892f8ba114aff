/* SPDX-License-Identifier: MIT */
/* `ldmeshctl resolve NAME`: the preload's own lookup code against the
 * table, with the preload's configuration (LDMESH_NAMESPACE, the service-
 * account namespace file, resolv.conf), so the answer is the one a pod gets. */
#include "ctl.h"

#include <string.h>

#include "config.h"
#include "json.h"
#include "lookup.h"

static const char *const ctl__status_name[] = {
	[LOOKUP_PASS] = "pass",
	[LOOKUP_NOTFOUND] = "notfound",
	[LOOKUP_FOUND] = "found",
	[LOOKUP_EXTERNAL] = "external",
};

int ctl_resolve(const struct ctl *c, const char *name)
{
	static struct preload_config cfg;
	static struct lookup_result r;
	char a[64];

	config_load(&cfg);
	lookup_name(c->snap, &cfg, name, 0, &r);
	if (c->json) {
		struct json j;
		json_init(&j, c->out);
		json_open(&j, '{');
		json_key(&j, "name"), json_str(&j, name);
		json_key(&j, "namespace"), json_str(&j, cfg.ns);
		json_key(&j, "status"), json_str(&j, ctl__status_name[r.status]);
		json_key(&j, "service");
		if (r.status == LOOKUP_FOUND || r.status == LOOKUP_EXTERNAL)
			json_str(&j, r.svc);
		else
			json_null(&j);
		json_key(&j, "canonicalName");
		if (r.status == LOOKUP_FOUND || r.status == LOOKUP_EXTERNAL)
			json_str(&j, r.canon);
		else
			json_null(&j);
		json_key(&j, "addresses"), json_open(&j, '[');
		for (unsigned i = 0; r.status == LOOKUP_FOUND && i < r.n_addrs; i++)
			json_str(&j, ctl_addr(r.addrs[i], a, sizeof(a)));
		json_close(&j, ']');
		json_close(&j, '}');
		json_end(&j);
		return r.status == LOOKUP_FOUND || r.status == LOOKUP_EXTERNAL ? 0 : 1;
	}
	switch (r.status) {
	case LOOKUP_PASS:
		fprintf(c->out, "%s: not a cluster name; the system resolver answers it\n", name);
		return 1;
	case LOOKUP_NOTFOUND:
		fprintf(c->out, "%s: not found (inside the cluster domain, not in the table)\n", name);
		return 1;
	case LOOKUP_EXTERNAL:
		fprintf(c->out, "%s: ExternalName of %s -> %s (the system resolver answers it)\n",
			name, r.svc, r.canon);
		return 0;
	case LOOKUP_FOUND:
		fprintf(c->out, "%s -> %s (%s, namespace %s)\n", name, r.canon, r.svc, cfg.ns);
		for (unsigned i = 0; i < r.n_addrs; i++)
			fprintf(c->out, "  %s\n", ctl_addr(r.addrs[i], a, sizeof(a)));
		return 0;
	}
	return 1;
}
