/* One client connection, shared by every protocol: the socket, its
 * buffered I/O (plain or TLS), STARTTLS, timeouts, back-pressure, and a
 * registry so that worker results find their connection by id. */
#ifndef MW_CORE_CONN_H
#define MW_CORE_CONN_H

#include <event2/bufferevent.h>
#include <event2/buffer.h>
#include <openssl/ssl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/ipaddr.h"

struct conn;

struct conn_ops {
	/* Input is waiting in conn_input(). */
	void (*on_read)(struct conn *c);
	/* A TLS handshake finished (implicit TLS or STARTTLS). */
	void (*on_tls)(struct conn *c);
	/* The idle timeout fired; the protocol says goodbye and closes. */
	void (*on_timeout)(struct conn *c);
	/* The connection is going away (peer closed, error, or after
	 * conn_close()); the protocol frees its own state here. */
	void (*on_free)(struct conn *c);
	/* The server is stopping: finish what was acknowledged, say
	 * goodbye and close (now or once in-flight work is done). */
	void (*on_shutdown)(struct conn *c);
	/* Optional: queued output fell to CONN_OUTPUT_LOW or less (for
	 * protocols that stream large replies piece by piece). */
	void (*on_drain)(struct conn *c);
};

struct conn {
	uint64_t id;		/* also the session id in logs */
	int fd;
	struct bufferevent *bev;
	SSL *ssl;		/* non-NULL once TLS is in use */
	int tls_ready;		/* handshake complete */
	int starttls_pending;	/* switch to TLS when output drains */
	int closing;		/* no more input; freed once output drains */
	int paused;		/* protocol stopped reading (waiting on work) */
	int backpressure;	/* too much output queued: reading stopped */
	unsigned timeout;	/* idle seconds, kept across STARTTLS */
	struct ipaddr peer;
	char peer_str[IPADDR_STRLEN];
	uint16_t peer_port;
	struct ipaddr local;
	uint16_t local_port;
	const struct conn_ops *ops;
	void *ctx;		/* the protocol's session */
	struct conn *hnext;	/* registry chain */
	struct conn *next_free;	/* reaper list */
};

/* Output queued past this stops reading until the client catches up
 * to CONN_OUTPUT_LOW. */
#define CONN_OUTPUT_HIGH (256 * 1024)
#define CONN_OUTPUT_LOW (64 * 1024)
/* Input buffered past this stops reading until the protocol consumes. */
#define CONN_INPUT_HIGH (256 * 1024)
/* The most moved by one read or write call. */
#define CONN_IO_CHUNK (128 * 1024)

void conn_init(struct event_base *base);
/* Takes ownership of fd. With implicit_tls the TLS handshake starts at
 * once. Returns NULL (fd closed) when TLS cannot be set up. */
struct conn *conn_new(int fd, const struct sockaddr *sa, int implicit_tls,
    const struct conn_ops *ops, void *ctx);
/* Refuses fd before any session exists: sends line once, never
 * waiting, closes fd, and logs module's event=refused with why. */
void conn_refuse(int fd, const char *module, const char *line,
    const char *why, const struct ipaddr *ip);
/* The live connection with this id, or NULL if it has gone. */
struct conn *conn_lookup(uint64_t id);
/* Connections alive now. */
unsigned conn_count(void);
/* Calls fn for every live connection (fn may close it). */
void conn_foreach(void (*fn)(struct conn *c, void *arg), void *arg);

struct evbuffer *conn_input(struct conn *c);
void conn_write(struct conn *c, const void *data, size_t len);
/* Queues a malloc'd block, which conn frees once sent (no copy). */
void conn_write_owned(struct conn *c, void *data, size_t len);
/* Bytes queued and not yet sent. */
size_t conn_output_pending(struct conn *c);
void conn_printf(struct conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A protocol reply: formats fmt after the prefix already in line's first
 * used bytes, cuts it to fit size (at least used + 3) with room for the
 * CRLF it then ends with, and writes it to c (when not NULL). Returns the
 * line's length without the CRLF; 0 (nothing written) if fmt fails. */
size_t conn_vline(struct conn *c, char *line, size_t size, size_t used,
    const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));
/* Idle timeout in seconds (0: none): for reading, and for a client that
 * stops taking queued output. */
void conn_set_timeout(struct conn *c, unsigned seconds);
/* Stops/starts reading (e.g. while a worker job runs). Resuming calls
 * on_read later from the loop if input is already waiting. */
void conn_pause(struct conn *c);
void conn_resume(struct conn *c);
/* Starts TLS once the queued output (the "ready" reply) is sent; any
 * input buffered before then is plaintext injection and is discarded. */
void conn_starttls(struct conn *c);
/* Stops reading, sends what is queued, then frees. Safe in callbacks. */
void conn_close(struct conn *c);

#endif
