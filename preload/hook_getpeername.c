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

LDMESH_EXPORT int getpeername(int fd, struct sockaddr *sa, socklen_t *len)
{
	struct sockaddr_storage peer;
	struct fdmap_view v;
	socklen_t plen = sizeof(peer);
	int rc;

	/* a socket ldmesh never redirected costs one load, no extra call */
	if (!state_peek() || !sa || !len || !fdmap_get(fd, &v))
		return real.getpeername(fd, sa, len);
	/* into our own full-size buffer, so the comparison never sees a
	 * truncated address; then the kernel's truncation rule for theirs */
	rc = real.getpeername(fd, (struct sockaddr *)&peer, &plen);
	if (rc < 0)
		return rc;
	peer_rewrite(fd, &peer, &plen);
	memcpy(sa, &peer, *len < plen ? *len : plen);
	*len = plen;
	return 0;
}
