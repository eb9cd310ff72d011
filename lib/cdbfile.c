/* cdbfile: see cdbfile.h. A thin wrapper over tinycdb's reader. */
#include "cdbfile.h"

#include <cdb.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int cdbfile_lookup(const char *fn, const char *key, size_t keylen, struct str *out)
{
	struct cdb c;
	int fd = open(fn, O_RDONLY | O_CLOEXEC);
	int r;
	if (fd == -1) return errno == ENOENT ? 0 : -1;
	if (cdb_init(&c, fd) != 0) {
		int e = errno;
		close(fd);
		errno = e ? e : EINVAL;
		return -1;
	}
	r = cdb_find(&c, key, (unsigned)keylen);
	if (r > 0) {
		unsigned vlen = cdb_datalen(&c);
		str_ready(out, vlen);
		if (cdb_read(&c, out->s, vlen, cdb_datapos(&c)) != 0) r = -1;
		else out->len = vlen;
	}
	cdb_free(&c);
	close(fd);
	return r > 0 ? 1 : (r == 0 ? 0 : -1);
}
