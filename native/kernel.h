/* Kernel ABI bits we need, defined here so the helper builds against musl without the linux/ headers. */
#ifndef BERTH_KERNEL_H
#define BERTH_KERNEL_H
#include <stdint.h>
#include <sys/syscall.h>

#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_seccomp
#define SYS_seccomp 317
#endif
#ifndef SYS_pivot_root
#define SYS_pivot_root 155
#endif

struct berth_open_how { uint64_t flags, mode, resolve; };
#define RESOLVE_NO_MAGICLINKS 0x02
#define RESOLVE_IN_ROOT 0x10

#define BERTH_CLOSE_RANGE_CLOEXEC (1U << 2)

#define SECCOMP_SET_MODE_FILTER_ 1
struct berth_sock_filter { uint16_t code; uint8_t jt, jf; uint32_t k; };
struct berth_sock_fprog { unsigned short len; struct berth_sock_filter *filter; };

#define CAP_V3 0x20080522
struct berth_cap_header { uint32_t version; int pid; };
struct berth_cap_data { uint32_t effective, permitted, inheritable; };

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

#ifndef TIOCGPTPEER
#define TIOCGPTPEER 0x5441
#endif
#ifndef TIOCSPTLCK
#define TIOCSPTLCK 0x40045431
#endif
#ifndef TIOCGPTN
#define TIOCGPTN 0x80045430
#endif

#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
/* ioctl on a namespace fd: its CLONE_NEW* type (linux/nsfs.h: _IO(0xb7, 0x3)) */
#ifndef NS_GET_NSTYPE
#define NS_GET_NSTYPE 0xb703
#endif

#endif
