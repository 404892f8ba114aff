/* SPDX-License-Identifier: MIT */
/*
 * Addresses as the snapshot stores them (16 bytes, IPv4 as IPv4-mapped
 * IPv6, port in host order) to and from socket addresses.
 */
#ifndef LDMESH_PRELOAD_ADDR_H
#define LDMESH_PRELOAD_ADDR_H

#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

static inline bool addr_is_v4(const uint8_t a[16])
{
	uint64_t zero;
	uint32_t ffff;

	/* two loads, not a memcmp the compiler may leave as a call on the
	 * connect path (it did: 18 instructions a connect) */
	memcpy(&zero, a, 8);
	memcpy(&ffff, a + 8, 4);
	return zero == 0 && ffff == htonl(0xffffu);
}

static inline void addr_from_v4(uint8_t out[16], const void *in4)
{
	memset(out, 0, 10);
	out[10] = 0xff;
	out[11] = 0xff;
	memcpy(out + 12, in4, 4);
}

/*
 * The key of a socket address: false for anything but a well-formed
 * AF_INET/AF_INET6 address (the kernel would reject a short one anyway, and
 * then the error must be the kernel's, not ours).
 */
static inline bool addr_from_sockaddr(const struct sockaddr *sa, socklen_t len,
				      uint8_t out[16], uint16_t *port)
{
	if (!sa || len < (socklen_t)sizeof(sa_family_t))
		return false;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		if (len < (socklen_t)sizeof(*in))
			return false;
		addr_from_v4(out, &in->sin_addr);
		*port = ntohs(in->sin_port);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		if (len < (socklen_t)sizeof(*in6))
			return false;
		memcpy(out, &in6->sin6_addr, 16);
		*port = ntohs(in6->sin6_port);
		return true;
	}
	return false;
}

/*
 * A socket address of `family` for (a, port). An AF_INET6 socket reaches an
 * IPv4 address as IPv4-mapped; an AF_INET socket cannot reach IPv6 at all,
 * which returns 0.
 */
static inline socklen_t addr_to_sockaddr(int family, const uint8_t a[16],
					 uint16_t port,
					 struct sockaddr_storage *ss)
{
	/* only the address written is zeroed: callers use the returned
	 * length, and the 128 bytes of the storage cost a connect 20
	 * instructions */
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		if (!addr_is_v4(a))
			return 0;
		memset(in, 0, sizeof(*in));
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		memcpy(&in->sin_addr, a + 12, 4);
		return sizeof(*in);
	}
	if (family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		memset(in6, 0, sizeof(*in6));
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		memcpy(&in6->sin6_addr, a, 16);
		return sizeof(*in6);
	}
	return 0;
}

static inline bool addr_reachable(int family, const uint8_t a[16])
{
	return family == AF_INET6 || (family == AF_INET && addr_is_v4(a));
}

#endif
