/*
 * berth-helper: started by berth with a plan (PROTOCOL.md). The parent joins namespaces,
 * clones the container process and reports its pid; the child builds the container and
 * execs the workload. With `wait` the parent stays as a tiny monitor that relays signals
 * and the exit status.
 */
#include "helper.h"
#include "kernel.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static struct plan plan;
static volatile pid_t child_pid;

static void forward(int sig)
{
	if (child_pid > 0) kill(child_pid, sig);
}

static void write_map(pid_t pid, const char *file, const char *map)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t n = strlen(map);
	if (fd < 0 || write(fd, map, n) != (ssize_t)n) {
		int err = errno;
		kill(pid, SIGKILL);
		die(err, "write %s", file);
	}
	close(fd);
}

static void write_self(const char *file, const char *value)
{
	int fd = open(file, O_WRONLY | O_CLOEXEC);
	size_t n = strlen(value);
	if (fd < 0 || write(fd, value, n) != (ssize_t)n) die(errno, "write %s", file);
	close(fd);
}

static void child(const struct plan *p, int console_sock) __attribute__((noreturn));
static void child(const struct plan *p, int console_sock)
{
	char *state = msg_recv(NULL); /* "go": Node has put us in our cgroups and run its hooks */
	if (!state) _exit(1);
	if (p->ovl_target && !(p->clone_flags & CLONE_NEWNS)) die(EINVAL, "an overlay root needs a new mount namespace");
	int fifo_fd = -1;
	if (p->fifo && (fifo_fd = open(p->fifo, O_PATH | O_CLOEXEC)) < 0) die(errno, "open exec fifo %s", p->fifo);
	if (p->clone_flags & CLONE_NEWUSER) {
		if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) die(errno, "become root in the user namespace");
	}
	if (p->cgroupns && unshare(CLONE_NEWCGROUP) < 0) die(errno, "create cgroup namespace");
	if (p->has_oom) {
		char v[16];
		snprintf(v, sizeof(v), "%d", p->oom);
		write_self("/proc/self/oom_score_adj", v);
	}
	if (p->hostname && sethostname(p->hostname, strlen(p->hostname)) < 0) die(errno, "set hostname");
	if (p->domainname && setdomainname(p->domainname, strlen(p->domainname)) < 0) die(errno, "set domainname");
	if (p->loopback) loopback_up();
	umask(0); /* modes in the plan are exact */
	if (p->ovl_target) {
		/* private first, so the overlay is never seen outside this namespace */
		if (mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0) die(errno, "make / a slave");
		mount_overlay(p);
	}
	if (p->rootfs) {
		setup_rootfs(p, state);
		run_hooks(p, "createContainer", state);
		enter_rootfs(p);
	}
	finish_process(p, state, console_sock, fifo_fd);
}

/* An fd of our own namespace of the same type as `nsfd` (one a monitor can return to), or -1
 * for those it need not or cannot return to: pid (setns only moves our children) and user. */
static int own_namespace(int nsfd)
{
	const char *name;
	switch (ioctl(nsfd, NS_GET_NSTYPE)) {
	case CLONE_NEWNET: name = "/proc/self/ns/net"; break;
	case CLONE_NEWNS: name = "/proc/self/ns/mnt"; break;
	case CLONE_NEWIPC: name = "/proc/self/ns/ipc"; break;
	case CLONE_NEWUTS: name = "/proc/self/ns/uts"; break;
	case CLONE_NEWCGROUP: name = "/proc/self/ns/cgroup"; break;
	default: return -1;
	}
	int fd = open(name, O_RDONLY | O_CLOEXEC);
	if (fd < 0) die(errno, "open %s", name);
	return fd;
}

