// A per-IP limit on the datagrams a node takes in: a token bucket per source address (per
// /64 for IPv6, where one host holds the whole prefix), so that no single address (nor a
// victim whose address a flood is spoofed from) gets more than `per_second` answers a
// second after a first `burst`. Addresses share a fixed table
// of slots indexed by a keyed hash: no allocation per packet and bounded memory. A new
// address takes over its slot with a full bucket, so a flood from many addresses can only
// make limits looser for whoever it evicts, never stricter; the secret key keeps anyone
// from aiming evictions at a chosen address.
#pragma once

#include "dht/base/endpoint.hpp"
#include "dht/base/random.hpp"
#include "dht/base/time.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ovl::dht {

struct ip_rate_limit {
    // Sustained datagrams per second from one address, and the burst allowed on top.
    // libtorrent allows 5/s per address (and then blocks it for minutes); many peers
    // behind one address (carrier-grade NAT) need more, and 100/s still caps what anyone
    // can reflect off this node at one address to ~33 KB/s of replies. The sustained
    // rate is the protection; the burst (refilled in 50 s) only absorbs short spikes.
    double per_second = 100;
    double burst = 5000;
    // Addresses tracked at once (power of two); beyond that, addresses share slots.
    std::size_t slots = 16384;
};

class ip_rate_limiter {
public:
    ip_rate_limiter(const ip_rate_limit& limit, random_source& rng);

    // Takes one token from the bucket of `address` (of its /64 for IPv6); false when it is
    // empty (drop the datagram).
    bool allow(timestamp now, const ip_address& address);

private:
    // 32 bytes, so a lookup touches one cache line: the table is too big for the
    // cache, and under load every datagram looks up a different slot.
    struct alignas(32) slot {
        ip_address address;
        bool used = false;
        float tokens = 0;
        timestamp refilled{};
    };
    static_assert(sizeof(slot) == 32);

    ip_rate_limit limit_;
    std::array<std::uint8_t, 16> key_{};
    std::vector<slot> slots_;
};

} // namespace ovl::dht
