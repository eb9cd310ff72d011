/* libFuzzer target: strict base64 decoding (lib/base64). Whatever is
 * accepted must be canonical: encoding the decoded bytes again gives back
 * exactly the input, so two client strings never mean the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void encode(struct str *out, const unsigned char *p, size_t n)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < n; i += 3) {
		unsigned long v = (unsigned long)p[i] << 16;
		if (i + 1 < n) v |= (unsigned long)p[i + 1] << 8;
		if (i + 2 < n) v |= p[i + 2];
		str_catc(out, abc[v >> 18 & 63]);
		str_catc(out, abc[v >> 12 & 63]);
		str_catc(out, i + 1 < n ? abc[v >> 6 & 63] : '=');
		str_catc(out, i + 2 < n ? abc[v & 63] : '=');
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct str dec = STR_INIT;
	struct str enc = STR_INIT;
	if (base64_decode(&dec, (const char *)data, size) == 0) {
		encode(&enc, (const unsigned char *)dec.s, dec.len);
		if (enc.len != size || (size && memcmp(enc.s, data, size) != 0)) abort();
	}
	str_free(&dec);
	str_free(&enc);
	return 0;
}
