/* base64: RFC 4648 base64 decoding, for SMTP AUTH (RFC 4954).
 *
 * Strict: the standard alphabet only, '=' padding only at the end, the
 * length a multiple of four, no white space; anything else is refused, so
 * that two different client strings never decode to the same bytes.
 */
#ifndef NQ_BASE64_H
#define NQ_BASE64_H

#include <stddef.h>

#include "str.h"

/* Appends the bytes that in (len bytes) encodes to out. 0 ok, -1 when in
 * is not well-formed base64 (out then holds an unspecified prefix). */
int base64_decode(struct str *out, const char *in, size_t len);

#endif
