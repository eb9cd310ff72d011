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

#endif
