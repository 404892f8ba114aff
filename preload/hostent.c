/* SPDX-License-Identifier: MIT */
#include "hostent.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"

int hostent_fill(const struct lookup_result *r, int af, struct hostent *he,
		 char *buf, size_t buflen)
{
	size_t alen = af == AF_INET ? 4 : 16;
	size_t pad = (sizeof(char *) - ((uintptr_t)buf % sizeof(char *))) %
		     sizeof(char *);
	unsigned k = 0;
	size_t need;
	char **aliases, **list, *data, *name;

	for (unsigned i = 0; i < r->n_addrs; i++)
		k += (af == AF_INET) == addr_is_v4(r->addrs[i]);
	if (!k)
		return ENOENT;
	need = pad + sizeof(char *) * (1 + k + 1) + k * alen + r->canon_len + 1;
	if (buflen < need)
		return ERANGE;

	aliases = (char **)(buf + pad);
	list = aliases + 1;
	data = (char *)(list + k + 1);
	name = data + k * alen;
	aliases[0] = NULL;
	k = 0;
	for (unsigned i = 0; i < r->n_addrs; i++) {
		if ((af == AF_INET) != addr_is_v4(r->addrs[i]))
			continue;
		list[k] = data + k * alen;
		memcpy(list[k], af == AF_INET ? r->addrs[i] + 12 : r->addrs[i],
		       alen);
		k++;
	}
	list[k] = NULL;
	memcpy(name, r->canon, r->canon_len);
	name[r->canon_len] = 0;

	he->h_name = name;
	he->h_aliases = aliases;
	he->h_addrtype = af;
	he->h_length = (int)alen;
	he->h_addr_list = list;
	return 0;
}
