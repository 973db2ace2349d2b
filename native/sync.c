/* Framed messages to and from Node: a 4-byte little-endian length, then the payload. */
#include "helper.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int sync_fd = -1;

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	while (len) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int send_frame(const char *payload, size_t len)
{
	unsigned char hdr[4] = { len & 0xff, (len >> 8) & 0xff, (len >> 16) & 0xff, (len >> 24) & 0xff };
	char buf[4096 + 4];
	if (len > 4096) return -1;
	memcpy(buf, hdr, 4);
	memcpy(buf + 4, payload, len);
	return write_all(sync_fd, buf, len + 4); /* one write: parent and child never interleave */
}

int msg_send(const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0) return -1;
	if ((size_t)n >= sizeof(buf)) n = sizeof(buf) - 1;
	return send_frame(buf, (size_t)n);
}

/* Returns a NUL-terminated heap copy of the next frame, or NULL when Node has gone away. */
char *msg_recv(size_t *len)
{
	unsigned char hdr[4];
	if (read_all(sync_fd, hdr, 4) < 0) return NULL;
	size_t n = (size_t)hdr[0] | (size_t)hdr[1] << 8 | (size_t)hdr[2] << 16 | (size_t)hdr[3] << 24;
	if (n > (64u << 20)) return NULL;
	char *buf = malloc(n + 1);
	if (!buf) return NULL;
	if (read_all(sync_fd, buf, n) < 0) {
		free(buf);
		return NULL;
	}
	buf[n] = 0;
	if (len) *len = n;
	return buf;
}

const char *errno_name(int err)
{
	switch (err) {
#define E(x) case x: return #x;
	E(EPERM) E(ENOENT) E(ESRCH) E(EINTR) E(EIO) E(ENXIO) E(E2BIG) E(ENOEXEC) E(EBADF) E(ECHILD)
	E(EAGAIN) E(ENOMEM) E(EACCES) E(EFAULT) E(EBUSY) E(EEXIST) E(EXDEV) E(ENODEV) E(ENOTDIR)
	E(EISDIR) E(EINVAL) E(ENFILE) E(EMFILE) E(ENOTTY) E(ETXTBSY) E(EFBIG) E(ENOSPC) E(EROFS)
	E(EMLINK) E(ERANGE) E(ENAMETOOLONG) E(ENOSYS) E(ELOOP) E(ENOTSUP) E(ETIMEDOUT) E(ECONNREFUSED)
#undef E
	default: return "-";
	}
}

/* Report a failure to Node (if it still listens) and exit. err 0 means "no errno". */
void die(int err, const char *fmt, ...)
{
	char buf[3072];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (sync_fd >= 0 && msg_send("error %s %s%s%s", err ? errno_name(err) : "-", buf, err ? ": " : "",
				     err ? strerror(err) : "") == 0)
		_exit(1);
	fprintf(stderr, "berth-helper: %s%s%s\n", buf, err ? ": " : "", err ? strerror(err) : "");
	_exit(1);
}
