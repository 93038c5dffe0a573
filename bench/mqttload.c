/*
 * mqttload: the benchmark's C load generator and C subscriber (libmosquitto).
 *
 *   mqttload pub HOST PORT USER PASS CLIENT_ID TOPIC FILE RATE INFLIGHT
 *       Publishes every line of FILE as one QoS 1 message on TOPIC, paced to RATE
 *       messages/s (0: as fast as the broker acknowledges), with at most INFLIGHT
 *       unacknowledged messages; waits for every PUBACK, then prints one JSON line.
 *   mqttload sub HOST PORT USER PASS CLIENT_ID TOPIC COUNT TIMEOUT_S
 *       Subscribes at QoS 1 (clean session), prints "ready" after the SUBACK, counts
 *       messages until COUNT arrived or TIMEOUT_S passed, then prints one JSON line.
 *
 * Compiled by the harness at bench time: cc -O2 mqttload.c -lmosquitto (Debian libmosquitto-dev).
 * Every loop is bounded by a count or a deadline.
 */
#include <mosquitto.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static atomic_long acked = 0;
static atomic_int subscribed = 0;
static atomic_int connected_rc = -1;
static long received = 0;
static long wanted = 0;
static double t_first = 0.0, t_last = 0.0;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double seconds) {
    if (seconds <= 0) return;
    struct timespec ts;
    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
    nanosleep(&ts, NULL);
}

static void on_connect(struct mosquitto *m, void *u, int rc) { (void)m; (void)u; connected_rc = rc; }
static void on_publish(struct mosquitto *m, void *u, int mid) { (void)m; (void)u; (void)mid; acked++; }
static void on_subscribe(struct mosquitto *m, void *u, int mid, int n, const int *q) {
    (void)m; (void)u; (void)mid; (void)n; (void)q; subscribed = 1;
}
static void on_message(struct mosquitto *m, void *u, const struct mosquitto_message *msg) {
    (void)m; (void)u; (void)msg;
    double t = now_s();
    if (received == 0) t_first = t;
    received++;
    t_last = t;
}

static struct mosquitto *open_client(const char *host, int port, const char *user, const char *pass,
                                     const char *client_id) {
    struct mosquitto *m = mosquitto_new(client_id, true, NULL);
    if (m == NULL) { fprintf(stderr, "mosquitto_new failed\n"); exit(2); }
    mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_username_pw_set(m, user, pass);
    mosquitto_connect_callback_set(m, on_connect);
    mosquitto_publish_callback_set(m, on_publish);
    mosquitto_subscribe_callback_set(m, on_subscribe);
    mosquitto_message_callback_set(m, on_message);
    int rc = mosquitto_connect(m, host, port, 60);
    if (rc != MOSQ_ERR_SUCCESS) { fprintf(stderr, "connect: %s\n", mosquitto_strerror(rc)); exit(2); }
    return m;
}

static int run_pub(char **a) {
    const char *topic = a[5];
    double rate = atof(a[7]);
    long inflight = atol(a[8]);
    FILE *f = fopen(a[6], "rb");
    if (f == NULL) { perror(a[6]); return 2; }
    struct mosquitto *m = open_client(a[0], atoi(a[1]), a[2], a[3], a[4]);
    mosquitto_max_inflight_messages_set(m, (unsigned int)inflight);
    mosquitto_loop_start(m);
    for (int i = 0; i < 1000 && connected_rc < 0; i++) sleep_s(0.01);
    if (connected_rc != 0) { fprintf(stderr, "not connected (rc %d)\n", connected_rc); return 2; }
    size_t cap = 0;
    char *line = NULL;
    long sent = 0;
    double t0 = now_s();
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        if (line[len - 1] == '\n') len--;
        if (rate > 0) sleep_s(t0 + (double)sent / rate - now_s());
        for (long spin = 0; spin < 10000000 && sent - acked >= inflight; spin++) sleep_s(0.0001);
        int rc = mosquitto_publish(m, NULL, topic, (int)len, line, 1, false);
        if (rc != MOSQ_ERR_SUCCESS) { fprintf(stderr, "publish: %s\n", mosquitto_strerror(rc)); return 2; }
        sent++;
    }
    double t_sent = now_s();
    for (long spin = 0; spin < 600000 && acked < sent; spin++) sleep_s(0.0001);
    double t1 = now_s();
    printf("{\"sent\": %ld, \"acked\": %ld, \"t0\": %.6f, \"t_sent\": %.6f, \"t1\": %.6f}\n",
           sent, (long)acked, t0, t_sent, t1);
    fflush(stdout);
    free(line);
    fclose(f);
    mosquitto_disconnect(m);
    mosquitto_loop_stop(m, false);
    mosquitto_destroy(m);
    return acked == sent ? 0 : 1;
}

static int run_sub(char **a) {
    wanted = atol(a[6]);
    double timeout = atof(a[7]);
    struct mosquitto *m = open_client(a[0], atoi(a[1]), a[2], a[3], a[4]);
    double deadline = now_s() + timeout;
    int announced = 0;
    while (now_s() < deadline && received < wanted) {
        int rc = mosquitto_loop(m, 50, 1000);
        if (rc != MOSQ_ERR_SUCCESS) { fprintf(stderr, "loop: %s\n", mosquitto_strerror(rc)); return 2; }
        if (connected_rc == 0 && !announced) {
            mosquitto_subscribe(m, NULL, a[5], 1);
            announced = 1;
        }
        if (subscribed == 1) {
            printf("ready\n");
            fflush(stdout);
            subscribed = 2;
        }
    }
    printf("{\"received\": %ld, \"t_first\": %.6f, \"t_last\": %.6f}\n", received, t_first, t_last);
    fflush(stdout);
    mosquitto_disconnect(m);
    mosquitto_destroy(m);
    return received >= wanted ? 0 : 1;
}

int main(int argc, char **argv) {
    mosquitto_lib_init();
    int rc = 2;
    if (argc == 11 && strcmp(argv[1], "pub") == 0) rc = run_pub(argv + 2);
    else if (argc == 10 && strcmp(argv[1], "sub") == 0) rc = run_sub(argv + 2);
    else fprintf(stderr, "usage: see the comment at the top of mqttload.c\n");
    mosquitto_lib_cleanup();
    return rc;
}
