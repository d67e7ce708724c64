// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <nftables/libnftables.h>

#include "datapath/notrack.h"

/* What follows "nft: " in an error: nft's own first line, trimmed. */
static const char *first_line(const char *text, char *buf, size_t len)
{
	size_t n = strcspn(text ? text : "", "\n");

	snprintf(buf, len, "%.*s", (int)n, text ? text : "");
	return buf[0] ? buf : "no reason given";
}

/* Run nft commands (one transaction); output, if asked, into out. */
static int nft(const char *cmds, char *out, size_t out_len, const char *what,
	       struct sw_error *e)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	char why[256];
	int err = 0;

	if (!ctx)
		return sw_fail(e, -ENOMEM, "%s: out of memory", what);
	if (nft_ctx_buffer_output(ctx) || nft_ctx_buffer_error(ctx)) {
		nft_ctx_free(ctx);
		return sw_fail(e, -ENOMEM, "%s: out of memory", what);
	}
	if (nft_run_cmd_from_buffer(ctx, cmds))
		err = sw_fail(e, -EPERM, "%s: nf_tables said: %s (the agent "
			      "needs CAP_NET_ADMIN and a kernel with "
			      "nf_tables)", what,
			      first_line(nft_ctx_get_error_buffer(ctx), why,
					 sizeof(why)));
	else if (out)
		snprintf(out, out_len, "%s", nft_ctx_get_output_buffer(ctx));
	nft_ctx_free(ctx);
	return err;
}

int sw_notrack_ensure(__u32 mark, struct sw_error *e)
{
	char cmds[640];

	/* add + delete + define: the table replaced whole, atomically. */
	snprintf(cmds, sizeof(cmds),
		 "add table inet " SW_NOTRACK_TABLE "\n"
		 "delete table inet " SW_NOTRACK_TABLE "\n"
		 "table inet " SW_NOTRACK_TABLE " {\n"
		 "  chain steered {\n"
		 "    type filter hook prerouting priority raw - 10; "
		 "policy accept;\n"
		 "    meta mark 0x%08x notrack comment \"spillway: steered to "
		 "the tunnel endpoint: no conntrack, so no kube-proxy NAT\"\n"
		 "  }\n"
		 "}\n", mark);
	return nft(cmds, NULL, 0, "cannot keep steered packets out of "
		   "conntrack (nft table inet " SW_NOTRACK_TABLE ")", e);
}

int sw_notrack_remove(struct sw_error *e)
{
	return nft("add table inet " SW_NOTRACK_TABLE "\n"
		   "delete table inet " SW_NOTRACK_TABLE "\n", NULL, 0,
		   "cannot remove nft table inet " SW_NOTRACK_TABLE, e);
}

int sw_notrack_present(__u32 mark, bool *present, struct sw_error *e)
{
	char out[2048], want[48];
	int err;

	*present = false;
	err = nft("list tables\n", out, sizeof(out), "cannot list nft tables",
		  e);
	if (err || !strstr(out, "table inet " SW_NOTRACK_TABLE "\n"))
		return err;
	err = nft("list table inet " SW_NOTRACK_TABLE "\n", out, sizeof(out),
		  "cannot list nft table inet " SW_NOTRACK_TABLE, e);
	snprintf(want, sizeof(want), "meta mark 0x%08x notrack", mark);
	*present = !err && strstr(out, want);
	return err;
}
