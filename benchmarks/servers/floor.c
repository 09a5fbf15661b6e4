// The kernel's floor for the echo benchmarks: what one read and one write per
// message cost on this machine when the server itself does no work.
//
//   cc -O2 -o floor benchmarks/servers/floor.c && ./floor --port 9001
//
// Not a WebSocket server. It answers every connection's first request with a
// fixed 101 (the Sec-WebSocket-Accept of the load generator's fixed key, RFC
// 6455's own example; the request is not read, let alone checked), then echoes
// each frame unmasked, with the opcode it came with. One epoll loop, one read
// and one write per ready socket, TCP_NODELAY like the servers measured. A
// frame split over two reads is kept and finished by the next; a close frame
// ends the connection. The harness compiles it with the system's cc (the
// `floor-native` row is skipped where there is none).
//
// Prints `ready port=<port> pid=<pid>` once listening.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static const char RESPONSE_101[] =
    "HTTP/1.1 101 Switching Protocols\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

// Messages up to this size (the benchmarks send at most 16 KiB); a bigger frame closes the connection.
#define MAX_FRAME (64 * 1024)
#define BUFFER_SIZE (MAX_FRAME + 14)

struct connection {
  int fd;
  int upgraded;
  size_t pending;           // bytes of an unfinished frame kept in `kept`
  unsigned char *kept;      // allocated on the first split frame
};

static unsigned char input[2 * BUFFER_SIZE];
static unsigned char output[2 * BUFFER_SIZE];

static void drop(int epoll, struct connection *c) {
  epoll_ctl(epoll, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  free(c->kept);
  free(c);
}

// Echoes the whole frames in `in[0..n)` into `output`; returns the bytes written there, or -1 to close.
// `*used` is set to the bytes consumed (the rest is an unfinished frame).
static ssize_t echo_frames(const unsigned char *in, size_t n, size_t *used) {
  size_t at = 0, out = 0;
  while (n - at >= 2) {
    unsigned char first = in[at];
    uint64_t length = in[at + 1] & 0x7f;
    size_t head = 2;
    if (length == 126) {
      if (n - at < 4) break;
      length = (uint64_t)in[at + 2] << 8 | in[at + 3];
      head = 4;
    } else if (length == 127) {
      if (n - at < 10) break;
      length = 0;
      for (int i = 0; i < 8; i++) length = length << 8 | in[at + 2 + i];
      head = 10;
    }
    if (!(in[at + 1] & 0x80) || length > MAX_FRAME) return -1;  // clients must mask
    if (n - at < head + 4 + length) break;
    if ((first & 0x0f) == 0x8) return -1;  // close: end the connection
    const unsigned char *mask = in + at + head;
    const unsigned char *payload = mask + 4;
    output[out++] = first;
    if (length < 126) {
      output[out++] = (unsigned char)length;
    } else {
      output[out++] = 126;
      output[out++] = (unsigned char)(length >> 8);
      output[out++] = (unsigned char)length;
    }
    for (uint64_t i = 0; i < length; i++) output[out++] = payload[i] ^ mask[i & 3];
    at += head + 4 + length;
  }
  *used = at;
  return (ssize_t)out;
}

// Writes all of `bytes`; the benchmarks keep one message in flight, so a full socket buffer means a stuck peer.
static int write_all(int fd, const unsigned char *bytes, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, bytes, n);
    if (w < 0) return -1;
    bytes += w;
    n -= (size_t)w;
  }
  return 0;
}

static void on_readable(int epoll, struct connection *c) {
  unsigned char *in = input;
  if (c->pending > 0) memcpy(input, c->kept, c->pending);
  ssize_t r = read(c->fd, input + c->pending, BUFFER_SIZE);
  if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
    drop(epoll, c);
    return;
  }
  if (r < 0) return;
  size_t n = c->pending + (size_t)r;
  c->pending = 0;
  if (!c->upgraded) {
    // The whole request head arrives in one read (it is ~170 bytes); anything after it is not expected.
    if (memmem(in, n, "\r\n\r\n", 4) == NULL || write_all(c->fd, (const unsigned char *)RESPONSE_101,
                                                          sizeof RESPONSE_101 - 1) < 0) {
      drop(epoll, c);
      return;
    }
    c->upgraded = 1;
    return;
  }
  size_t used = 0;
  ssize_t out = echo_frames(in, n, &used);
  if (out < 0 || (out > 0 && write_all(c->fd, output, (size_t)out) < 0)) {
    drop(epoll, c);
    return;
  }
  if (used < n) {
    if (c->kept == NULL && (c->kept = malloc(BUFFER_SIZE)) == NULL) {
      drop(epoll, c);
      return;
    }
    c->pending = n - used;
    memmove(c->kept, in + used, c->pending);
  }
}

int main(int argc, char **argv) {
  int port = 9001;
  const char *host = "127.0.0.1";
  for (int i = 1; i + 1 < argc; i++) {
    if (strcmp(argv[i], "--port") == 0) port = atoi(argv[i + 1]);
    if (strcmp(argv[i], "--host") == 0) host = argv[i + 1];
  }
  signal(SIGPIPE, SIG_IGN);
  int one = 1;
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, host, &address.sin_addr) != 1 || bind(listener, (void *)&address, sizeof address) < 0 ||
      listen(listener, 4096) < 0) {
    perror("listen");
    return 1;
  }
  socklen_t size = sizeof address;
  getsockname(listener, (void *)&address, &size);
  int epoll = epoll_create1(0);
  struct epoll_event event = {.events = EPOLLIN, .data.ptr = NULL};  // NULL: the listener
  epoll_ctl(epoll, EPOLL_CTL_ADD, listener, &event);
  printf("ready port=%d pid=%d\n", ntohs(address.sin_port), getpid());
  fflush(stdout);

  struct epoll_event events[1024];
  for (;;) {
    int ready = epoll_wait(epoll, events, 1024, -1);
    for (int i = 0; i < ready; i++) {
      struct connection *c = events[i].data.ptr;
      if (c != NULL) {
        on_readable(epoll, c);
        continue;
      }
      for (;;) {
        int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK);
        if (fd < 0) break;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c = calloc(1, sizeof *c);
        if (c == NULL) {
          close(fd);
          continue;
        }
        c->fd = fd;
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &e);
      }
    }
  }
}
