/* SPDX-License-Identifier: MIT */
/*
 * getpeername(2) on a redirected socket answers the ClusterIP:port the
 * application dialled, as Cilium's socket LB does: logging, TLS SNI checks
 * and protocols that echo the peer see the service, not the pod.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "fdmap.h"
#include "peer.h"
#include "real.h"
#include "state.h"
#include "umem.h"

/*
 * The kernel answers first, into the program's own buffer: it checks both
 * pointers and the length (EFAULT, EINVAL) and writes the real peer within
 * the room given. Only then is the VIP written, within that same room. The
 * one value read before the call is the room itself (the kernel overwrites
 * it), and only once it is known to be readable.
 */
LDMESH_EXPORT int getpeername(int fd, struct sockaddr *sa, socklen_t *len)
{
	struct sockaddr_storage peer;
	struct fdmap_view v;
	socklen_t avail, plen = sizeof(peer);
	int rc;

	/* a socket ldmesh never redirected costs one load, no extra call */
	if (!state_peek() || !fdmap_get(fd, &v) || !umem_readable(len, sizeof(*len)))
		return real.getpeername(fd, sa, len);
	avail = *len;
	rc = real.getpeername(fd, sa, len);
	if (rc < 0)
		return rc;
	/* the full peer for the comparison, when their room truncated it */
	if (*len <= avail)
		memcpy(&peer, sa, *len), plen = *len;
	else if (real.getpeername(fd, (struct sockaddr *)&peer, &plen) < 0 || plen != *len)
		return 0; /* the socket changed under us: the kernel's answer stands */
	if (peer_rewrite(fd, &peer, &plen))
		memcpy(sa, &peer, avail < plen ? avail : plen);
	return 0;
}
