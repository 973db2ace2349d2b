/*
 * CVE-2019-5736: a container process could open /proc/<helper pid>/exe and overwrite the
 * helper's binary on the host. We always run from a sealed in-memory copy instead: once
 * F_SEAL_WRITE is set no one, not even root, can change those bytes.
 */
#include "helper.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

void ensure_sealed(char **argv, char **envp)
{
	int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (self < 0) die(errno, "open /proc/self/exe");
	int seals = fcntl(self, F_GET_SEALS);
	if (seals >= 0 && (seals & F_SEAL_WRITE)) {
		close(self);
		return;
	}
	struct stat st;
	if (fstat(self, &st) < 0) die(errno, "stat /proc/self/exe");
	int mfd = memfd_create("berth-helper", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
	if (mfd < 0 && errno == EINVAL) mfd = memfd_create("berth-helper", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0) die(errno, "memfd_create");
	off_t off = 0;
	while (off < st.st_size) {
		ssize_t n = sendfile(mfd, self, &off, (size_t)(st.st_size - off));
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) die(errno, "copy helper into memfd");
	}
	if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
		die(errno, "seal memfd");
	close(self);
	fexecve(mfd, argv, envp);
	die(errno, "re-exec sealed helper");
}
