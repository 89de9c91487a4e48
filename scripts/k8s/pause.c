/* The pod sandbox's process (the "pause" container of scripts/k8s.sh): holds the
 * pod's namespaces open, reaps nothing, exits 0 on SIGTERM or SIGINT. Built
 * static so its image is this one file. */
#include <signal.h>
#include <unistd.h>

static void bye(int sig)
{
    (void)sig;
    _exit(0);
}

int main(void)
{
    signal(SIGTERM, bye);
    signal(SIGINT, bye);
    for (;;)
        pause();
}
