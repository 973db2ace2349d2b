/* The last steps before execve: terminal, limits, credentials, capabilities, seccomp, fds. */
#include "helper.h"
#include "kernel.h"
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int console_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path)) die(ENAMETOOLONG, "console socket path %s", path);
	strcpy(sa.sun_path, path);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) die(errno, "connect to console socket %s", path);
	return s;
}

/* Open a pty in the container's devpts and hand its master to whoever listens on the console socket. */
void console_setup(int sock, int *slave_out)
{
	int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0) die(errno, "open /dev/ptmx in the container");
	int zero = 0;
	unsigned ptn;
	if (ioctl(master, TIOCSPTLCK, &zero) < 0 || ioctl(master, TIOCGPTN, &ptn) < 0)
		die(errno, "/dev/ptmx in the container is not a pty multiplexer");
	int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0) die(errno, "open pty peer");
	char name[64];
	int n = snprintf(name, sizeof(name), "/dev/pts/%u", ptn);
	struct iovec iov = { .iov_base = name, .iov_len = (size_t)n };
	char cbuf[CMSG_SPACE(sizeof(int))];
	memset(cbuf, 0, sizeof(cbuf));
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &master, sizeof(int));
	if (sendmsg(sock, &msg, 0) < 0) die(errno, "send pty master to console socket");
	close(master);
	close(sock);
	*slave_out = slave;
}

void loopback_up(void)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0) die(errno, "get flags of lo");
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) die(errno, "bring lo up");
	close(s);
}

static void load_seccomp(const struct plan *p)
{
	struct berth_sock_fprog prog = { .len = (unsigned short)(p->seccomp_len / 8),
					 .filter = (struct berth_sock_filter *)p->seccomp };
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER_, p->seccomp_flags, &prog) < 0) die(errno, "load seccomp filter");
}

static void apply_caps(const struct plan *p)
{
	struct berth_cap_header h = { CAP_V3, 0 };
	struct berth_cap_data d[2];
	for (int i = 0; i < 2; i++) {
		d[i].effective = (uint32_t)(p->caps[1] >> (32 * i));
		d[i].inheritable = (uint32_t)(p->caps[2] >> (32 * i));
		d[i].permitted = (uint32_t)(p->caps[3] >> (32 * i));
	}
	if (syscall(SYS_capset, &h, d) < 0) die(errno, "set capabilities");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) die(errno, "clear ambient caps");
	for (int c = 0; c < 64; c++)
		if ((p->caps[4] >> c & 1) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
			die(errno, "raise ambient capability %d", c);
}

static void drop_bounding(const struct plan *p)
{
	for (int c = 0; c < 64; c++) {
		if (p->caps[0] >> c & 1) continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0) {
			if (errno == EINVAL) break; /* past the kernel's last capability */
			die(errno, "drop capability %d from the bounding set", c);
		}
	}
}

static void switch_user(const struct plan *p)
{
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) die(errno, "keep capabilities");
	if (setgroups((size_t)p->ngroups, p->groups) < 0 && !(errno == EPERM && p->ngroups == 0))
		die(errno, "set supplementary groups");
	if (setresgid(p->gid, p->gid, p->gid) < 0) die(errno, "set gid %u", p->gid);
	if (setresuid(p->uid, p->uid, p->uid) < 0) die(errno, "set uid %u", p->uid);
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) die(errno, "reset keep capabilities");
}

static const char *getenv_plan(const struct plan *p, const char *name)
{
	size_t n = strlen(name);
	for (int i = 0; i < p->envc; i++)
		if (!strncmp(p->envp[i], name, n) && p->envp[i][n] == '=') return p->envp[i] + n + 1;
	return NULL;
}

