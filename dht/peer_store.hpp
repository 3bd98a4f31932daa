// Peers announced to us, per info-hash, each with an expiry. Memory is bounded: a cap
// of peers per info-hash (the oldest announce makes room) and caps on info-hashes and
// on peers in total (new entries are refused while full), so an announce flood cannot
// grow the store without bound.
#pragma once

#include "dht/base/endpoint.hpp"
#include "dht/base/random.hpp"
#include "dht/base/time.hpp"
#include "dht/node_id.hpp"

#include <chrono>
#include <cstddef>
#include <optional>
#include <unordered_map>
#include <vector>

namespace ovl::dht {

struct peer_store_limits {
    std::size_t max_peers_per_torrent = 500;
    std::size_t max_torrents = 20000;
    std::size_t max_peers = 200000;
    duration peer_lifetime = std::chrono::minutes(30);
};

enum class store_result { stored, refreshed, full };

class peer_store {
public:
    explicit peer_store(peer_store_limits limits = {});

    store_result announce(timestamp now, const node_id& info_hash, const endpoint& peer);
    // Up to `max` live peers of this info-hash, in random order; only those of `family`
    // when given (a get_peers reply carries the querier's family, BEP 32).
    std::vector<endpoint> peers(timestamp now, const node_id& info_hash, std::size_t max, random_source& rng,
                                std::optional<ip_family> family = std::nullopt) const;
    // Drops expired peers and empty torrents.
    void expire(timestamp now);

    std::size_t torrent_count() const { return torrents_.size(); }
    std::size_t peer_count() const { return total_peers_; }
    // Bytes held by stored peers and their index, for the operator and the benchmark.
    std::size_t memory_bytes() const;

private:
    struct stored_peer {
        endpoint ep;
        timestamp expires;
    };

    peer_store_limits limits_;
    std::unordered_map<node_id, std::vector<stored_peer>, node_id_hash> torrents_;
    std::size_t total_peers_ = 0;
};

} // namespace ovl::dht
