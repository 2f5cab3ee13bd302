#include "loop.h"

#include <string.h>

struct lws *loop_adopt(struct lws_vhost *vh, int fd, const char *protocol, void *opaque)
{
	lws_adopt_desc_t ad;
	memset(&ad, 0, sizeof ad);
	ad.vh = vh;
	ad.type = LWS_ADOPT_RAW_FILE_DESC;
	ad.fd.filefd = fd;
	ad.vh_prot_name = protocol;
	ad.opaque = opaque;
	return lws_adopt_descriptor_vhost_via_info(&ad);
}
