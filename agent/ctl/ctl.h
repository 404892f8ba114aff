/* SPDX-License-Identifier: MIT */
/* ldmeshctl's commands, each printing one view of a pinned snapshot as
 * text or JSON (the JSON shapes are documented in the README). */
#ifndef LDMESH_AGENT_CTL_H
#define LDMESH_AGENT_CTL_H

#include <stdbool.h>
#include <stdio.h>

#include "ldmesh/reader.h"

struct ctl {
	FILE *out;
	bool json;
	const char *table;                  /* the directory, for status */
	const struct ldmesh_control *control; /* may be NULL */
	const struct ldmesh_snap *snap;
};

int ctl_status(const struct ctl *c);
int ctl_services(const struct ctl *c);
/* "IP:PORT", "[IPv6]:PORT", optionally "/tcp", "/udp" or "/sctp".
 * Returns 0 when the address is a service, 1 when it is not, 2 on bad input. */
int ctl_route(const struct ctl *c, const char *target);
/* 0 when the name is answered from the table, 1 when not. */
int ctl_resolve(const struct ctl *c, const char *name);
/* ldmesh-dns's answer for NAME (TYPE, default A): 0 NOERROR, 1 otherwise. */
int ctl_dig(const struct ctl *c, const char *name, const char *type);

/* Text of an IPv4-mapped-or-IPv6 address. */
const char *ctl_addr(const uint8_t addr[16], char *buf, size_t len);
const char *ctl_proto_name(uint8_t protocol);
const char *ctl_type_name(const struct ldmesh_service *s);

#endif
