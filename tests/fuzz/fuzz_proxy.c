/* libFuzzer target: the PROXY protocol header parser (proxy_parse).
 * The input is parsed whole and as every prefix; aborts when:
 *   - a header length is reported beyond the bytes given or PROXY_MAX;
 *   - a prefix of a complete header is reported malformed, or complete
 *     with another length (parsing must be incremental and stable);
 *   - a named client is neither IPv4 nor IPv6. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) do { if (!(cond)) abort(); } while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_storage src;
	uint8_t *copy;
	int has_src, len;

	if (size > PROXY_MAX + 64)
		return 0;
	copy = malloc(size ? size : 1);
	memcpy(copy, data, size);
	len = proxy_parse(copy, size, &src, &has_src);
	REQUIRE(len >= -1 && len <= (int)size && len <= PROXY_MAX);
	if (len > 0 && has_src)
		REQUIRE(src.ss_family == AF_INET || src.ss_family == AF_INET6);
	if (len > 0) {
		for (size_t k = 0; k < (size_t)len; k++) {
			int r = proxy_parse(copy, k, &src, &has_src);

			REQUIRE(r == 0);
		}
	}
	free(copy);
	return 0;
}