int main(int argc, char **argv, char **envp)
{
	extern int agent_main(void); /* agent.c: /init of a berth VM (PID 1, no arguments) is the guest agent */
	if (getpid() == 1 && argc < 2) return agent_main();
	/* `berth-init -- cmd…`: the --init of a container (it is PID 1 there: checked before anything else) */
	if (argc >= 2 && strcmp(argv[1], "--") == 0) return init_main(argc - 2, argv + 2);
	if (argc < 2) {
		fprintf(stderr, "berth-helper: internal helper of berth; it is started by berth, not by hand\n");
		return 125;
	}
	char *end;
	long fd = strtol(argv[1], &end, 10);
	if (*end || fd < 3 || fd > 1024 || fcntl((int)fd, F_GETFD) < 0) {
		fprintf(stderr, "berth-helper: bad sync fd '%s'\n", argv[1]);
		return 125;
	}
	sync_fd = (int)fd;
	ensure_sealed(argv, envp); /* before CLOEXEC: the sealed copy must inherit the socket */
	fcntl(sync_fd, F_SETFD, FD_CLOEXEC);

	size_t len;
	char *buf = msg_recv(&len);
	if (!buf) return 1;
	plan_parse(buf, len, &plan);
	if (plan.dumpable0) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

	int console_sock = plan.console ? console_connect(plan.console) : -1;
	int nsfd[16], back[16];
	for (int i = 0; i < plan.nsetns; i++) {
		if ((nsfd[i] = open(plan.setns[i], O_RDONLY | O_CLOEXEC)) < 0) die(errno, "open namespace %s", plan.setns[i]);
		back[i] = plan.monitor ? own_namespace(nsfd[i]) : -1;
	}
	for (int i = 0; i < plan.nsetns; i++) {
		if (setns(nsfd[i], 0) < 0) die(errno, "join namespace %s", plan.setns[i]);
		close(nsfd[i]);
	}

	/* monitor: the container's stdout/stderr are pipes we read, or a pty whose master comes to us */
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, ptyp[2] = { -1, -1 };
	if (plan.monitor && plan.ptyrelay) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ptyp) < 0) die(errno, "socketpair for pty");
		console_sock = ptyp[1];
	} else if (plan.monitor && (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0)) {
		die(errno, "pipes for the container's output");
	}
	/* the exec fifo is made here, before the clone, so `create` never leaves one without a process */
	if (plan.fifo && mkfifo(plan.fifo, 0622) < 0) die(errno, "mkfifo %s", plan.fifo);
	pid_t pid = (pid_t)syscall(SYS_clone, (unsigned long)plan.clone_flags | SIGCHLD, 0, 0, 0, 0);
	if (pid < 0) die(errno, "clone");
	if (pid == 0) {
		if (outp[1] >= 0 && (dup2(outp[1], 1) < 0 || dup2(errp[1], 2) < 0)) die(errno, "dup output pipes");
		child(&plan, console_sock);
	}
	/* the monitor goes back to where it came from: its exit command (the engine's cleanup, which
	 * runs CNI DEL and so iptables) must act on the host's network, not the container's */
	for (int i = 0; i < plan.nsetns; i++) {
		if (back[i] < 0) continue;
		if (setns(back[i], 0) < 0) {
			kill(pid, SIGKILL);
			die(errno, "return to the monitor's own namespaces");
		}
		close(back[i]);
	}
	if (outp[1] >= 0) close(outp[1]), close(errp[1]);
	if (ptyp[1] >= 0) close(ptyp[1]), console_sock = -1;
	child_pid = pid;
	if (console_sock >= 0) close(console_sock);
	if (plan.uidmap) write_map(pid, "uid_map", plan.uidmap);
	if (plan.gidmap) write_map(pid, "gid_map", plan.gidmap);
	if (plan.wait && !plan.monitor) {
		struct sigaction sa = { .sa_handler = forward };
		sigemptyset(&sa.sa_mask);
		for (int s = 1; s < NSIG; s++)
			if (s != SIGCHLD && s != SIGKILL && s != SIGSTOP && s != SIGPIPE) sigaction(s, &sa, NULL);
	}
	if (msg_send("pid %d", pid) < 0) {
		kill(pid, SIGKILL);
		_exit(1);
	}
	if (!plan.wait) _exit(0);
	close(sync_fd); /* the child speaks to Node from here on */
	if (plan.monitor) return monitor_run(&plan, pid, outp[0], errp[0], ptyp[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) return 125;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
