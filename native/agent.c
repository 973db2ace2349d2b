/*
 * Guest agent, main loop. berth-helper is /init of the VM's initramfs; main() hands over here
 * when it finds itself PID 1. After the boot script (agent_boot.c) it serves the host over one
 * virtio-serial port: every frame carries a session id, so the container's main process and
 * any `exec` share the channel. Frames (u32 LE length, u8 type, u32 LE session, payload):
 *   host -> guest: R run (agent_run ops; `poweroff` ends the VM with it), I stdin (empty = EOF), K signal, W winsize "rows cols",
 *                  S setup (mkdir/write ops), Q power off
 *   guest -> host: H hello (kernel release), P started (pid), O stdout, E stderr,
 *                  X exit status (code, or 128+signal), F failed to start "errno message",
 *                  A setup answer ("0" or "errno message")
 * The host powers the VM off (Q) when the main process has exited; if the host goes away the
 * agent powers off by itself, so no QEMU outlives its berth.
 */
#include "agent.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_SESS 64

struct session {
	int used, tty, exited, status, poweroff;
	uint32_t id;
	pid_t pid;
	int fd[3]; /* our ends: stdin (write), stdout, stderr; a tty uses one master for all */
	unsigned char *pend; size_t npend; int eof; /* stdin not yet written; EOF asked for */
};

static struct session sess[MAX_SESS];
static int port = -1;

static void send_frame(int type, uint32_t id, const void *data, size_t len)
{
	unsigned char h[AGENT_HDR] = { (unsigned char)len, (unsigned char)(len >> 8), (unsigned char)(len >> 16),
		(unsigned char)(len >> 24), (unsigned char)type, (unsigned char)id, (unsigned char)(id >> 8),
		(unsigned char)(id >> 16), (unsigned char)(id >> 24) };
	const unsigned char *parts[2] = { h, data };
	size_t lens[2] = { AGENT_HDR, len };
	for (int p = 0; p < 2; p++) {
		for (size_t off = 0; off < lens[p];) {
			ssize_t n = write(port, parts[p] + off, lens[p] - off);
			if (n < 0 && errno == EINTR) continue;
			if (n <= 0) agent_poweroff(); /* the host is gone */
			off += (size_t)n;
		}
	}
}

static void send_str(int type, uint32_t id, const char *s)
{
	send_frame(type, id, s, strlen(s));
}

static struct session *find(uint32_t id)
{
	for (int i = 0; i < MAX_SESS; i++)
		if (sess[i].used && sess[i].id == id) return &sess[i];
	return NULL;
}

static void close_in(struct session *s)
{
	if (s->fd[0] < 0) return;
	if (!s->tty) close(s->fd[0]);
	else if (s->exited) close(s->fd[0]);
	else write(s->fd[0], "\004", 1); /* EOF on a terminal is ^D in canonical mode */
	if (!s->tty || s->exited) s->fd[0] = -1;
	else s->eof = 2; /* keep the master for output */
	free(s->pend);
	s->pend = NULL, s->npend = 0;
}

static void start(uint32_t id, char *buf, size_t len)
{
	static struct agent_run r;
	char err[600];
	struct session *s = NULL;
	for (int i = 0; i < MAX_SESS && !s; i++)
		if (!sess[i].used) s = &sess[i];
	if (find(id) || !s) return send_str('F', id, "16 session busy or too many sessions");
	if (agent_run_parse(buf, len, &r) < 0) return send_str('F', id, "22 bad run request");
	int fds[3];
	pid_t pid = agent_spawn(&r, fds, err, sizeof(err));
	if (pid < 0) return send_str('F', id, err);
	memset(s, 0, sizeof(*s));
	s->used = 1, s->id = id, s->pid = pid, s->tty = r.tty, s->poweroff = r.poweroff;
	for (int i = 0; i < 3; i++) {
		s->fd[i] = fds[i];
		fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
	}
	if (s->tty) s->fd[2] = -1;
	char p[24];
	snprintf(p, sizeof(p), "%d", pid);
	send_str('P', id, p);
}

/* Reads what a process wrote; returns 0 at EOF (EIO on a terminal whose slave is closed). */
static int pump(struct session *s, int which)
{
	static unsigned char buf[65536];
	ssize_t n = read(s->fd[which], buf, sizeof(buf));
	if (n > 0) {
		send_frame(which == 2 ? 'E' : 'O', s->id, buf, (size_t)n);
		return 1;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) return -1;
	return 0;
}

static void finish(struct session *s)
{
	/* everything written before exit is in the pipe; a terminal may need a moment to flush */
	for (int w = 1; w <= 2; w++) {
		if (s->fd[w] < 0) continue;
		for (int rounds = 0; rounds < 4096;) {
			int r = pump(s, w);
			if (r == 0) break;
			if (r < 0) {
				struct pollfd p = { .fd = s->fd[w], .events = POLLIN };
				if (!s->tty || poll(&p, 1, 100) <= 0) break;
				rounds++;
			}
		}
	}
	if (s->fd[0] >= 0) close(s->fd[0]);
	if (s->fd[1] >= 0 && s->fd[1] != s->fd[0]) close(s->fd[1]);
	if (s->fd[2] >= 0 && s->fd[2] != s->fd[0]) close(s->fd[2]);
	free(s->pend);
	char st[16];
	snprintf(st, sizeof(st), "%d", s->status);
	uint32_t id = s->id;
	int off = s->poweroff;
	memset(s, 0, sizeof(*s));
	send_str('X', id, st);
	/* safe at once: virtio_console's write returns only after QEMU has taken the bytes */
	if (off) agent_poweroff();
}

