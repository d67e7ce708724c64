/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Handshakes that never finish cannot hold a service's slots, so SYNs from
 * spoofed addresses cannot push it into spilling while it has room.
 *
 * A local flow's slot counts toward max_connections from its first SYN, so
 * a burst of real SYNs on every CPU still admits exactly max_connections.
 * Until the client's first ACK the slot is provisional: the flow is also
 * counted in its tick's bucket (sw_service.handshakes, one tick is
 * 2^SW_HANDSHAKE_TICK_SHIFT ns). The next SYN that finds a bucket two
 * ticks old takes what it still holds off active_local: a handshake not
 * acknowledged within one to two ticks stops counting. The flow stays, with
 * its decision; an ACK that comes later takes the slot again, and the
 * release of a flow that never got one gives nothing back.
 *
 * Whether a provisional flow is still in its bucket is settled by one
 * compare-and-swap on the bucket's word: whoever takes the flow out of it
 * (its ACK, its release) does so only while the word carries the flow's
 * tick. Once the bucket aged, the slot went back with it. Every provisional
 * slot is thus given back exactly once: by the bucket aging, or by the
 * release of its flow.
 */
#ifndef SW_BPF_HANDSHAKE_H
#define SW_BPF_HANDSHAKE_H

#include "spillway/abi.h"

/* Compare-and-swap attempts on a bucket word (as FLOW_CAS_TRIES). */
#define HANDSHAKE_CAS_TRIES 16

static __always_inline __u32 handshake_tick(__u64 ns)
{
	return (__u32)(ns >> SW_HANDSHAKE_TICK_SHIFT);
}

static __always_inline __u32 bucket_tick(__u64 word)
{
	return (__u32)(word >> 32);
}

static __always_inline __u64 *bucket_of(struct sw_service *svc, __u32 tick)
{
	return &svc->handshakes[tick & 1];
}

/*
 * Move a bucket older than `tick` on to it, empty. Returns the handshakes
 * it still held (0 if it was current, or another CPU moved it first).
 */
static __always_inline __u32 age_bucket(__u64 *b, __u32 tick)
{
#pragma unroll
	for (int i = 0; i < HANDSHAKE_CAS_TRIES; i++) {
		__u64 old = *(volatile __u64 *)b;

		if ((__s32)(bucket_tick(old) - tick) >= 0)
			return 0;
		if (__sync_val_compare_and_swap(b, old, (__u64)tick << 32) == old)
			return (__u32)old;
	}
	/* Releases kept taking flows out of it: the next SYN ages it. */
	return 0;
}

/*
 * Age both buckets as of now: this tick's and the previous tick's are kept.
 * Returns the handshakes whose slots the caller must give back.
 */
static __always_inline __u32 age_handshakes(struct sw_service *svc, __u64 now)
{
	__u32 tick = handshake_tick(now);

	return age_bucket(bucket_of(svc, tick), tick) +
	       age_bucket(bucket_of(svc, tick - 1), tick - 1);
}

/*
 * Add one to the bucket of `tick`, or take one from it, while the bucket is
 * that tick's (and, taking, not empty). False if it is not, or on giving up
 * under contention.
 */
static __always_inline bool bucket_add(__u64 *b, __u32 tick, __s32 delta)
{
#pragma unroll
	for (int i = 0; i < HANDSHAKE_CAS_TRIES; i++) {
		__u64 old = *(volatile __u64 *)b;

		if (bucket_tick(old) != tick || (delta < 0 && !(__u32)old))
			return false;
		if (__sync_val_compare_and_swap(b, old, old + delta) == old)
			return true;
	}
	return false;
}

/*
 * Count a flow admitted locally at `created` in its tick's bucket. False:
 * the bucket is not this tick's (a CPU whose clock is ahead moved it): the
 * slot then counts for good, as an acknowledged one.
 */
static __always_inline bool handshake_begin(struct sw_service *svc,
					    __u64 created)
{
	__u32 tick = handshake_tick(created);

	return bucket_add(bucket_of(svc, tick), tick, 1);
}

/*
 * Take a provisional flow out of its bucket: true if it was still there
 * (its slot still counts), false if the bucket aged first (the slot went
 * back with it). Giving up under contention answers false and leaves the
 * flow in the bucket, which gives its slot back when it ages: the count is
 * high for at most two ticks, never low.
 */
static __always_inline bool handshake_end(struct sw_service *svc,
					  __u64 created)
{
	__u32 tick = handshake_tick(created);

	return bucket_add(bucket_of(svc, tick), tick, -1);
}

#endif /* SW_BPF_HANDSHAKE_H */
