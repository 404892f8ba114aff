/* SPDX-License-Identifier: MIT */
/* Base64 for kubeconfig's *-data fields (RFC 4648 §4). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sync_config.h"

static int b64__val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int sync_base64_decode(const char *in, struct sync_blob *out)
{
	size_t n = strlen(in), o = 0;
	unsigned acc = 0, bits = 0;
	bool pad = false;
	char *buf = malloc(n / 4 * 3 + 4);

	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int v;

		if (in[i] == ' ' || in[i] == '\n' || in[i] == '\r' || in[i] == '\t')
			continue;
		if (in[i] == '=') {
			pad = true;
			continue;
		}
		v = b64__val(in[i]);
		if (v < 0 || pad)
			goto bad;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	/* Leftover bits beyond a byte mean a truncated input. */
	if (bits >= 6)
		goto bad;
	buf[o] = '\0';
	out->data = buf;
	out->len = o;
	return 0;
bad:
	free(buf);
	return -EINVAL;
}
