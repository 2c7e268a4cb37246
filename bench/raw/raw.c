/* The floor: the smallest multi-threaded libfcgi responder. T threads loop
 * on FCGX_Accept_r on one listening socket and answer a fixed "Hello" with
 * the same header block replugd sends for a module that sets no headers.
 * With nginx's fastcgi_keep_conn on, each thread stays on one connection
 * until nginx closes it: that is libfcgi's design, and what this measures.
 *
 *   bench-raw ADDRESS THREADS     ADDRESS: /path.sock or :PORT (FCGX_OpenSocket)
 */
#include <fcgiapp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int listen_fd;

static const char answer[] =
    "Status: 200 OK\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "Hello";

static void* work(void* unused) {
    (void)unused;
    FCGX_Request request;
    FCGX_InitRequest(&request, listen_fd, 0);
    while (FCGX_Accept_r(&request) >= 0) {
        FCGX_PutStr(answer, (int)(sizeof answer - 1), request.out);
        FCGX_Finish_r(&request);
    }
    return NULL;
}

int main(int argc, char** argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s ADDRESS THREADS\n", argv[0]);
        return 2;
    }
    int threads = atoi(argv[2]);
    if (threads < 1 || threads > 1024) {
        fprintf(stderr, "%s: THREADS must be 1..1024\n", argv[0]);
        return 2;
    }
    if (FCGX_Init() != 0) return 1;
    /* libfcgi catches SIGTERM to finish the current request, and a thread
     * parked in read() on a keep-alive connection then never exits; the
     * floor is measured for its request path, so SIGTERM just ends it. */
    signal(SIGTERM, SIG_DFL);
    listen_fd = FCGX_OpenSocket(argv[1], 1024); /* replugd's backlog */
    if (listen_fd < 0) {
        fprintf(stderr, "%s: cannot listen on %s\n", argv[0], argv[1]);
        return 1;
    }
    pthread_t* ids = calloc((size_t)threads, sizeof *ids);
    if (!ids) return 1;
    for (int i = 0; i < threads; ++i)
        if (pthread_create(&ids[i], NULL, work, NULL) != 0) {
            fprintf(stderr, "%s: pthread_create failed\n", argv[0]);
            return 1;
        }
    for (int i = 0; i < threads; ++i) pthread_join(ids[i], NULL);
    return 0;
}
