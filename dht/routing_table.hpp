// The Kademlia routing table of BEP 5: buckets of k nodes indexed by how many leading
// bits a node shares with our id. Only the bucket that holds our own id splits, so the
// table knows many nodes near us and a few far away. Each bucket keeps a replacement
// cache of nodes to promote when a member goes bad.
#pragma once

#include "dht/base/endpoint.hpp"
#include "dht/base/time.hpp"
#include "dht/node_id.hpp"

#include <chrono>
#include <cstddef>
#include <optional>
#include <unordered_map>
#include <vector>

namespace ovl::dht {

struct node_entry {
    node_id id;
    endpoint ep;
    timestamp last_seen{};
    // Consecutive queries that got no answer; reset by any reply.
    int failed_queries = 0;
    duration round_trip{};
    // When it first answered us: a node up for long is likely to stay up (Kademlia §2.2).
    timestamp first_seen{};
};

struct routing_table_config {
    std::size_t bucket_size = 8;
    // BEP 5: a node is good while it replied within this long, questionable after.
    duration questionable_after = std::chrono::minutes(15);
    // A node that missed this many queries in a row is bad and is replaced.
    int bad_after_failures = 2;
    // At most one entry per IPv4 address and per IPv6 /64, so that one host cannot fill
    // the table with ids of its choosing (what libtorrent calls restrict_routing_ips).
    bool one_node_per_ip = true;
    // Only ids that obey BEP 42 for the node's address (IPv4 or IPv6) get a slot. Off by
    // default, as in libtorrent (enforce_node_id): many mainline nodes still pick random ids.
    bool require_bep42_ids = false;
};

enum class insert_result {
    added,      // now in a bucket
    updated,    // was in a bucket; liveness refreshed
    cached,     // bucket full: kept in the replacement cache
    rejected,   // our own id, a conflicting entry for this IP, or (if required) no BEP 42 id
};

class routing_table {
public:
    routing_table(const node_id& self, routing_table_config config = {});

    const node_id& self() const { return self_; }

    // A node answered one of our queries (so its endpoint is verified).
    insert_result on_reply(timestamp now, const node_id& id, const endpoint& ep, duration round_trip);
    // A query to this node went unanswered.
    void on_failure(const node_id& id, const endpoint& ep);
    // Would a node with this id get a slot if it answered? (Used to decide whether an
    // unknown node that queried us is worth a ping.)
    bool has_room_for(timestamp now, const node_id& id) const;

    // Up to `count` known nodes closest to `target`, closest first; bad nodes excluded.
    std::vector<node_entry> closest(const node_id& target, std::size_t count) const;
    // The same as pointers into the table (valid until it next changes), written to a
    // buffer the caller reuses, so that answering a query allocates nothing.
    void closest(const node_id& target, std::size_t count, std::vector<const node_entry*>& out) const;
    const node_entry* find(const node_id& id) const;

    // Questionable members that should be pinged, oldest first (at most `max`).
    std::vector<node_entry> questionable(timestamp now, std::size_t max) const;
    // Buckets not touched for `idle`: one random target inside each, to look up.
    std::vector<node_id> refresh_targets(timestamp now, duration idle, random_source& rng);

    std::size_t size() const;
    std::size_t bucket_count() const { return buckets_.size(); }
    std::vector<node_entry> all_nodes() const;

private:
    struct bucket {
        std::vector<node_entry> live;
        std::vector<node_entry> replacements;
        timestamp last_changed{};
    };

    std::size_t bucket_index(const node_id& id) const;
    bool is_bad(const node_entry& e) const { return e.failed_queries >= config_.bad_after_failures; }
    bool is_questionable(timestamp now, const node_entry& e) const {
        return now - e.last_seen >= config_.questionable_after;
    }
    void split_last_bucket();
    bool ip_taken_by_other(const node_id& id, const endpoint& ep) const;
    void add_live(bucket& b, node_entry e);
    void remove_live(bucket& b, std::size_t index);

    node_id self_;
    routing_table_config config_;
    std::vector<bucket> buckets_;
    // Which id holds each IPv4 address or IPv6 /64 (ip_address::host_block), for one_node_per_ip.
    std::unordered_map<ip_address, node_id, ip_address_hash> ip_owner_;
};

} // namespace ovl::dht
