/* cdbfile: read-only lookups in constant databases (djb's cdb format, as
 * written by tinycdb's cdb(1), qmail-newu, qmail-newmrh and tcprules).
 *
 * Our own reader, so that programs built against musl need no libcdb.
 * The file layout: 256 (position, slot count) pairs of 32-bit little-endian
 * numbers, then records (key length, data length, key, data), then the 256
 * hash tables of (hash, record position) slots. The hash of a key starts at
 * 5381 and takes each byte c as h = ((h << 5) + h) ^ c. Every position and
 * length read from the file is checked against its size, so a damaged file
 * is an error (EINVAL), never a read outside it. */
#ifndef NQ_CDBFILE_H
#define NQ_CDBFILE_H

#include <stddef.h>
#include <stdint.h>

#include "str.h"

struct cdbfile {
	int fd;
	uint32_t size;  /* file size (a cdb is at most 4 GB) */
	uint32_t dpos;  /* the value found by the last cdbfile_find */
	uint32_t dlen;
};

/* Opens fn for lookups: 1 opened, 0 no such file, -1 error (errno set). */
int cdbfile_open(struct cdbfile *c, const char *fn);
/* Finds the first record with this key: 1 found (its value is then read
 * by cdbfile_value), 0 not found, -1 error (errno set). */
int cdbfile_find(struct cdbfile *c, const char *key, size_t keylen);
/* Copies the value cdbfile_find found to out: 0 done, -1 error. */
int cdbfile_value(struct cdbfile *c, struct str *out);
void cdbfile_close(struct cdbfile *c);

/* Looks key up in the cdb file fn and copies the first value to out.
 * 1 found, 0 not found or no such file, -1 error (errno set). */
int cdbfile_lookup(const char *fn, const char *key, size_t keylen, struct str *out);

#endif