/* argv[0] as execvpe would find it, but with the container's PATH, decided before `ready`. */
static const char *resolve_exec(const struct plan *p, char *buf, size_t len)
{
	const char *a0 = p->argv[0];
	if (!a0) die(EINVAL, "no process args to run");
	if (strchr(a0, '/')) {
		struct stat st;
		if (stat(a0, &st) < 0) die(errno, "exec: \"%s\"", a0);
		if (S_ISDIR(st.st_mode) || access(a0, X_OK) < 0) die(EACCES, "exec: \"%s\"", a0);
		return a0;
	}
	const char *path = getenv_plan(p, "PATH");
	if (!path) path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	int denied = 0;
	while (*path) {
		const char *end = strchr(path, ':');
		size_t dl = end ? (size_t)(end - path) : strlen(path);
		snprintf(buf, len, "%.*s%s%s", (int)dl, path, dl ? "/" : "", a0);
		struct stat st;
		if (stat(buf, &st) == 0 && !S_ISDIR(st.st_mode)) {
			if (access(buf, X_OK) == 0) return buf;
			denied = 1;
		}
		path += dl + (end ? 1 : 0);
		if (!end) break;
	}
	die(denied ? EACCES : ENOENT, "exec: \"%s\": executable file not found in $PATH", a0);
}

void finish_process(const struct plan *p, const char *state, int console_sock, int fifo_fd)
{
	if (p->cwd) {
		if (chdir(p->cwd) < 0) die(errno, "chdir to cwd \"%s\"", p->cwd);
		/* CVE-2024-21626: a cwd reached through a leaked fd lies outside our root */
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof(cwd)) || cwd[0] != '/') die(EINVAL, "cwd \"%s\" is outside the container root", p->cwd);
	}
	int slave = -1;
	if (console_sock >= 0) {
		console_setup(console_sock, &slave);
		if (p->has_user && fchown(slave, p->uid, (gid_t)-1) < 0) die(errno, "chown pty");
		if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) < 0) die(errno, "make the pty the controlling terminal");
		for (int i = 0; i < 3; i++)
			if (dup2(slave, i) < 0) die(errno, "dup pty to fd %d", i);
		close(slave);
	}
	for (int i = 0; i < p->nrlimits; i++) {
		struct rlimit rl = { (rlim_t)p->rlimits[i].soft, (rlim_t)p->rlimits[i].hard };
		if (setrlimit(p->rlimits[i].resource, &rl) < 0)
			die(errno, "set rlimit %d to %llu:%llu", p->rlimits[i].resource, p->rlimits[i].soft, p->rlimits[i].hard);
	}
	/* Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it while we still have it. */
	if (p->seccomp && !p->nnp) load_seccomp(p);
	if (p->has_caps) drop_bounding(p);
	if (p->has_user) switch_user(p);
	if (p->has_caps) apply_caps(p);
	umask(p->has_umask ? p->umask : 022);

	char pathbuf[PATH_MAX];
	const char *exe = resolve_exec(p, pathbuf, sizeof(pathbuf));
	if (msg_send("ready") < 0 && !p->fifo) { /* Node may be gone (run -d); nothing to tell */ }
	if (p->fifo) {
		char fdp[32];
		snprintf(fdp, sizeof(fdp), "/proc/self/fd/%d", fifo_fd);
		int w = open(fdp, O_WRONLY | O_CLOEXEC); /* blocks until `start` opens it for reading */
		if (w < 0) die(errno, "open exec fifo");
		if (write(w, "0", 1) != 1) die(errno, "write exec fifo");
		close(w);
		close(fifo_fd);
	}
	run_hooks(p, "startContainer", state);
	if (p->nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) die(errno, "set no_new_privs");
	if (p->seccomp && p->nnp) load_seccomp(p);

	/* Nothing of the host may leak into the container: every fd above the preserved ones closes at execve. */
	if (syscall(SYS_close_range, 3 + p->preserve, ~0U, BERTH_CLOSE_RANGE_CLOEXEC) < 0) die(errno, "close_range");
	for (int fd = 3; fd < 3 + p->preserve; fd++) fcntl(fd, F_SETFD, 0);
	execve(exe, p->argv, p->envp);
	int err = errno;
	msg_send("error %s exec: \"%s\": %s", errno_name(err), p->argv[0], strerror(err));
	_exit(err == ENOENT ? 127 : 126);
}
