/* Parse the plan: a sequence of NUL-terminated tokens, each op followed by its arguments. */
#include "helper.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct cursor { char *p, *end; };

static char *next(struct cursor *c)
{
	if (c->p >= c->end) die(EINVAL, "plan: truncated");
	char *s = c->p;
	char *nul = memchr(s, 0, (size_t)(c->end - s));
	if (!nul) die(EINVAL, "plan: unterminated token");
	c->p = nul + 1;
	return s;
}

static unsigned long long num(struct cursor *c, int base)
{
	char *s = next(c), *e;
	errno = 0;
	unsigned long long v = strtoull(s, &e, base);
	if (errno || *e || e == s) die(EINVAL, "plan: bad number '%s'", s);
	return v;
}

static long long snum(struct cursor *c)
{
	char *s = next(c), *e;
	errno = 0;
	long long v = strtoll(s, &e, 10);
	if (errno || *e || e == s) die(EINVAL, "plan: bad number '%s'", s);
	return v;
}

static struct fs_op *fs_push(struct plan *p, enum fs_kind k)
{
	if (p->nfs >= MAX_ITEMS) die(E2BIG, "plan: too many filesystem operations");
	struct fs_op *f = &p->fs[p->nfs++];
	f->kind = k;
	return f;
}

static char **strv(struct cursor *c, size_t n)
{
	char **v = calloc(n + 1, sizeof(char *));
	if (!v) die(ENOMEM, "plan: out of memory");
	for (size_t i = 0; i < n; i++) v[i] = next(c);
	return v;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9') return ch - '0';
	if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
	die(EINVAL, "plan: bad hex digit");
}

