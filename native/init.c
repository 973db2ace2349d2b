/*
 * `--init`: a minimal init as the container's PID 1 (Docker's tini role). It starts the
 * command, passes on every signal it gets, reaps every orphan that the kernel hands to PID 1,
 * and exits with the command's status once it ends.
 */
#include "helper.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile pid_t init_child;

static void pass_on(int sig)
{
	if (init_child > 0) kill(init_child, sig);
}

int init_main(int argc, char **argv)
{
	if (argc < 1) {
		fprintf(stderr, "berth-init: no command given\n");
		return 125;
	}
	struct sigaction sa = { .sa_handler = pass_on };
	sigemptyset(&sa.sa_mask);
	for (int s = 1; s < NSIG; s++)
		if (s != SIGCHLD && s != SIGKILL && s != SIGSTOP) sigaction(s, &sa, NULL);
	pid_t pid = fork();
	if (pid < 0) {
		perror("berth-init: fork");
		return 125;
	}
	if (pid == 0) {
		struct sigaction dfl = { .sa_handler = SIG_DFL };
		sigemptyset(&dfl.sa_mask);
		for (int s = 1; s < NSIG; s++)
			if (s != SIGKILL && s != SIGSTOP) sigaction(s, &dfl, NULL);
		execvp(argv[0], argv);
		fprintf(stderr, "berth-init: exec %s: %s\n", argv[0], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	init_child = pid;
	for (;;) {
		int st;
		pid_t r = wait(&st);
		if (r < 0) {
			if (errno == EINTR) continue;
			return 125;
		}
		if (r == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	}
}
