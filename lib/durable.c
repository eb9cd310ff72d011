/* durable: see durable.h.
 *
 * Why the directory fsync in durable_publish: link() only changes the
 * directory. Without syncing it, a crash shortly after we report success
 * can leave the message in tmp/ and not in new/, and maildir readers delete
 * stale tmp/ files. maildir(5) stops at link; we pay one more fsync so that
 * "delivered" means delivered. */
#include "durable.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "str.h"

int durable_file(int fd)
{
	for (;;) {
		if (fsync(fd) == 0) return 0;
		if (errno != EINTR) return -1;
	}
}

int durable_dir_fd(int dirfd) { return durable_file(dirfd); }

int durable_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r, e;
	if (fd == -1) return -1;
	r = durable_file(fd);
	e = errno;
	close(fd);
	errno = e;
	return r;
}

int durable_write_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t w = write(fd, data, len);
		if (w < 0) {
			if (errno == EINTR) continue;
			return -1;
		}
		if (w == 0) { errno = EIO; return -1; }
		data += w;
		len -= (size_t)w;
	}
	return 0;
}

static int sync_parent(const char *path)
{
	struct str dir = STR_INIT;
	size_t slash = strlen(path);
	int r;
	while (slash > 0 && path[slash - 1] != '/') --slash;
	if (slash == 0) str_copys(&dir, ".");
	else str_copyb(&dir, path, slash);
	r = durable_dir(str_cstr(&dir));
	str_free(&dir);
	return r;
}

int durable_replace(const char *tmp, const char *final)
{
	if (rename(tmp, final) == -1) return -1;
	return sync_parent(final);
}

int durable_publish(const char *tmp, const char *final)
{
	int r;
	if (link(tmp, final) == -1) return -1;
	r = sync_parent(final);
	if (r == -1) {
		int e = errno;
		unlink(final);
		errno = e;
		return -1;
	}
	unlink(tmp);
	return 0;
}
