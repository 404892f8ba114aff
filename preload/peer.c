/* SPDX-License-Identifier: MIT */
#include "peer.h"

#include <string.h>

#include "addr.h"
#include "fdmap.h"

bool peer_rewrite(int fd, struct sockaddr_storage *peer, socklen_t *len)
{
	struct fdmap_view v;
	struct sockaddr_storage vip;
	uint8_t a[16];
	uint16_t port;
	socklen_t vl;

	if (!fdmap_get(fd, &v))
		return false;
	if (!addr_from_sockaddr((struct sockaddr *)peer, *len, a, &port) ||
	    port != v.backend_port || memcmp(a, v.backend, 16) != 0)
		return false;
	vl = addr_to_sockaddr(peer->ss_family, v.vip, v.vip_port, &vip);
	if (!vl)
		return false;
	memcpy(peer, &vip, vl);
	*len = vl;
	return true;
}
