/* base64: strict RFC 4648 decoding (see base64.h). */
#include "base64.h"

static int value(char c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+') return 62;
	if (c == '/') return 63;
	return -1;
}

int base64_decode(struct str *out, const char *in, size_t len)
{
	if (len % 4) return -1;
	for (size_t i = 0; i < len; i += 4) {
		int v[4];
		int pad = 0;
		unsigned long bits;
		for (int k = 0; k < 4; ++k) {
			char c = in[i + k];
			if (c == '=' && i + 4 == len && k >= 2 && (k == 3 || in[i + 3] == '=')) {
				v[k] = 0;
				++pad;
				continue;
			}
			if (pad) return -1; /* data after padding */
			v[k] = value(c);
			if (v[k] < 0) return -1;
		}
		/* The bits padding leaves over must be zero (RFC 4648 3.5). */
		if ((pad == 2 && (v[1] & 15)) || (pad == 1 && (v[2] & 3))) return -1;
		bits = ((unsigned long)v[0] << 18) | ((unsigned long)v[1] << 12) |
		       ((unsigned long)v[2] << 6) | (unsigned long)v[3];
		str_catc(out, (char)(bits >> 16));
		if (pad < 2) str_catc(out, (char)(bits >> 8 & 0xff));
		if (pad < 1) str_catc(out, (char)(bits & 0xff));
	}
	return 0;
}
