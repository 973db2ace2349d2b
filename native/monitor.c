/*
 * The per-container monitor: the helper's parent after the clone, when the plan says `monitor`.
 * It owns the container's stdout/stderr (pipes, or a pty master), writes them to a log in
 * Docker's json-file format (and to our own stdio when attached), relays stdin and window
 * size to a pty, reaps the container, records its exit status and OOM kills, runs the exit
 * command, and exits with the container's status. It holds no policy: file paths and the
 * exit command come from the plan.
 */
#include "helper.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static int sigpipe_w = -1;
static volatile sig_atomic_t winch;
static volatile pid_t mon_child;

static void on_signal(int sig)
{
	int saved = errno;
	if (sig == SIGCHLD) {
		if (write(sigpipe_w, "c", 1) < 0) { /* pipe full: a wake-up is already pending */ }
	} else if (sig == SIGWINCH) {
		winch = 1;
		if (write(sigpipe_w, "w", 1) < 0) { }
	} else if (mon_child > 0) {
		kill(mon_child, sig);
	}
	errno = saved;
}

struct stream { int fd; const char *name; int tee; char buf[16384]; size_t len; };
static int log_fd = -1;

static void write_all_fd(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR) continue;
		if (w <= 0) return; /* a reader that went away must not stop the container's logging */
		p += w;
		n -= (size_t)w;
	}
}

/* One json-file entry: {"log":"...","stream":"stdout","time":"2006-01-02T15:04:05.999999999Z"} */
static void log_entry(const char *stream, const char *p, size_t n)
{
	if (log_fd < 0) return;
	static char out[16384 * 6 + 256];
	size_t o = 0;
	o += (size_t)snprintf(out, sizeof(out), "{\"log\":\"");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else if (c == '\r') {
			out[o++] = '\\';
			out[o++] = 'r';
		} else if (c == '\t') {
			out[o++] = '\\';
			out[o++] = 't';
		} else if (c < 0x20 || c == 0x7f) {
			o += (size_t)snprintf(out + o, sizeof(out) - o, "\\u%04x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	char when[64];
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	o += (size_t)snprintf(out + o, sizeof(out) - o, "\",\"stream\":\"%s\",\"time\":\"%s.%09ldZ\"}\n", stream, when, ts.tv_nsec);
	write_all_fd(log_fd, out, o);
}

/* Docker splits the log at newlines; a partial line waits for its end or a full buffer. */
static void feed(struct stream *s, const char *p, size_t n)
{
	if (s->tee >= 0) write_all_fd(s->tee, p, n);
	while (n) {
		size_t room = sizeof(s->buf) - s->len, take = n < room ? n : room;
		memcpy(s->buf + s->len, p, take);
		s->len += take;
		p += take;
		n -= take;
		size_t start = 0;
		for (size_t i = 0; i < s->len; i++)
			if (s->buf[i] == '\n') {
				log_entry(s->name, s->buf + start, i + 1 - start);
				start = i + 1;
			}
		if (start == 0 && s->len == sizeof(s->buf)) start = s->len, log_entry(s->name, s->buf, s->len);
		memmove(s->buf, s->buf + start, s->len - start);
		s->len -= start;
	}
}

static void flush_stream(struct stream *s)
{
	if (s->len) log_entry(s->name, s->buf, s->len);
	s->len = 0;
}

/* Reads what is there; returns 0 at EOF (or EIO from a pty whose slave is gone). */
static int pump(struct stream *s)
{
	char buf[16384];
	ssize_t n = read(s->fd, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN)) return 1;
	if (n <= 0) return 0;
	feed(s, buf, (size_t)n);
	return 1;
}

static int recv_fd(int sock)
{
	char data[128], cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { data, sizeof(data) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) <= 0) return -1;
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS) return -1;
	int fd;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

static long oom_kills(const char *path)
{
	if (!path) return 0;
	char buf[4096];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) return 0;
	buf[n] = 0;
	char *k = strstr(buf, "oom_kill ");
	return k ? strtol(k + 9, NULL, 10) : 0;
}

static void write_exit_file(const char *path, int code, int sig, long ooms)
{
	char tmp[4096], body[512], when[64];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	int n = snprintf(body, sizeof(body), "{\"exitCode\":%d,\"signal\":%d,\"oomKill\":%ld,\"finishedAt\":\"%s.%09ldZ\"}\n",
			 code, sig, ooms, when, ts.tv_nsec);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) return;
	write_all_fd(fd, body, (size_t)n);
	close(fd); /* atomic by rename; not fsynced: after a power cut the container is gone anyway */
	rename(tmp, path);
}

static void set_winsize(int master)
{
	struct winsize ws;
	if (master >= 0 && ioctl(0, TIOCGWINSZ, &ws) == 0) ioctl(master, TIOCSWINSZ, &ws);
}

