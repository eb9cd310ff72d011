/* cdbfile: read-only lookups in constant databases (tinycdb's format,
 * the same as qmail's users/cdb, morercpthosts.cdb and tcprules output). */
#ifndef NQ_CDBFILE_H
#define NQ_CDBFILE_H

#include <stddef.h>

#include "str.h"

/* Looks key up in the cdb file fn and copies the first value to out.
 * 1 found, 0 not found or no such file, -1 error (errno set). */
int cdbfile_lookup(const char *fn, const char *key, size_t keylen, struct str *out);

#endif
