/* TLS context and certificates.
 * SECURITY: reads the private key (as root at startup, as the server user
 * on reload); writes a new key with mode 0600. */
#include "core/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"

static SSL_CTX *tls_ctx;

void
tls_log_errors(uint64_t sid, const char *what)
{
	unsigned long e;
	char msg[256];

	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, msg, sizeof(msg));
		log_warn("tls", sid, "event=%s error=\"%s\"", what, msg);
	}
}

static int
write_pem(const char *path, int key, void *obj)
{
	FILE *f;
	int fd, ok;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    key ? 0600 : 0644);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	ok = key ? PEM_write_PrivateKey(f, obj, NULL, NULL, 0, NULL, NULL) :
	    PEM_write_X509(f, obj);
	if (fflush(f) != 0 || fsync(fileno(f)) < 0)
		ok = 0;
	fclose(f);
	return ok ? 0 : -1;
}

/* A self-signed certificate for hostname, valid ten years. */
static int
make_self_signed(const char *cert, const char *key, const char *hostname)
{
	EVP_PKEY *pkey = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name;
	X509_EXTENSION *ext = NULL;
	X509V3_CTX v3;
	char san[300];
	int rc = -1;

	if (pkey == NULL || x == NULL)
		goto out;
	if (mkdir("tls", 0700) < 0 && errno != EEXIST)
		goto out;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(random_u64() >> 2));
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 24 * 3600);
	X509_set_pubkey(x, pkey);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)hostname, -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	if (str_printf(san, sizeof(san), "DNS:%s", hostname) < 0)
		goto out;
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
	if (ext == NULL || !X509_add_ext(x, ext, -1))
		goto out;
	if (!X509_sign(x, pkey, EVP_sha256()))
		goto out;
	if (write_pem(key, 1, pkey) < 0 || write_pem(cert, 0, x) < 0)
		goto out;
	log_info("tls", 0, "event=self-signed-created cert=%s host=%s", cert,
	    hostname);
	rc = 0;
out:
	X509_EXTENSION_free(ext);
	X509_free(x);
	EVP_PKEY_free(pkey);
	return rc;
}

int
tls_load(const char *cert, const char *key, const char *hostname,
    const char **error_r)
{
	SSL_CTX *ctx;

	if (cert[0] == '\0') {
		cert = TLS_DEFAULT_CERT;
		key = TLS_DEFAULT_KEY;
		if (access(cert, R_OK) < 0 &&
		    make_self_signed(cert, key, hostname) < 0) {
			tls_log_errors(0, "self-signed-failed");
			*error_r = "cannot create a self-signed certificate";
			return -1;
		}
	} else if (key[0] == '\0') {
		key = cert;	/* a PEM file holding both */
	}
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL)
		goto fail;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		goto fail;
	SSL_CTX_free(tls_ctx);
	tls_ctx = ctx;
	log_info("tls", 0, "event=loaded cert=%s", cert);
	return 0;
fail:
	tls_log_errors(0, "load-failed");
	SSL_CTX_free(ctx);
	*error_r = "cannot load the TLS certificate or key";
	return -1;
}

SSL *
tls_new_ssl(void)
{
	return tls_ctx ? SSL_new(tls_ctx) : NULL;
}

static SSL_CTX *client_ctx;

void
tls_free(void)
{
	SSL_CTX_free(tls_ctx);
	tls_ctx = NULL;
	SSL_CTX_free(client_ctx);
	client_ctx = NULL;
}

SSL *
tls_new_client_ssl(const char *host)
{
	SSL *ssl;

	if (client_ctx == NULL) {
		client_ctx = SSL_CTX_new(TLS_client_method());
		if (client_ctx == NULL)
			return NULL;
		SSL_CTX_set_min_proto_version(client_ctx, TLS1_2_VERSION);
		SSL_CTX_set_verify(client_ctx, SSL_VERIFY_NONE, NULL);
	}
	ssl = SSL_new(client_ctx);
	if (ssl != NULL && host[0] != '\0' && host[0] != '[')
		SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME,
		    TLSEXT_NAMETYPE_host_name, (void *)(uintptr_t)host);
	return ssl;
}
