/* One outbound SMTP session to one address: greeting, EHLO, STARTTLS
 * when offered, AUTH PLAIN for a relay host, MAIL, RCPT (pipelined when
 * offered), DATA, QUIT. Runs on the event loop. */
#ifndef MW_QUEUE_SMTPC_H
#define MW_QUEUE_SMTPC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "queue/smtpc_parse.h"

struct smtpc_params {
	const char *helo;		/* our host name */
	const char *host;		/* the server's name (SNI, logs) */
	struct sockaddr_storage addr;	/* where to connect */
	int tls;			/* STARTTLS when offered */
	const char *auth_user;		/* relay host AUTH, or NULL */
	const char *auth_pass;
	const char *sender;		/* "" for the null sender */
	const char *const *rcpts;
	size_t nrcpts;
	const char *data;		/* dot-stuffed, ends CRLF.CRLF */
	size_t data_len;
	uint64_t size;			/* for SIZE= */
	unsigned connect_timeout;	/* seconds */
	unsigned timeout;		/* seconds for each reply */
	/* Optional: called when the connection is finally closed (after
	 * QUIT, or on abort), possibly long after done. */
	void (*on_close)(void *close_arg);
	void *close_arg;
};

struct smtpc_result {
	/* 0: nothing was decided (no connection, greeting or EHLO refused,
	 * TLS failed before MAIL): the caller may try another address.
	 * 1: the server answered MAIL: codes/texts say how each recipient
	 * fared (2xx delivered, 4xx later, 5xx failed). */
	int definitive;
	int tls_failed;			/* the STARTTLS handshake failed */
	int tls_used;
	char relay[320];		/* "host[ip]:port" */
	char error[SMTPC_TEXT_MAX];	/* when not definitive */
	int *codes;			/* per recipient */
	char (*texts)[SMTPC_TEXT_MAX];
};

struct smtpc;

/* Called once with the outcome; result is valid during the call. */
typedef void smtpc_done_fn(void *arg, const struct smtpc_result *result);

/* Starts a session; p and everything it points to must stay valid until
 * done has run. Never calls done before returning. */
struct smtpc *smtpc_start(const struct smtpc_params *p, smtpc_done_fn *done,
    void *arg);
/* Ends a session early (shutdown); done is not called, on_close is. */
void smtpc_abort(struct smtpc *c);
/* Ends every session, including those saying QUIT after done. */
void smtpc_abort_all(void);

#endif
