/* bench/proxy/startup: start-up time of a server, from exec to the first
 * "200" answer of GET PATH on 127.0.0.1:PORT (polled every 0.5 ms).
 *
 *   startup PORT PATH TIMEOUT_MS -- COMMAND [ARGS...]
 *
 * Prints the milliseconds on stdout, then stops the child it started (TERM,
 * KILL after 2 s) and waits for it. Exit 1 on timeout. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int probe(int port, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = 0;
    if (connect(fd, (struct sockaddr *)&sin, sizeof sin) == 0) {
        char req[256], buf[64];
        int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
        struct timeval tv = {1, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        if (write(fd, req, (size_t)n) == n) {
            ssize_t r = read(fd, buf, sizeof buf - 1);
            if (r >= 12) {
                buf[r] = 0;
                ok = strncmp(buf + 9, "200", 3) == 0;
            }
        }
    }
    close(fd);
    return ok;
}

int main(int argc, char **argv)
{
    if (argc < 6 || strcmp(argv[4], "--") != 0) {
        fprintf(stderr, "usage: startup PORT PATH TIMEOUT_MS -- COMMAND [ARGS...]\n");
        return 2;
    }
    int port = atoi(argv[1]);
    double timeout = atof(argv[3]);
    double t0 = now_ms();
    pid_t pid = fork();
    if (pid == 0) {
        execvp(argv[5], argv + 5);
        _exit(127);
    }
    int rc = 1;
    while (now_ms() - t0 < timeout) {
        if (probe(port, argv[2])) {
            printf("%.2f\n", now_ms() - t0);
            rc = 0;
            break;
        }
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            fprintf(stderr, "startup: child exited\n");
            return 1;
        }
        usleep(500);
    }
    kill(pid, SIGTERM);
    for (int i = 0; i < 200; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return rc;
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return rc;
}
