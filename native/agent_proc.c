/*
 * Guest agent, process half: parses a `run` request and starts the process with pipes or a
 * pseudo-terminal. The child reports a failure before execve through a close-on-exec pipe,
 * so the host can tell "exec failed" (126/127) from "the program exited".
 */
#include "agent.h"
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#ifndef TIOCGPTPEER
#define TIOCGPTPEER 0x5441
#endif

extern char **environ;

int agent_run_parse(char *buf, size_t len, struct agent_run *r)
{
	int n;
	char **v = agent_split(buf, len, &n);
	if (!v) return -1;
	memset(r, 0, sizeof(*r));
	r->cwd = "/";
	int rc = 0;
	for (int i = 0; i < n && rc == 0;) {
		const char *op = v[i++];
		const char *a = i < n ? v[i] : NULL, *b = i + 1 < n ? v[i + 1] : NULL;
		if (!strcmp(op, "arg") && a && r->argc < AGENT_MAX_ARGS) r->argv[r->argc++] = v[i++];
		else if (!strcmp(op, "env") && a && r->envc < AGENT_MAX_ARGS) r->envp[r->envc++] = v[i++];
		else if (!strcmp(op, "cwd") && a) r->cwd = v[i++];
		else if (!strcmp(op, "cgroup") && a) r->cgroup = v[i++];
		else if (!strcmp(op, "hostname") && a) r->hostname = v[i++];
		else if (!strcmp(op, "user") && b) {
			r->uid = (uid_t)strtoul(a, NULL, 10), r->gid = (gid_t)strtoul(b, NULL, 10);
			i += 2;
		} else if (!strcmp(op, "group") && a && r->ngroups < AGENT_MAX_GROUPS) {
			r->groups[r->ngroups++] = (gid_t)strtoul(v[i++], NULL, 10);
		} else if (!strcmp(op, "tty") && b) {
			r->tty = 1, r->rows = (unsigned short)atoi(a), r->cols = (unsigned short)atoi(b);
			i += 2;
		} else if (!strcmp(op, "poweroff")) {
			r->poweroff = 1;
		} else rc = -1;
	}
	free(v); /* the strings stay in buf */
	if (r->argc == 0) rc = -1;
	return rc;
}

void agent_winsize(int fd, unsigned short rows, unsigned short cols)
{
	struct winsize ws = { .ws_row = rows, .ws_col = cols };
	if (rows && cols) ioctl(fd, TIOCSWINSZ, &ws);
}

static void child_fail(int fd, const char *what) __attribute__((noreturn));
static void child_fail(int fd, const char *what)
{
	char msg[600];
	int err = errno;
	int n = snprintf(msg, sizeof(msg), "%d %s: %s", err, what, strerror(err));
	if (n > 0 && write(fd, msg, (size_t)n) < 0) _exit(127);
	_exit(127);
}

static void join_cgroup(const char *dir, int status_fd)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s/cgroup.procs", dir);
	int fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "0", 1) != 1) child_fail(status_fd, "join cgroup");
	close(fd);
}

static void child(const struct agent_run *r, int in, int out, int err, int status_fd) __attribute__((noreturn));
static void child(const struct agent_run *r, int in, int out, int err, int status_fd)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
	if (setsid() < 0) child_fail(status_fd, "setsid");
	if (r->tty && ioctl(in, TIOCSCTTY, 0) < 0) child_fail(status_fd, "set controlling terminal");
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) child_fail(status_fd, "dup stdio");
	if (r->cgroup) join_cgroup(r->cgroup, status_fd);
	if (setgroups((size_t)r->ngroups, r->groups) < 0) child_fail(status_fd, "setgroups");
	if (setgid(r->gid) < 0) child_fail(status_fd, "setgid");
	if (setuid(r->uid) < 0) child_fail(status_fd, "setuid");
	if (chdir(r->cwd) < 0) child_fail(status_fd, "chdir");
	umask(022);
	environ = (char **)r->envp; /* execvp searches the PATH of the process's own environment */
	execvp(r->argv[0], (char **)r->argv);
	char what[300];
	snprintf(what, sizeof(what), "exec %s", r->argv[0]);
	child_fail(status_fd, what);
}

static int open_pty(const struct agent_run *r, int *master, int *slave)
{
	*master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*master < 0) return -1;
	int unlock = 0;
	if (ioctl(*master, TIOCSPTLCK, &unlock) < 0) return -1;
	*slave = ioctl(*master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*slave < 0) return -1;
	agent_winsize(*master, r->rows, r->cols);
	return 0;
}

pid_t agent_spawn(const struct agent_run *r, int fds[3], char *err, size_t errlen)
{
	int p_in[2] = { -1, -1 }, p_out[2] = { -1, -1 }, p_err[2] = { -1, -1 }, st[2] = { -1, -1 };
	int master = -1, slave = -1;
	pid_t pid = -1;
	if (r->hostname && sethostname(r->hostname, strlen(r->hostname)) < 0) {
		snprintf(err, errlen, "%d sethostname: %s", errno, strerror(errno));
		return -1;
	}
	if (pipe2(st, O_CLOEXEC) < 0) goto fail;
	if (r->tty) {
		if (open_pty(r, &master, &slave) < 0) goto fail;
	} else if (pipe2(p_in, O_CLOEXEC) < 0 || pipe2(p_out, O_CLOEXEC) < 0 || pipe2(p_err, O_CLOEXEC) < 0) {
		goto fail;
	}
	pid = fork();
	if (pid < 0) goto fail;
	if (pid == 0) {
		close(st[0]);
		if (r->tty) child(r, slave, slave, slave, st[1]);
		child(r, p_in[0], p_out[1], p_err[1], st[1]);
	}
	close(st[1]);
	if (r->tty) {
		close(slave);
		fds[0] = fds[1] = fds[2] = master;
	} else {
		close(p_in[0]), close(p_out[1]), close(p_err[1]);
		fds[0] = p_in[1], fds[1] = p_out[0], fds[2] = p_err[0];
	}
	ssize_t n;
	while ((n = read(st[0], err, errlen - 1)) < 0 && errno == EINTR) {}
	close(st[0]);
	if (n <= 0) return pid; /* EOF: execve closed the pipe */
	err[n] = '\0';
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0 && (i == 0 || fds[i] != fds[0])) close(fds[i]);
	waitpid(pid, NULL, 0);
	return -1;
fail:
	snprintf(err, errlen, "%d start process: %s", errno, strerror(errno));
	int all[] = { p_in[0], p_in[1], p_out[0], p_out[1], p_err[0], p_err[1], st[0], st[1], master, slave };
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (all[i] >= 0) close(all[i]);
	return -1;
}
