/* SPDX-License-Identifier: MIT */
/*
 * Reverse names, as both sides of the table spell them. The agent puts one
 * name-index entry per ClusterIP ("80.0.96.10.in-addr.arpa" naming the
 * service) and one per address of a ready endpoint of a headless service
 * (naming that endpoint), which is where the Kubernetes DNS specification
 * (schema 1.1.0, sections 2.3.4 and 2.4.4) puts PTR records; readers
 * (getnameinfo and gethostbyaddr in the preload, ldmesh-dns) find an
 * address by spelling its name the same way. The cluster-domain names a
 * forward lookup consults never end in ".arpa", so the two never meet.
 */
#ifndef LDMESH_ARPA_H
#define LDMESH_ARPA_H

#include <stddef.h>
#include <stdint.h>

/* "255.255.255.255.in-addr.arpa" is 28, 32 nibbles and "ip6.arpa" 72 */
#define LDMESH_ARPA_MAX 73

/*
 * The reverse name of a 16-byte address (IPv4-mapped for IPv4: RFC 1035
 * 3.5; otherwise the nibbles of RFC 3596 2.5), lower case, without a
 * trailing dot, NUL-terminated into `out` (LDMESH_ARPA_MAX + 1 bytes).
 * Returns its length.
 */
static inline size_t ldmesh_arpa_name(const uint8_t addr[16], char out[LDMESH_ARPA_MAX + 1])
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	static const char hex[] = "0123456789abcdef";
	static const char v4[] = "in-addr.arpa", v6[] = "ip6.arpa";
	size_t n = 0, i;

	for (i = 0; i < 12 && addr[i] == v4mapped[i]; i++)
		;
	if (i == 12) {
		for (int k = 15; k >= 12; k--) {
			unsigned b = addr[k];
			if (b >= 100)
				out[n++] = (char)('0' + b / 100);
			if (b >= 10)
				out[n++] = (char)('0' + b / 10 % 10);
			out[n++] = (char)('0' + b % 10);
			out[n++] = '.';
		}
		for (i = 0; v4[i]; i++)
			out[n++] = v4[i];
	} else {
		for (int k = 15; k >= 0; k--) {
			out[n++] = hex[addr[k] & 15];
			out[n++] = '.';
			out[n++] = hex[addr[k] >> 4];
			out[n++] = '.';
		}
		for (i = 0; v6[i]; i++)
			out[n++] = v6[i];
	}
	out[n] = 0;
	return n;
}

#endif