int plan_parse(char *buf, size_t len, struct plan *p)
{
	struct cursor c = { buf, buf + len };
	memset(p, 0, sizeof(*p));
	while (c.p < c.end) {
		const char *op = next(&c);
#define IS(name) (strcmp(op, name) == 0)
		if (IS("wait")) p->wait = 1;
		else if (IS("setns")) {
			if (p->nsetns >= 16) die(E2BIG, "plan: too many namespaces");
			p->setns[p->nsetns++] = next(&c);
		} else if (IS("clone")) p->clone_flags = num(&c, 10);
		else if (IS("uidmap")) p->uidmap = next(&c);
		else if (IS("gidmap")) p->gidmap = next(&c);
		else if (IS("console")) p->console = next(&c);
		else if (IS("cgroupns")) p->cgroupns = 1;
		else if (IS("dumpable0")) p->dumpable0 = 1;
		else if (IS("hostname")) p->hostname = next(&c);
		else if (IS("domainname")) p->domainname = next(&c);
		else if (IS("loopback")) p->loopback = 1;
		else if (IS("rootfs")) p->rootfs = next(&c);
		else if (IS("propagation")) p->propagation = num(&c, 10);
		else if (IS("rootprop")) p->rootprop = num(&c, 10);
		else if (IS("mount")) {
			struct fs_op *f = fs_push(p, FS_MOUNT);
			f->m.src = next(&c);
			f->m.dst = next(&c);
			f->m.fstype = next(&c);
			f->m.flags = num(&c, 10);
			f->m.pflags = num(&c, 10);
			f->m.data = next(&c);
		} else if (IS("mkdev")) {
			struct fs_op *f = fs_push(p, FS_MKDEV);
			f->d.path = next(&c);
			f->d.mode = (mode_t)num(&c, 10);
			f->d.major = (unsigned)num(&c, 10);
			f->d.minor = (unsigned)num(&c, 10);
			f->d.uid = (uid_t)num(&c, 10);
			f->d.gid = (gid_t)num(&c, 10);
		} else if (IS("binddev")) {
			struct fs_op *f = fs_push(p, FS_BINDDEV);
			f->d.path = next(&c);
			f->d.host = next(&c);
		} else if (IS("symlink") || IS("sysctl")) {
			struct fs_op *f = fs_push(p, IS("symlink") ? FS_SYMLINK : FS_SYSCTL);
			f->a = next(&c);
			f->b = next(&c);
		} else if (IS("mask") || IS("rofs")) {
			struct fs_op *f = fs_push(p, IS("mask") ? FS_MASK : FS_ROFS);
			f->a = next(&c);
		} else if (IS("rootro")) p->rootro = 1;
		else if (IS("nopivot")) p->nopivot = 1;
		else if (IS("mkcwd")) p->mkcwd = 1;
		else if (IS("hook")) {
			if (p->nhooks >= 64) die(E2BIG, "plan: too many hooks");
			struct hook_op *h = &p->hooks[p->nhooks++];
			h->stage = next(&c);
			h->timeout = (unsigned)num(&c, 10);
			h->path = next(&c);
			h->argv = strv(&c, (size_t)num(&c, 10));
			h->envp = strv(&c, (size_t)num(&c, 10));
		} else if (IS("fifo")) p->fifo = next(&c);
		else if (IS("arg")) {
			if (p->argc >= MAX_ITEMS - 1) die(E2BIG, "plan: too many arguments");
			p->argv[p->argc++] = next(&c);
		} else if (IS("env")) {
			if (p->envc >= MAX_ITEMS - 1) die(E2BIG, "plan: too many environment variables");
			p->envp[p->envc++] = next(&c);
		} else if (IS("cwd")) p->cwd = next(&c);
		else if (IS("user")) {
			p->has_user = 1;
			p->uid = (uid_t)num(&c, 10);
			p->gid = (gid_t)num(&c, 10);
		} else if (IS("group")) {
			if (p->ngroups >= 256) die(E2BIG, "plan: too many groups");
			p->groups[p->ngroups++] = (gid_t)num(&c, 10);
		} else if (IS("umask")) {
			p->has_umask = 1;
			p->umask = (mode_t)num(&c, 8);
		} else if (IS("caps")) {
			p->has_caps = 1;
			for (int i = 0; i < 5; i++) p->caps[i] = num(&c, 16);
		} else if (IS("rlimit")) {
			if (p->nrlimits >= 32) die(E2BIG, "plan: too many rlimits");
			struct rlimit_op *r = &p->rlimits[p->nrlimits++];
			r->resource = (int)num(&c, 10);
			r->soft = num(&c, 10);
			r->hard = num(&c, 10);
		} else if (IS("nnp")) p->nnp = 1;
		else if (IS("oom")) {
			p->has_oom = 1;
			p->oom = (int)snum(&c);
		} else if (IS("seccomp")) {
			p->seccomp_flags = (unsigned)num(&c, 10);
			const char *hex = next(&c);
			size_t n = strlen(hex);
			if (n % 16) die(EINVAL, "plan: seccomp program is not a whole number of instructions");
			p->seccomp = malloc(n / 2);
			if (!p->seccomp) die(ENOMEM, "plan: out of memory");
			for (size_t i = 0; i < n / 2; i++)
				p->seccomp[i] = (unsigned char)(hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
			p->seccomp_len = n / 2;
		} else if (IS("preserve")) p->preserve = (int)num(&c, 10);
		else if (IS("monitor")) {
			p->monitor = p->wait = 1;
			p->logpath = next(&c);
			p->exitpath = next(&c);
		} else if (IS("tee")) p->tee = 1;
		else if (IS("ptyrelay")) p->ptyrelay = 1;
		else if (IS("ptyin")) p->ptyin = 1;
		else if (IS("oomfile")) p->oomfile = next(&c);
		else if (IS("exitcmd")) {
			p->exitcmd = strv(&c, (size_t)num(&c, 10));
			p->exitcmd_env = strv(&c, (size_t)num(&c, 10));
		} else if (IS("overlay")) {
			p->ovl_target = next(&c);
			p->ovl_upper = next(&c);
			p->ovl_work = next(&c);
			p->ovl_nlower = (int)num(&c, 10);
			p->ovl_lower = strv(&c, (size_t)p->ovl_nlower);
		}
		else die(EINVAL, "plan: unknown operation '%s'", op);
#undef IS
	}
	p->argv[p->argc] = NULL;
	p->envp[p->envc] = NULL;
	return 0;
}
