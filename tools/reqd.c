// reqd: a small program for tools/reqlat.ts to trace: handle() takes a request by pointer and a tag by value and
// returns a status (-22 for kind 3), working about a microsecond per unit of the request's size.
//   gcc -O2 -g -fno-omit-frame-pointer -o /tmp/reqd tools/reqd.c && /tmp/reqd 20
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct request {
  int id;
  int kind;
  long size;
  char path[24];
};

struct tag { int a; int b; };

static volatile unsigned long sink;

__attribute__((noinline)) long handle(struct request *r, struct tag t, int flags) {
  // Busy for size microseconds, so latencies are known.
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    for (int i = 0; i < 1000; i++) sink += i;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long ns = (now.tv_sec - start.tv_sec) * 1000000000L + (now.tv_nsec - start.tv_nsec);
    if (ns >= r->size * 1000L) break;
  }
  if (r->kind == 3) return -22;
  return r->size + t.a * 1000 + t.b + flags;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 20;
  static const char *paths[] = { "/index.html", "/api/v1/items", "/static/app.js", "/bad" };
  long total = 0;
  for (int i = 0; i < n; i++) {
    struct request r = { .id = i, .kind = i % 4, .size = 10L << (i % 6) };
    strncpy(r.path, paths[i % 4], sizeof r.path - 1);
    struct tag t = { i, -i };
    total += handle(&r, t, i & 1);
  }
  printf("%ld\n", total);
  return 0;
}
