/*
 * Guest agent, boot half: runs the boot script that berth baked into the initramfs
 * (/berth/boot, NUL-separated like the helper's plan) and the host's setup requests.
 * The script says which modules to load, what to mount where, which virtio-serial port
 * to talk on and which directory becomes `/`; this file only carries it out.
 */
#include "agent.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

void agent_log(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0) return;
	if (n > (int)sizeof(buf) - 2) n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	/* fd 2 is /dev/console (the initramfs ships the node): the host keeps it in a log file */
	if (write(2, "berth-agent: ", 13) < 0 || write(2, buf, (size_t)n) < 0) return;
}

void agent_poweroff(void)
{
	sync();
	reboot(RB_POWER_OFF);
	agent_log("power off failed: %s", strerror(errno));
	for (;;) pause();
}

void agent_fatal(const char *fmt, ...)
{
	char buf[480];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	agent_log("fatal: %s", buf);
	agent_poweroff();
}

char **agent_split(char *buf, size_t len, int *n)
{
	int count = 0;
	for (size_t i = 0; i < len; i++)
		if (buf[i] == '\0') count++;
	char **v = calloc((size_t)count + 1, sizeof(char *));
	if (!v) return NULL;
	int k = 0;
	for (size_t i = 0; i < len && k < count; k++) {
		v[k] = buf + i;
		i += strlen(buf + i) + 1;
	}
	*n = count;
	return v;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int mkdir_p(const char *path, mode_t mode)
{
	char tmp[4096];
	size_t n = strlen(path);
	if (n >= sizeof(tmp)) return errno = ENAMETOOLONG, -1;
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/') continue;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST) return -1;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST) return -1;
	return 0;
}

static void load_module(const char *path, const char *params)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) agent_fatal("open module %s: %s", path, strerror(errno));
	if (syscall(SYS_finit_module, fd, params, 0) < 0 && errno != EEXIST)
		agent_fatal("load module %s: %s", path, strerror(errno));
	close(fd);
}

/* The port's device node and its name in sysfs appear at different moments: wait for both. */
static int open_port(const char *name, long timeout_ms)
{
	long deadline = now_ms() + timeout_ms;
	for (;;) {
		DIR *d = opendir("/sys/class/virtio-ports");
		struct dirent *e;
		while (d && (e = readdir(d))) {
			if (e->d_name[0] == '.') continue;
			char p[300], got[128];
			snprintf(p, sizeof(p), "/sys/class/virtio-ports/%s/name", e->d_name);
			int fd = open(p, O_RDONLY | O_CLOEXEC);
			if (fd < 0) continue;
			ssize_t n = read(fd, got, sizeof(got) - 1);
			close(fd);
			if (n <= 0) continue;
			got[n] = '\0';
			if (got[n - 1] == '\n') got[n - 1] = '\0';
			if (strcmp(got, name)) continue;
			snprintf(p, sizeof(p), "/dev/%s", e->d_name);
			int port = open(p, O_RDWR | O_CLOEXEC | O_NOCTTY);
			if (port >= 0) {
				closedir(d);
				return port;
			}
		}
		if (d) closedir(d);
		if (now_ms() > deadline) agent_fatal("virtio-serial port %s did not appear", name);
		sleep_ms(2);
	}
}

/* pivot_root cannot leave the initramfs, so the new root is moved over `/` (switch_root). */
static void switch_root(const char *dir)
{
	if (chdir(dir) < 0) agent_fatal("chdir %s: %s", dir, strerror(errno));
	if (mount(".", "/", NULL, MS_MOVE, NULL) < 0) agent_fatal("move %s to /: %s", dir, strerror(errno));
	if (chroot(".") < 0 || chdir("/") < 0) agent_fatal("chroot: %s", strerror(errno));
}

int agent_boot(const char *conf, int *port_fd)
{
	int fd = open(conf, O_RDONLY | O_CLOEXEC);
	if (fd < 0) agent_fatal("open %s: %s", conf, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0) agent_fatal("stat %s: %s", conf, strerror(errno));
	char *buf = malloc((size_t)st.st_size + 1);
	if (!buf || read(fd, buf, (size_t)st.st_size) != st.st_size) agent_fatal("read %s", conf);
	close(fd);
	int n;
	char **v = agent_split(buf, (size_t)st.st_size, &n);
	if (!v) agent_fatal("out of memory");
	*port_fd = -1;
	for (int i = 0; i < n;) {
		const char *op = v[i++];
		if (!strcmp(op, "mount") && i + 5 <= n) {
			const char *src = v[i], *dst = v[i + 1], *type = v[i + 2], *data = v[i + 4];
			unsigned long flags = strtoul(v[i + 3], NULL, 10);
			i += 5;
			if (mkdir_p(dst, 0755) < 0) agent_fatal("mkdir %s: %s", dst, strerror(errno));
			if (mount(src, dst, type, flags, *data ? data : NULL) < 0)
				agent_fatal("mount %s on %s (%s): %s", src, dst, type, strerror(errno));
		} else if (!strcmp(op, "module") && i + 2 <= n) {
			load_module(v[i], v[i + 1]);
			i += 2;
		} else if (!strcmp(op, "port") && i + 2 <= n) {
			*port_fd = open_port(v[i], strtol(v[i + 1], NULL, 10));
			i += 2;
		} else if (!strcmp(op, "root") && i + 1 <= n) {
			switch_root(v[i++]);
		} else {
			agent_fatal("bad boot op '%s'", op);
		}
	}
	free(v);
	free(buf);
	if (*port_fd < 0) agent_fatal("the boot script names no port");
	return 0;
}

/* Host setup requests (e.g. a cgroup the driver laid out): `mkdir path mode`, `write path value`. */
int agent_setup(char *buf, size_t len, char *err, size_t errlen)
{
	int n;
	char **v = agent_split(buf, len, &n);
	if (!v) return snprintf(err, errlen, "%d out of memory", ENOMEM), -1;
	int rc = 0;
	for (int i = 0; i < n && rc == 0;) {
		const char *op = v[i++];
		if (!strcmp(op, "mkdir") && i + 2 <= n) {
			if (mkdir(v[i], (mode_t)strtoul(v[i + 1], NULL, 8)) < 0 && errno != EEXIST)
				rc = -1, snprintf(err, errlen, "%d mkdir %s: %s", errno, v[i], strerror(errno));
			i += 2;
		} else if (!strcmp(op, "write") && i + 2 <= n) {
			int fd = open(v[i], O_WRONLY | O_TRUNC | O_CLOEXEC);
			size_t l = strlen(v[i + 1]);
			if (fd < 0 || write(fd, v[i + 1], l) != (ssize_t)l)
				rc = -1, snprintf(err, errlen, "%d write %s to %s: %s", errno, v[i + 1], v[i], strerror(errno));
			if (fd >= 0) close(fd);
			i += 2;
		} else {
			rc = -1, snprintf(err, errlen, "%d bad setup op '%s'", EINVAL, op);
		}
	}
	free(v);
	return rc;
}
