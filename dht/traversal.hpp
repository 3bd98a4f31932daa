// One iterative Kademlia lookup (find_node, get_peers or BEP 44 get): keeps the candidates sorted
// by distance to the target, keeps up to alpha queries in flight, and ends when the k
// closest live candidates have all answered. Announcing is a get_peers traversal
// followed by announce_peer to the nodes it ended on (see node.cpp); putting an item is
// a get traversal followed by put (see node_items.cpp).
//
// A node that has not answered after `slow_after` stops holding one of the alpha slots,
// so a lookup walks past dead nodes at that pace instead of the full query timeout (the
// tables of a real DHT hold many); its answer still counts if it comes. Once nothing but
// such slow queries is outstanding and some node has answered, the lookup ends.
//
// A dual-stack lookup runs over both families at once (BEP 32): IPv4 and IPv6 nodes form
// two separate DHTs that share the id space, so the lookup keeps one candidate list but
// counts alpha and k per family, ends when the k closest of each family have answered,
// and asks every node for both families' nodes ("want").
#pragma once

#include "dht/base/endpoint.hpp"
#include "dht/base/time.hpp"
#include "dht/messages.hpp"
#include "dht/mutable_item.hpp"
#include "dht/node_id.hpp"
#include "dht/query_sender.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

namespace ovl::dht {

struct lookup_result {
    node_id target;
    // Nodes that answered, closest first (at most k per family); `tokens` runs parallel to it.
    std::vector<contact> closest;
    std::vector<std::string> tokens;
    // get_peers: peers found, without duplicates.
    std::vector<endpoint> peers;
    // get_item: the validly signed item with the highest seq that any node returned.
    std::optional<mutable_item> item;
    int queries = 0;
    int responses = 0;
    int timeouts = 0;
    // Hops to the closest node that answered (1 = it was in our own table).
    int hops = 0;
    duration elapsed{};
};

using lookup_callback = std::function<void(timestamp now, const lookup_result&)>;

struct traversal_config {
    std::size_t k = 8;
    std::size_t alpha = 3;
    std::size_t max_candidates = 100;
    std::size_t max_peers = 1000;
    duration slow_after = std::chrono::seconds(1);
};

class traversal : public std::enable_shared_from_this<traversal> {
public:
    enum class kind { find_node, get_peers, get_item };

    // `families`: the families this lookup may send to; candidates of others are dropped.
    traversal(query_sender& sender, kind k, const node_id& target, traversal_config config,
              address_families families, lookup_callback done);

    // Candidates we know by id (from our routing table), and bare endpoints (bootstrap
    // nodes) whose id we learn when they answer.
    void add_seed(const contact& c);
    void add_bootstrap(const endpoint& ep);
    // get_item: the item's key and salt (the target must be item_target(key, salt)), and
    // the seq we already hold, if any, so that nodes need not send a value we have.
    void expect_item(const public_key& key, std::string salt, std::optional<std::int64_t> seq);
    void start(timestamp now);

private:
    enum class state { fresh, in_flight, slow, answered, failed };
    struct candidate {
        std::optional<node_id> id;
        endpoint ep;
        state st = state::fresh;
        int hop = 1;
        std::string token;
    };

    void add_candidate(const std::optional<node_id>& id, const endpoint& ep, int hop);
    // Nodes and peers a reply named: a node on another host never makes us send to loopback.
    static bool may_follow(const endpoint& reporter, const endpoint& named);
    void step(timestamp now);
    void on_outcome(timestamp now, const endpoint& ep, const krpc::query_outcome& outcome);
    candidate* find(const endpoint& ep);
    void finish(timestamp now);
    void consider_item(const bencode::dict& body);

    query_sender& sender_;
    kind kind_;
    node_id target_;
    traversal_config config_;
    address_families families_;
    lookup_callback done_;
    std::vector<candidate> candidates_;
    std::unordered_set<endpoint, endpoint_hash> seen_;
    std::unordered_set<endpoint, endpoint_hash> peers_seen_;
    lookup_result result_;
    public_key item_key_{};
    std::string item_salt_;
    std::optional<std::int64_t> item_seq_;
    timestamp started_{};
    // Per family, indexed by ip_family.
    std::size_t in_flight_[2] = {0, 0};
    // Queries past slow_after, still waiting for their final outcome.
    std::size_t slow_ = 0;
    bool finished_ = false;
};

} // namespace ovl::dht
