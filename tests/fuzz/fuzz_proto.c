/*
 * Fuzz harness: proto_check() of common/proto.c, the validator of the
 * payloads of worker messages (common/proto.h).  It is written against
 *
 *	int proto_check(uint32_t type, const void *data, size_t len);
 *	(0: well formed for its decoder, -1: not)
 *
 * and is built once tests/fuzz/meson.build sets fuzz_proto_enabled; if
 * proto_check() on main has another signature, only the call below
 * changes.
 *
 * Input: two bytes picking a message type (any u16, so unknown types
 * come too), then the payload, copied to a buffer of exactly its size.
 * Checked besides memory safety: the answer is 0 or -1, the same twice,
 * the payload is left as it was, and a fixed-layout payload is accepted
 * only at its struct's exact size (no payload for the types that carry
 * none); raw-text payloads are not checked for size here.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "proto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define RAW	((size_t)-1)	/* variable length */

static const struct {
	uint32_t	 type;
	size_t		 size;
} sizes[] = {
	{ M_WORKER_READY, 0 },
	{ M_CONF_SERVICE, RAW },
	{ M_CONF_REMOVE, sizeof(struct m_name) },
	{ M_CONF_DONE, 0 },
	{ M_CONF_ACK, 0 },
	{ M_SPAWN, sizeof(struct m_spawn) },
	{ M_SPAWNED, sizeof(struct m_spawned) },
	{ M_SPAWN_FAILED, sizeof(struct m_failed) },
	{ M_EXITED, sizeof(struct m_exited) },
	{ M_STOP, sizeof(struct m_stop) },
	{ M_ADOPT, sizeof(struct m_spawned) },
	{ M_ADOPTED, sizeof(struct m_adopted) },
	{ M_LOGFD, sizeof(struct m_logfd) },
	{ M_READYFD, sizeof(struct m_ref) },
	{ M_EXEC_PROBE, sizeof(struct m_exec_probe) },
	{ M_EXEC_PROBE_RESULT, sizeof(struct m_probe_result) },
	{ M_REOPEN_LOGS, sizeof(struct m_ref) },
	{ M_CONNECT_REQ, sizeof(struct m_connect) },
	{ M_CONNECT_FD, sizeof(struct m_connect) },
	{ M_WATCH, sizeof(struct m_watch) },
	{ M_UNWATCH, sizeof(struct m_ref) },
	{ M_READY, sizeof(struct m_ready) },
	{ M_NOTIFY, sizeof(struct m_notify) },
	{ M_PROBES_ENABLE, sizeof(struct m_probes_enable) },
	{ M_PROBE_RESULT, sizeof(struct m_probe_result) },
	{ M_PROBE_NOW, sizeof(struct m_probe_now) },
	{ M_PROBE_NOW_DONE, sizeof(struct m_probe_now) },
	{ M_STORE_SERVICE, sizeof(struct m_store_service) },
	{ M_STORE_JOB, sizeof(struct m_store_job) },
	{ M_STORE_EVENT, RAW },
	{ M_STORE_LOAD, 0 },
	{ M_STORE_LOAD_SERVICE, sizeof(struct m_store_service) },
	{ M_STORE_LOAD_JOB, sizeof(struct m_store_job) },
	{ M_STORE_LOAD_DONE, sizeof(struct m_store_load_done) },
	{ M_STORE_CLIENT, RAW },
	{ M_LOG_STATS, sizeof(struct m_log_stats) },
	{ M_STORE_LOGCONF, sizeof(struct m_store_logconf) },
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t		*buf;
	uint32_t	 type;
	size_t		 len, i;
	int		 r;

	if (size < 2)
		return 0;
	/* mostly known types: the low byte indexes the table */
	if (data[1] == 0)
		type = sizes[data[0] % (sizeof(sizes) / sizeof(sizes[0]))].type;
	else
		type = (uint32_t)data[0] | (uint32_t)data[1] << 8;
	len = size - 2;
	if ((buf = malloc(len > 0 ? len : 1)) == NULL)
		abort();
	memcpy(buf, data + 2, len);
	r = proto_check(type, len > 0 ? buf : NULL, len);
	if ((r != 0 && r != -1) || proto_check(type, len > 0 ? buf : NULL,
	    len) != r || memcmp(buf, data + 2, len) != 0)
		abort();
	for (i = 0; r == 0 && i < sizeof(sizes) / sizeof(sizes[0]); i++)
		if (sizes[i].type == type && sizes[i].size != RAW &&
		    sizes[i].size != len)
			abort();
	free(buf);
	return 0;
}
