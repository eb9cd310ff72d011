/* addr: envelope addresses.
 *
 * Addresses are handled as (pointer, length) bytes; the domain is what
 * follows the last '@'. Quoting follows RFC 5321/822 rules for the local
 * part so that a Return-Path or forwarding header can be written safely.
 */
#ifndef NQ_ADDR_H
#define NQ_ADDR_H

#include <stddef.h>

#include "str.h"

/* Appends addr to out, quoting the local part when it is not a dot-atom.
 * "#@[]" and "" are written as they are. */
void addr_quote(struct str *out, const char *addr, size_t len);
/* Index of the last '@', or len when there is none. */
size_t addr_at(const char *addr, size_t len);
/* 1 when addr is a usable forwarding target: a user, or local@domain
 * with non-empty parts (an address literal closed by ']'), and no white
 * space, angle brackets, parentheses or control bytes. As in qmail, the
 * domain need not have a dot ("joe@localhost"). */
int addr_forwardable(const char *addr, size_t len);
/* Appends to out the envelope sender one copy for recip goes out with.
 * A sender "prefix@host-@[]" asks for a per-recipient VERP (dot-qmail(5),
 * qmail-inject(8)): the copy for box@domain gets "prefixbox=domain@host".
 * Any other sender, or a recipient without '@', is appended unchanged. */
void addr_verp(struct str *out, const char *sender, size_t slen, const char *recip, size_t rlen);
/* The length of sender once a VERP's "-@[]" is taken off ("owner-@host-@[]"
 * becomes "owner-@host", where qmail-send sends bounces); slen if none. */
size_t addr_verp_base(const char *sender, size_t slen);

#endif
