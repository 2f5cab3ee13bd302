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

struct lws *loop_adopt_output(struct lws_vhost *vh, int fd, const char *protocol, void *opaque)
{
	struct lws *wsi = loop_adopt(vh, fd, protocol, opaque);
	if (wsi)
		lws_rx_flow_control(wsi, 0);
	return wsi;
}