int monitor_run(const struct plan *p, pid_t child, int out_r, int err_r, int ptysock)
{
	pid_t parent = getppid(); /* an attached berth waits for us and cleans up itself */
	struct termios saved;
	int raw = p->ptyin && ptysock >= 0 && isatty(0) && tcgetattr(0, &saved) == 0;
	if (raw) {
		struct termios t = saved;
		cfmakeraw(&t);
		tcsetattr(0, TCSANOW, &t);
	}
	int sp[2];
	if (pipe2(sp, O_CLOEXEC | O_NONBLOCK) < 0) die(errno, "monitor pipe");
	sigpipe_w = sp[1];
	mon_child = child;
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };
	sigemptyset(&sa.sa_mask);
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP && s != SIGPIPE && s != SIGTTIN && s != SIGTTOU) sigaction(s, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (p->logpath && p->logpath[0]) log_fd = open(p->logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);

	struct stream out = { out_r, "stdout", p->tee ? 1 : -1, { 0 }, 0 };
	struct stream err = { err_r, "stderr", p->tee ? 2 : -1, { 0 }, 0 };
	int master = -1, in_open = p->ptyin && ptysock >= 0;
	int status = 0, exited = 0;
	for (;;) {
		struct pollfd fds[5];
		int n = 0, i_out = -1, i_err = -1, i_pty = -1, i_in = -1;
		fds[n++] = (struct pollfd){ sp[0], POLLIN, 0 };
		if (out.fd >= 0) i_out = n, fds[n++] = (struct pollfd){ out.fd, POLLIN, 0 };
		if (err.fd >= 0) i_err = n, fds[n++] = (struct pollfd){ err.fd, POLLIN, 0 };
		if (ptysock >= 0) i_pty = n, fds[n++] = (struct pollfd){ ptysock, POLLIN, 0 };
		if (in_open && master >= 0) i_in = n, fds[n++] = (struct pollfd){ 0, POLLIN, 0 };
		if (poll(fds, (nfds_t)n, -1) < 0) {
			if (errno == EINTR) continue;
			break;
		}
		if (fds[0].revents) {
			char drain[64];
			while (read(sp[0], drain, sizeof(drain)) > 0) { }
			if (winch) {
				winch = 0;
				set_winsize(master);
			}
			if (waitpid(child, &status, WNOHANG) == child) exited = 1;
		}
		if (i_out >= 0 && fds[i_out].revents && !pump(&out)) close(out.fd), out.fd = -1;
		if (i_err >= 0 && fds[i_err].revents && !pump(&err)) close(err.fd), err.fd = -1;
		if (i_pty >= 0 && fds[i_pty].revents) {
			master = recv_fd(ptysock);
			close(ptysock);
			ptysock = -1;
			if (master >= 0) {
				set_winsize(master);
				out.fd = master;
			}
		}
		if (i_in >= 0 && fds[i_in].revents) {
			char buf[4096];
			ssize_t r = read(0, buf, sizeof(buf));
			if (r > 0) write_all_fd(master, buf, (size_t)r);
			else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
				in_open = 0;
				write_all_fd(master, "\x04", 1); /* EOF on our stdin: ^D to the terminal's reader */
			}
		}
		/* the container is gone: take what is left in the pipes below, without waiting for
		 * writers that may have escaped (without a PID namespace children can outlive the init) */
		if (exited) break;
		if (out.fd < 0 && err.fd < 0 && ptysock < 0) {
			while (waitpid(child, &status, 0) < 0 && errno == EINTR) { }
			exited = 1;
			break;
		}
	}
	for (int k = 0; k < 2; k++) {
		struct stream *s = k ? &err : &out;
		if (s->fd < 0) continue;
		fcntl(s->fd, F_SETFL, O_NONBLOCK);
		char buf[16384];
		ssize_t r;
		while ((r = read(s->fd, buf, sizeof(buf))) > 0) feed(s, buf, (size_t)r);
		close(s->fd);
	}
	flush_stream(&out);
	flush_stream(&err);
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (p->exitpath && p->exitpath[0]) write_exit_file(p->exitpath, code, WIFSIGNALED(status) ? WTERMSIG(status) : 0, oom_kills(p->oomfile));
	if (log_fd >= 0) close(log_fd);
	if (raw) tcsetattr(0, TCSANOW, &saved);
	/* the exit command cleans up for a berth that is no longer there (run -d, or a killed CLI) */
	if (p->exitcmd && getppid() != parent) {
		pid_t c = fork();
		if (c == 0) {
			int nul = open("/dev/null", O_RDWR);
			if (nul >= 0) dup2(nul, 0);
			execve(p->exitcmd[0], p->exitcmd, p->exitcmd_env ? p->exitcmd_env : (char *[]){ NULL });
			_exit(127);
		}
		if (c > 0) while (waitpid(c, NULL, 0) < 0 && errno == EINTR) { }
	}
	return code;
}
