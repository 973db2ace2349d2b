/*
 * The container's filesystem view. Every destination is resolved under the root fd with
 * openat2(RESOLVE_IN_ROOT), so a symlink in the image can never send a mount outside the
 * rootfs (CVE-2021-30465 class); mounts then target the resolved fd via /proc/self/fd.
 */
#include "helper.h"
#include "kernel.h"
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int rootfd = -1, nullfd = -1;

static int open_in_root(const char *path, int flags)
{
	struct berth_open_how how = { .flags = (uint64_t)(flags | O_CLOEXEC), .mode = 0,
				      .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	return (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
}

static const char *fdpath(int fd, char buf[32])
{
	snprintf(buf, 32, "/proc/self/fd/%d", fd);
	return buf;
}

/* The path of an fd below the root, as the container will see it ("/a/b"), from /proc/self/fd. */
static int path_in_root(int fd, char *out, size_t len)
{
	char buf[32], host[PATH_MAX], root[PATH_MAX];
	ssize_t n = readlink(fdpath(fd, buf), host, sizeof(host) - 1);
	ssize_t r = readlink(fdpath(rootfd, buf), root, sizeof(root) - 1);
	if (n < 0 || r < 0) return -1;
	host[n] = root[r] = 0;
	if (strncmp(host, root, (size_t)r) || (host[r] && host[r] != '/')) {
		errno = EXDEV; /* cannot happen with RESOLVE_IN_ROOT; refuse rather than guess */
		return -1;
	}
	snprintf(out, len, "%s", host[r] ? host + r : "/");
	return 0;
}

/*
 * Open path (O_PATH) inside the root, creating it (a directory, or an empty file) and its
 * parents if missing. A dangling symlink on the way is followed inside the root and its
 * target created there, never on the host.
 */
static int ensure_path_depth(const char *path, int dir, int depth)
{
	int fd = open_in_root(path, O_PATH);
	if (fd >= 0 || errno != ENOENT) return fd;
	if (depth > 40) {
		errno = ELOOP;
		return -1;
	}
	char parent[PATH_MAX], base[PATH_MAX];
	snprintf(parent, sizeof(parent), "%s", path);
	snprintf(base, sizeof(base), "%s", path);
	const char *pdir = dirname(parent), *name = basename(base);
	if (!strcmp(name, "/") || !strcmp(name, ".") || !strcmp(name, "..")) {
		errno = EINVAL;
		return -1;
	}
	int pfd = ensure_path_depth(pdir, 1, depth + 1);
	if (pfd < 0) return -1;
	struct stat st;
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
		char target[PATH_MAX], where[PATH_MAX], next[2 * PATH_MAX + 2];
		ssize_t n = readlinkat(pfd, name, target, sizeof(target) - 1);
		int ok = n >= 0 && path_in_root(pfd, where, sizeof(where)) == 0;
		close(pfd);
		if (!ok) return -1;
		target[n] = 0;
		if (target[0] == '/') snprintf(next, sizeof(next), "%s", target);
		else snprintf(next, sizeof(next), "%s/%s", where, target);
		return ensure_path_depth(next, dir, depth + 1);
	}
	int rc;
	if (dir) {
		rc = mkdirat(pfd, name, 0755);
	} else {
		rc = openat(pfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (rc >= 0) close(rc);
	}
	close(pfd);
	if (rc < 0 && errno != EEXIST) return -1;
	return open_in_root(path, O_PATH);
}

static int ensure_path(const char *path, int dir)
{
	return ensure_path_depth(path, dir, 0);
}

/* Flags the kernel locks on a mount (a bind remount must keep them, or it fails in a user namespace). */
static unsigned long locked_flags(const char *target)
{
	struct statvfs sv;
	unsigned long f = 0;
	if (statvfs(target, &sv) < 0) return 0;
	if (sv.f_flag & ST_NOSUID) f |= MS_NOSUID;
	if (sv.f_flag & ST_NODEV) f |= MS_NODEV;
	if (sv.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
	if (sv.f_flag & ST_RDONLY) f |= MS_RDONLY;
	if (sv.f_flag & ST_NOATIME) f |= MS_NOATIME;
	if (sv.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
	if (sv.f_flag & ST_RELATIME) f |= MS_RELATIME;
	return f;
}

static void remount_bind(const char *dst, unsigned long flags)
{
	char buf[32];
	int fd = open_in_root(dst, O_PATH); /* reopen: the old fd names what is under the new mount */
	if (fd < 0) die(errno, "reopen mount point %s", dst);
	const char *t = fdpath(fd, buf);
	unsigned long keep = locked_flags(t) & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME);
	if (mount(NULL, t, NULL, MS_BIND | MS_REMOUNT | flags | keep, NULL) < 0)
		die(errno, "remount %s with its options", dst);
	close(fd);
}

#define PROPAGATION (MS_SHARED | MS_SLAVE | MS_PRIVATE | MS_UNBINDABLE)

static void do_mount(const struct mount_op *m)
{
	char buf[32];
	int bind = (m->flags & MS_BIND) != 0, dir = 1;
	if (bind) {
		struct stat st;
		if (stat(m->src, &st) < 0) die(errno, "mount source %s (for %s)", m->src, m->dst);
		dir = S_ISDIR(st.st_mode);
	}
	int fd = ensure_path(m->dst, dir);
	if (fd < 0) die(errno, "create mount point %s", m->dst);
	const char *t = fdpath(fd, buf);
	if (bind) {
		if (mount(m->src, t, NULL, MS_BIND | (m->flags & MS_REC), NULL) < 0)
			die(errno, "bind mount %s on %s", m->src, m->dst);
		unsigned long extra = m->flags & ~(MS_BIND | MS_REC | PROPAGATION);
		if (extra) remount_bind(m->dst, extra);
	} else {
		if (mount(m->src, t, m->fstype, m->flags & ~PROPAGATION, m->data[0] ? m->data : NULL) < 0)
			die(errno, "mount %s on %s (type %s)", m->src, m->dst, m->fstype);
	}
	close(fd);
	if (m->pflags) {
		fd = open_in_root(m->dst, O_PATH);
		if (fd < 0 || mount(NULL, fdpath(fd, buf), NULL, m->pflags, NULL) < 0)
			die(errno, "set propagation of %s", m->dst);
		close(fd);
	}
}

static int open_parent(const char *path, char *name, size_t namelen)
{
	char parent[PATH_MAX], base[PATH_MAX];
	snprintf(parent, sizeof(parent), "%s", path);
	snprintf(base, sizeof(base), "%s", path);
	snprintf(name, namelen, "%s", basename(base));
	return ensure_path(dirname(parent), 1);
}

static void do_mkdev(const struct dev_op *d)
{
	char name[NAME_MAX + 1];
	int pfd = open_parent(d->path, name, sizeof(name));
	if (pfd < 0) die(errno, "create parent of device %s", d->path);
	dev_t dev = makedev(d->major, d->minor);
	if (mknodat(pfd, name, d->mode, dev) < 0) {
		/* something of the image is there (a file, or a symlink planted to redirect us): replace it */
		if (errno != EEXIST || unlinkat(pfd, name, 0) < 0 || mknodat(pfd, name, d->mode, dev) < 0)
			die(errno, "mknod %s", d->path);
	}
	/* *at calls on the parent fd: these never follow anything but the node we just made */
	if (fchownat(pfd, name, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0) die(errno, "chown device %s", d->path);
	if (fchmodat(pfd, name, d->mode & 07777, 0) < 0) die(errno, "chmod device %s", d->path);
	close(pfd);
}

static void do_binddev(const struct dev_op *d)
{
	char buf[32];
	int fd = ensure_path(d->path, 0);
	if (fd < 0) die(errno, "create device mount point %s", d->path);
	if (mount(d->host, fdpath(fd, buf), NULL, MS_BIND, NULL) < 0) die(errno, "bind device %s", d->host);
	close(fd);
}

static void do_symlink(const char *target, const char *path)
{
	char name[NAME_MAX + 1];
	int pfd = open_parent(path, name, sizeof(name));
	if (pfd < 0) die(errno, "create parent of symlink %s", path);
	if (symlinkat(target, pfd, name) < 0 && errno != EEXIST) die(errno, "symlink %s", path);
	close(pfd);
}

static void write_file(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) die(errno, "open %s", path);
	size_t n = strlen(value);
	if (write(fd, value, n) != (ssize_t)n) die(errno, "write %s", path);
	close(fd);
}

/* maskedPaths: the host's own /dev/null (checked to be char 1:3), never the image's (CVE-2025-31133 class). */
static void do_mask(const char *path)
{
	char buf[32], src[32];
	int fd = open_in_root(path, O_PATH);
	if (fd < 0) {
		if (errno == ENOENT) return;
		die(errno, "resolve masked path %s", path);
	}
	struct stat st;
	if (fstat(fd, &st) < 0) die(errno, "stat masked path %s", path);
	int rc = S_ISDIR(st.st_mode) ? mount("tmpfs", fdpath(fd, buf), "tmpfs", MS_RDONLY, "size=0k")
				     : mount(fdpath(nullfd, src), fdpath(fd, buf), NULL, MS_BIND, NULL);
	if (rc < 0) die(errno, "mask %s", path);
	close(fd);
}

static void do_rofs(const char *path)
{
	char buf[32];
	int fd = open_in_root(path, O_PATH);
	if (fd < 0) {
		if (errno == ENOENT) return;
		die(errno, "resolve read-only path %s", path);
	}
	if (mount(fdpath(fd, buf), fdpath(fd, buf), NULL, MS_BIND | MS_REC, NULL) < 0) die(errno, "bind %s", path);
	close(fd);
	remount_bind(path, MS_RDONLY);
}

void setup_rootfs(const struct plan *p, const char *state)
{
	(void)state;
	if (mount(NULL, "/", NULL, p->propagation ? p->propagation : MS_SLAVE | MS_REC, NULL) < 0)
		die(errno, "set propagation of /");
	if (mount(p->rootfs, p->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0) die(errno, "bind rootfs %s", p->rootfs);
	rootfd = open(p->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) die(errno, "open rootfs %s", p->rootfs);
	nullfd = open("/dev/null", O_PATH | O_CLOEXEC);
	struct stat st;
	if (nullfd < 0 || fstat(nullfd, &st) < 0) die(errno, "open /dev/null");
	if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3)) die(EINVAL, "host /dev/null is not the null device");

	for (int i = 0; i < p->nfs; i++) {
		const struct fs_op *f = &p->fs[i];
		switch (f->kind) {
		case FS_MOUNT: do_mount(&f->m); break;
		case FS_MKDEV: do_mkdev(&f->d); break;
		case FS_BINDDEV: do_binddev(&f->d); break;
		case FS_SYMLINK: do_symlink(f->a, f->b); break;
		case FS_SYSCTL: write_file(f->a, f->b); break;
		case FS_MASK: do_mask(f->a); break;
		case FS_ROFS: do_rofs(f->a); break;
		}
	}
	if (p->mkcwd && p->cwd) {
		int fd = ensure_path(p->cwd, 1);
		if (fd < 0) die(errno, "cwd \"%s\" cannot be made inside the container root", p->cwd);
		close(fd);
	}
	if (p->rootro) {
		char buf[32];
		unsigned long keep = locked_flags(fdpath(rootfd, buf)) & (MS_NOSUID | MS_NODEV | MS_NOEXEC);
		if (mount(NULL, fdpath(rootfd, buf), NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | keep, NULL) < 0)
			die(errno, "remount root read-only");
	}
}

void enter_rootfs(const struct plan *p)
{
	if (p->nopivot) {
		if (chdir(p->rootfs) < 0) die(errno, "chdir %s", p->rootfs);
		if (mount(p->rootfs, "/", NULL, MS_MOVE, NULL) < 0) die(errno, "move rootfs to /");
		if (chroot(".") < 0) die(errno, "chroot");
	} else {
		int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
		int newroot = open(p->rootfs, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
		if (oldroot < 0 || newroot < 0) die(errno, "open roots for pivot_root");
		if (fchdir(newroot) < 0) die(errno, "chdir to rootfs");
		if (syscall(SYS_pivot_root, ".", ".") < 0) die(errno, "pivot_root");
		if (fchdir(oldroot) < 0) die(errno, "chdir to old root");
		/* the old root is stacked on "." now: detach it without sending the unmount to the host */
		if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0) die(errno, "make old root a slave");
		if (umount2(".", MNT_DETACH) < 0) die(errno, "detach old root");
		close(oldroot);
		close(newroot);
	}
	if (chdir("/") < 0) die(errno, "chdir /");
	if (p->rootprop && mount(NULL, "/", NULL, p->rootprop, NULL) < 0) die(errno, "set rootfs propagation");
	close(rootfd);
	close(nullfd);
	rootfd = nullfd = -1;
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Run the hooks of one stage: each gets the state JSON on stdin and must exit 0 within its timeout. */
void run_hooks(const struct plan *p, const char *stage, const char *state)
{
	for (int i = 0; i < p->nhooks; i++) {
		const struct hook_op *h = &p->hooks[i];
		if (strcmp(h->stage, stage)) continue;
		int pfd[2];
		if (pipe2(pfd, O_CLOEXEC) < 0) die(errno, "pipe for hook");
		pid_t pid = fork();
		if (pid < 0) die(errno, "fork hook");
		if (pid == 0) {
			dup2(pfd[0], 0);
			char *argv0[] = { (char *)h->path, NULL };
			execve(h->path, h->argv[0] ? h->argv : argv0, h->envp);
			_exit(127);
		}
		close(pfd[0]);
		signal(SIGPIPE, SIG_IGN);
		size_t n = strlen(state);
		if (write(pfd[1], state, n) < 0) { /* a hook may ignore its stdin */ }
		close(pfd[1]);
		long deadline = h->timeout ? now_ms() + (long)h->timeout * 1000L : 0;
		int st;
		for (;;) {
			pid_t r = waitpid(pid, &st, h->timeout ? WNOHANG : 0);
			if (r == pid) break;
			if (r < 0 && errno != EINTR) die(errno, "wait for %s hook", stage);
			if (deadline && now_ms() > deadline) {
				kill(pid, SIGKILL);
				waitpid(pid, &st, 0);
				die(ETIMEDOUT, "%s hook %s timed out after %us", stage, h->path, h->timeout);
			}
			if (r == 0) {
				struct timespec ts = { 0, 2000000 };
				nanosleep(&ts, NULL);
			}
		}
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			die(0, "%s hook %s failed (%s %d)", stage, h->path, WIFEXITED(st) ? "exit status" : "signal",
			    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	}
}

#ifndef SYS_fsopen
#define SYS_move_mount 429
#define SYS_fsopen 430
#define SYS_fsconfig 431
#define SYS_fsmount 432
#endif
#define FSCONFIG_SET_STRING_ 1
#define FSCONFIG_CMD_CREATE_ 6
#define MOVE_MOUNT_F_EMPTY_PATH_ 0x4

/*
 * The container's root as an overlay, mounted inside its own mount namespace so that the host
 * never holds a container mount that could leak. One `lowerdir+` per layer (Linux 6.8+) has no
 * length limit; older kernels get a single colon-joined lowerdir.
 */
void mount_overlay(const struct plan *p)
{
	int fs = (int)syscall(SYS_fsopen, "overlay", 1 /* FSOPEN_CLOEXEC */);
	if (fs < 0) die(errno, "fsopen overlay");
	int plus = 1;
	for (int i = 0; i < p->ovl_nlower && plus; i++)
		if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING_, "lowerdir+", p->ovl_lower[i], 0) < 0) {
			if (errno != EINVAL || i) die(errno, "overlay lowerdir %s", p->ovl_lower[i]);
			plus = 0;
		}
	if (!plus) {
		char joined[8192];
		size_t o = 0;
		for (int i = 0; i < p->ovl_nlower; i++) {
			int n = snprintf(joined + o, sizeof(joined) - o, "%s%s", i ? ":" : "", p->ovl_lower[i]);
			if (n < 0 || (size_t)n >= sizeof(joined) - o) die(E2BIG, "overlay lowerdirs too long for this kernel");
			o += (size_t)n;
		}
		if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING_, "lowerdir", joined, 0) < 0) die(errno, "overlay lowerdir");
	}
	if (p->ovl_upper[0]) {
		if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING_, "upperdir", p->ovl_upper, 0) < 0) die(errno, "overlay upperdir");
		if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING_, "workdir", p->ovl_work, 0) < 0) die(errno, "overlay workdir");
	}
	if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE_, NULL, NULL, 0) < 0) die(errno, "create overlay");
	int mnt = (int)syscall(SYS_fsmount, fs, 1 /* FSMOUNT_CLOEXEC */, 0);
	if (mnt < 0) die(errno, "fsmount overlay");
	if (syscall(SYS_move_mount, mnt, "", AT_FDCWD, p->ovl_target, MOVE_MOUNT_F_EMPTY_PATH_) < 0)
		die(errno, "mount overlay on %s", p->ovl_target);
	close(mnt);
	close(fs);
}
