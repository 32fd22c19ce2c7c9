/*
 * FastCGI listening sockets for nano_server: unix sockets, loopback TCP
 * addresses or an inherited fd 0, never a public address.
 */

#ifndef NANO_LISTEN_H
#define NANO_LISTEN_H

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

typedef struct {
    int    fd;
    int    inherited;                  /* fd 0 from spawn-fcgi or systemd */
    char   unix_path[sizeof(((struct sockaddr_un *) 0)->sun_path)];
    char   name[256];                  /* for logs */
} nano_listener_t;

/*
 * Listens on spec: "unix:/absolute/path" (the file made with mode, and
 * linked to its name only once it listens), "127.0.0.1:PORT",
 * "localhost:PORT" or "[::1]:PORT"; NULL takes over fd 0 when it is a
 * listening unix or loopback socket.  NANO_EXIT_OK, NANO_EXIT_USAGE for
 * a spec that is malformed or not loopback, NANO_EXIT_FAILURE otherwise;
 * the reason is logged.
 */
int nano_listen_open(const char *spec, mode_t mode, nano_listener_t *l);

/* Parses "HOST:PORT" as nano_listen_open does (HOST "localhost", an
 * IPv4 address, "[IPv6]" or empty); 0, or -1 when malformed.  Does not
 * judge the address: nano_listen_is_loopback does. */
int nano_listen_parse_tcp(const char *spec, struct sockaddr_storage *ss,
    socklen_t *len);

/* 1 for 127.0.0.0/8 and ::1. */
int nano_listen_is_loopback(const struct sockaddr *sa);

#endif /* NANO_LISTEN_H */
