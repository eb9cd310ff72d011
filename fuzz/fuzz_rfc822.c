/* libFuzzer target: RFC 822 tokens and address lists (lib/rfc822).
 * Whatever parses must walk, rewrite and print without memory errors;
 * the printed field ends in a newline and parses again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rfc822.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Qualifies like qmail-inject: an address without '@' gets a host. */
static void rewrite(struct rfc822_tokens *addr, void *ctx)
{
	size_t i;
	(void)ctx;
	for (i = 0; i < addr->len; ++i)
		if (addr->t[i].type == RFC822_AT) return;
	if (addr->len == 0) return;
	rfc822_append(addr, RFC822_AT, "", 0);
	rfc822_append(addr, RFC822_ATOM, "example", 7);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rfc822_tokens in = RFC822_TOKENS_INIT, out = RFC822_TOKENS_INIT;
	struct rfc822_tokens again = RFC822_TOKENS_INIT;
	struct str text = STR_INIT, plain = STR_INIT;
	if (rfc822_parse(&in, (const char *)data, size)) {
		rfc822_unquote(&plain, &in);
		if (rfc822_addrlist(&out, &in, 2, rewrite, 0)) {
			rfc822_unparse(&text, &out, 80);
			if (text.len == 0 || text.s[text.len - 1] != '\n') abort();
			if (!rfc822_parse(&again, text.s, text.len)) abort();
		}
	}
	rfc822_free(&in);
	rfc822_free(&out);
	rfc822_free(&again);
	str_free(&text);
	str_free(&plain);
	return 0;
}
