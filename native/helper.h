/* berth-helper: the mechanics between clone and exec. Policy lives in TypeScript (see PROTOCOL.md). */
#ifndef BERTH_HELPER_H
#define BERTH_HELPER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MAX_ITEMS 1024

struct mount_op { const char *src, *dst, *fstype, *data; unsigned long flags, pflags; };
struct dev_op { const char *path, *host; mode_t mode; unsigned major, minor; uid_t uid; gid_t gid; };
struct hook_op { const char *stage, *path; unsigned timeout; char **argv; char **envp; };
struct rlimit_op { int resource; unsigned long long soft, hard; };
/* Operations that must keep their relative order (mounts, devices, symlinks, masks...). */
enum fs_kind { FS_MOUNT, FS_MKDEV, FS_BINDDEV, FS_SYMLINK, FS_SYSCTL, FS_MASK, FS_ROFS };
struct fs_op { enum fs_kind kind; struct mount_op m; struct dev_op d; const char *a, *b; };

struct plan {
	int wait, cgroupns, dumpable0, loopback, nopivot, mkcwd, nnp, rootro, has_user, has_umask, has_oom;
	unsigned long clone_flags, propagation, rootprop;
	const char *uidmap, *gidmap, *console, *hostname, *domainname, *rootfs, *fifo, *cwd;
	const char *setns[16]; int nsetns;
	struct fs_op fs[MAX_ITEMS]; int nfs;
	struct hook_op hooks[64]; int nhooks;
	char *argv[MAX_ITEMS]; int argc;
	char *envp[MAX_ITEMS]; int envc;
	uid_t uid; gid_t gid; gid_t groups[256]; int ngroups;
	mode_t umask;
	int has_caps; uint64_t caps[5]; /* bounding, effective, inheritable, permitted, ambient */
	struct rlimit_op rlimits[32]; int nrlimits;
	int oom;
	unsigned seccomp_flags; unsigned char *seccomp; size_t seccomp_len;
	int preserve;
	/* monitor mode (see monitor.c) */
	const char *logpath, *exitpath, *oomfile;
	int monitor, tee, ptyrelay, ptyin;
	char **exitcmd, **exitcmd_env;
	/* the container's root as an overlay mounted in its own mount namespace */
	const char *ovl_target, *ovl_upper, *ovl_work;
	char **ovl_lower; int ovl_nlower;
};

/* plan.c */
int plan_parse(char *buf, size_t len, struct plan *p);

/* sync.c: framed messages on the socket to Node */
extern int sync_fd;
int msg_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *msg_recv(size_t *len);
void die(int err, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
const char *errno_name(int err);

/* rootfs.c */
void setup_rootfs(const struct plan *p, const char *state);
void enter_rootfs(const struct plan *p);
void run_hooks(const struct plan *p, const char *stage, const char *state);

/* process.c */
void finish_process(const struct plan *p, const char *state, int console_sock, int fifo_fd) __attribute__((noreturn));
int console_connect(const char *path);
void console_setup(int sock, int *slave_out);
void loopback_up(void);

/* monitor.c */
int monitor_run(const struct plan *p, pid_t child, int out_r, int err_r, int ptysock);
void mount_overlay(const struct plan *p);

/* init.c */
int init_main(int argc, char **argv);

/* selfseal.c */
void ensure_sealed(char **argv, char **envp);

#endif
