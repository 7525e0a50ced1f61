// Leaves dead tasks on the kernel's task list, whose stacks are freed:
// ZOMBIES unreaped children, and LEADERS processes whose thread-group leader
// exited (pthread_exit) while another thread lives on. Prints "ready" once
// they exist, then waits forever (killing it reaps everything).
//   dead_tasks ZOMBIES LEADERS
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void *live_on(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	int zombies = argc > 1 ? atoi(argv[1]) : 8, leaders = argc > 2 ? atoi(argv[2]) : 4;

	for (int i = 0; i < zombies; i++)
		if (fork() == 0)
			_exit(0);
	for (int i = 0; i < leaders; i++)
		if (fork() == 0) {
			pthread_t t;

			pthread_create(&t, NULL, live_on, NULL);
			pthread_exit(NULL);
		}
	sleep(1);	/* the children have exited by now */
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}
