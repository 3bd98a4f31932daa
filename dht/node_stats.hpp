// Counters a node keeps for operators and tests. Plain numbers, no addresses.
#pragma once

#include <cstdint>

namespace ovl::dht {

struct node_stats {
    std::uint64_t datagrams_in = 0;
    std::uint64_t datagrams_out = 0;
    std::uint64_t dropped_malformed = 0;
    std::uint64_t dropped_unmatched = 0;
    std::uint64_t dropped_outbox_full = 0;
    // Over the per-IP limit (node_config::per_ip).
    std::uint64_t dropped_rate_limited = 0;
    std::uint64_t queries_ping = 0;
    std::uint64_t queries_find_node = 0;
    std::uint64_t queries_get_peers = 0;
    std::uint64_t queries_announce = 0;
    std::uint64_t queries_extension = 0;
    // Of those, answered from the flat parse (register_flat_query), with no tree.
    std::uint64_t queries_extension_flat = 0;
    std::uint64_t queries_unknown = 0;
    std::uint64_t errors_sent = 0;
    std::uint64_t announces_rejected_token = 0;
    std::uint64_t lookups_started = 0;
};

} // namespace ovl::dht