static void reap(int sfd)
{
	struct signalfd_siginfo si;
	while (read(sfd, &si, sizeof(si)) > 0) {}
	int st;
	pid_t pid;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (int i = 0; i < MAX_SESS; i++) {
			struct session *s = &sess[i];
			if (!s->used || s->pid != pid) continue;
			s->exited = 1;
			s->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			finish(s);
		}
	}
}

static void handle(int type, uint32_t id, unsigned char *data, size_t len)
{
	struct session *s = find(id);
	char tmp[64], err[600];
	switch (type) {
	case 'R':
		start(id, (char *)data, len);
		break;
	case 'I':
		if (!s || s->fd[0] < 0 || s->eof) break;
		if (len == 0) {
			s->eof = 1;
			if (!s->npend) close_in(s);
			break;
		}
		unsigned char *np = realloc(s->pend, s->npend + len);
		if (!np) agent_fatal("out of memory for stdin");
		memcpy(np + s->npend, data, len);
		s->pend = np, s->npend += len;
		break;
	case 'K':
	case 'W':
		if (!s || len >= sizeof(tmp)) break;
		memcpy(tmp, data, len);
		tmp[len] = '\0';
		if (type == 'K') kill(s->pid, atoi(tmp));
		else if (s->tty) {
			int rows = 0, cols = 0;
			if (sscanf(tmp, "%d %d", &rows, &cols) == 2) agent_winsize(s->fd[1], (unsigned short)rows, (unsigned short)cols);
		}
		break;
	case 'S':
		if (agent_setup((char *)data, len, err, sizeof(err)) < 0) send_str('A', id, err);
		else send_str('A', id, "0");
		break;
	case 'Q':
		agent_poweroff();
	default:
		agent_log("unknown frame type %d", type);
	}
}

static void serve(void)
{
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGPIPE);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sigdelset(&mask, SIGPIPE);
	int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0) agent_fatal("signalfd: %s", strerror(errno));
	size_t cap = AGENT_HDR + AGENT_FRAME_MAX, have = 0;
	unsigned char *in = malloc(cap);
	if (!in) agent_fatal("out of memory");
	for (;;) {
		struct pollfd p[2 + MAX_SESS * 3];
		struct session *who[2 + MAX_SESS * 3];
		int which[2 + MAX_SESS * 3], n = 0;
		p[n++] = (struct pollfd){ .fd = port, .events = POLLIN };
		p[n++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		for (int i = 0; i < MAX_SESS; i++) {
			struct session *s = &sess[i];
			if (!s->used) continue;
			for (int w = 0; w < 3; w++) {
				if (s->fd[w] < 0 || (w == 0 && !s->npend) || (w == 0 && s->tty && s->eof == 2)) continue;
				who[n] = s, which[n] = w;
				p[n++] = (struct pollfd){ .fd = s->fd[w], .events = w == 0 ? POLLOUT : POLLIN };
			}
		}
		if (poll(p, (nfds_t)n, -1) < 0) {
			if (errno == EINTR) continue;
			agent_fatal("poll: %s", strerror(errno));
		}
		if (p[1].revents) reap(sfd);
		for (int k = 2; k < n; k++) {
			struct session *s = who[k];
			if (!p[k].revents || !s->used || s->exited) continue;
			int w = which[k];
			if (w != 0) {
				if (s->fd[w] >= 0 && pump(s, w) == 0) {
					if (!s->tty) close(s->fd[w]);
					s->fd[w] = -1;
				}
				continue;
			}
			ssize_t wr = write(s->fd[0], s->pend, s->npend);
			if (wr < 0 && errno != EAGAIN && errno != EINTR) wr = (ssize_t)s->npend; /* reader gone: drop */
			if (wr > 0) {
				memmove(s->pend, s->pend + wr, s->npend - (size_t)wr);
				s->npend -= (size_t)wr;
				if (!s->npend && s->eof == 1) close_in(s);
			}
		}
		if (p[0].revents) {
			ssize_t r = read(port, in + have, cap - have);
			if (r < 0 && errno == EINTR) continue;
			if (r <= 0) agent_poweroff(); /* the host hung up */
			have += (size_t)r;
			size_t off = 0;
			while (have - off >= AGENT_HDR) {
				unsigned char *h = in + off;
				uint32_t len = h[0] | h[1] << 8 | h[2] << 16 | (uint32_t)h[3] << 24;
				uint32_t id = h[5] | h[6] << 8 | h[7] << 16 | (uint32_t)h[8] << 24;
				if (len > AGENT_FRAME_MAX) agent_fatal("frame of %u bytes", len);
				if (have - off < AGENT_HDR + len) break;
				handle(h[4], id, h + AGENT_HDR, len); /* requests end with a NUL */
				off += AGENT_HDR + len;
			}
			memmove(in, in + off, have - off);
			have -= off;
		}
	}
}

int agent_main(void)
{
	setsid();
	int fd;
	agent_boot("/berth/boot", &fd);
	port = fd;
	struct utsname u;
	uname(&u);
	send_str('H', 0, u.release);
	serve();
	return 0;
}
