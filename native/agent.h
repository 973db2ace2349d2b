/*
 * The guest agent: berth-helper running as PID 1 of a berth VM (see docs/vm.md). It executes
 * what the host decides: a boot script of mounts and modules baked into the initramfs, then
 * framed requests on a virtio-serial port (run, stdin, signal, setup, power off).
 */
#ifndef BERTH_AGENT_H
#define BERTH_AGENT_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define AGENT_MAX_ARGS 1024
#define AGENT_MAX_GROUPS 64
#define AGENT_FRAME_MAX (1u << 20)

/* Frame: u32 LE payload length, u8 type, u32 LE session id, payload. */
#define AGENT_HDR 9

int agent_main(void);

/* agent_boot.c */
void agent_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void agent_poweroff(void) __attribute__((noreturn));
void agent_fatal(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
int agent_boot(const char *conf, int *port_fd);
int agent_setup(char *buf, size_t len, char *err, size_t errlen);
char **agent_split(char *buf, size_t len, int *n);

/* agent_proc.c: one process of a session */
struct agent_run {
	char *argv[AGENT_MAX_ARGS + 1]; int argc;
	char *envp[AGENT_MAX_ARGS + 1]; int envc;
	const char *cwd, *cgroup, *hostname;
	uid_t uid; gid_t gid; gid_t groups[AGENT_MAX_GROUPS]; int ngroups;
	int tty; unsigned short rows, cols;
	int poweroff; /* power the VM off once this process has exited and its status is sent */
};
int agent_run_parse(char *buf, size_t len, struct agent_run *r);
/* Starts the process; fds[0..2] get our ends (stdin, stdout, stderr; with a tty all three are the master). */
pid_t agent_spawn(const struct agent_run *r, int fds[3], char *err, size_t errlen);
void agent_winsize(int fd, unsigned short rows, unsigned short cols);

#endif
