// A mainline DHT node (BEP 5) as a sans-I/O core: datagrams and time in, datagrams
// and the next deadline out. It answers ping/find_node/get_peers/announce_peer, keeps
// one routing table per address family fresh (BEP 32: the IPv4 and IPv6 DHTs are
// separate overlays sharing one id), runs lookups, stores and fetches BEP 44 mutable items (get/put,
// see node_items.cpp), and lets other modules (introducer, overlay)
// add their own query methods and response keys without editing this file.
#pragma once

#include "dht/base/datagram.hpp"
#include "dht/base/log.hpp"
#include "dht/base/random.hpp"
#include "dht/bencode/decode.hpp"
#include "dht/krpc/codec.hpp"
#include "dht/item_store.hpp"
#include "dht/krpc/message.hpp"
#include "dht/krpc/rpc_manager.hpp"
#include "dht/messages.hpp"
#include "dht/mutable_item.hpp"
#include "dht/node_config.hpp"
#include "dht/node_stats.hpp"
#include "dht/peer_store.hpp"
#include "dht/query_sender.hpp"
#include "dht/routing_table.hpp"
#include "dht/token_manager.hpp"
#include "dht/traversal.hpp"

#include <deque>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>

namespace ovl::dht {

// What an extension's query handler answers.
struct query_reply {
    // `answered`: the handler queued its answer itself, already encoded (send_encoded).
    enum class action { respond, error, ignore, answered };
    action act = action::respond;
    bencode::dict values;
    int error_code = 0;
    std::string error_message;

    static query_reply respond(bencode::dict values) { return {action::respond, std::move(values), 0, {}}; }
    static query_reply error(int code, std::string text) { return {action::error, {}, code, std::move(text)}; }
    static query_reply ignore() { return {action::ignore, {}, 0, {}}; }
    static query_reply answered() { return {action::answered, {}, 0, {}}; }
};

using query_handler = std::function<query_reply(timestamp now, const endpoint& from, const krpc::message& query)>;
// A query method answered from the flat parse of the datagram, with no tree: the handler
// answers (send_reply, send_encoded) and returns true, or returns false, having sent and
// changed nothing, to leave the query to the method's query_handler. Only a well-formed
// query reaches it: a transaction id of at most krpc::max_transaction_id bytes, "a" a
// dictionary with a 20-byte "id".
using flat_query_handler = std::function<bool(timestamp now, const endpoint& from, const bencode::flat_reader& query,
                                              std::string_view transaction_id)>;
// Runs after a query was answered and may add keys to the response.
using response_hook =
    std::function<void(timestamp now, const endpoint& from, const krpc::message& query, bencode::dict& response)>;
// A node that answered us reported the address it saw us at (BEP 42 "ip").
using observed_address_listener =
    std::function<void(timestamp now, const endpoint& reporter, const node_id& reporter_id, const endpoint& observed)>;

struct announce_result {
    lookup_result lookup;
    // How many of the closest nodes acknowledged the announce.
    int stored_at = 0;
};
using announce_callback = std::function<void(timestamp now, const announce_result&)>;
// get_item: the newest validly signed item found (nullopt when none), and the lookup.
using item_callback =
    std::function<void(timestamp now, const std::optional<mutable_item>& item, const lookup_result& lookup)>;
struct put_item_result {
    lookup_result lookup;
    // Nodes that stored the item, and nodes that answered with an error (usually 302:
    // they hold a newer seq).
    int stored_at = 0;
    int refused = 0;
    // Not `ok` when the item was refused before any query went out (too big, bad signature).
    put_status status = put_status::ok;
};
using put_item_callback = std::function<void(timestamp now, const put_item_result&)>;
using ping_callback = std::function<void(timestamp now, std::optional<node_id> id, duration round_trip)>;

class node final : public datagram_core, private query_sender {
public:
    node(node_config config, random_source rng, logger_ptr log, timestamp now);

    // datagram_core
    void on_datagram(timestamp now, const endpoint& from, bytes_view payload) override;
    std::optional<outgoing_datagram> poll_transmit() override;
    std::optional<timestamp> next_deadline() const override;
    void on_timeout(timestamp now) override;

    // For transports that decode KRPC themselves (the libtorrent plugin).
    void on_message(timestamp now, const endpoint& from, const krpc::message& msg);

    // Joins the network: looks up our own id through the bootstrap nodes and the saved
    // nodes, then fills farther buckets. `done` reports how many nodes we know.
    void bootstrap(timestamp now, std::function<void(timestamp, std::size_t)> done = {});
    void find_node(timestamp now, const node_id& target, lookup_callback done);
    // The same over some of our families only (a dual-stack overlay peer's introducers are
    // of one family: waiting for the other's lookup, or its timeouts, gains nothing).
    void find_node(timestamp now, const node_id& target, lookup_callback done, address_families only);
    void get_peers(timestamp now, const node_id& info_hash, lookup_callback done);
    // Announces `port` (or, with implied_port, the UDP source port) for `info_hash`.
    void announce(timestamp now, const node_id& info_hash, std::uint16_t port, bool implied_port,
                  announce_callback done);
    void ping(timestamp now, const endpoint& to, ping_callback done);
    // BEP 44: fetches the newest item of `key` under `salt` from the nodes closest to its target.
    void get_item(timestamp now, const public_key& key, std::string_view salt, item_callback done);
    // BEP 44: signs `v` with `signer` (which must sign for `key`) and puts it, with `seq`,
    // on the closest nodes that gave us a write token.
    void put_item(timestamp now, const public_key& key, std::string_view salt, std::int64_t seq,
                  const bencode::value& v, const item_signer& signer, put_item_callback done);

    // Extension points.
    void register_query(const std::string& method, query_handler handler);
    // A fast path for a method that also has a query_handler; unused while the method has
    // response hooks.
    void register_flat_query(const std::string& method, flat_query_handler handler);
    void add_response_hook(const std::string& method, response_hook hook);
    void set_observed_address_listener(observed_address_listener listener);
    bool send_query(timestamp now, const endpoint& to, const std::string& method, bencode::dict args,
                    krpc::reply_handler handler, std::optional<node_id> expected = std::nullopt,
                    duration slow_after = {}) override;
    // A query whose answer nobody waits for (a notice): no transaction is tracked, so a
    // busy introducer's notices cannot exhaust the outstanding-query table.
    void send_notice(const endpoint& to, const std::string& method, bencode::dict args);
    // For handlers that encode their own datagrams: a notice's transaction id (what
    // send_notice draws), and a buffer in the outbox to write a datagram to `to` into
    // (nullptr, counted as dropped, when the outbox is full).
    std::string notice_transaction_id();
    bytes* send_encoded(const endpoint& to);
    // Answers a query as the general path does: a response gets our "id", and both
    // responses and errors the requester's observed address.
    void send_reply(const endpoint& to, std::string_view transaction_id, query_reply reply);
    // The client version ("v") our messages carry; empty for none.
    const std::string& version() const { return config_.version; }

    // BEP 43: a node behind a NAT or firewall stops inviting others to add it.
    void set_read_only(bool read_only) { config_.read_only = read_only; }
    bool read_only() const { return config_.read_only; }
    const node_id& id() const { return config_.id; }
    const node_id& self_id() const override { return config_.id; }
    // The IPv4 routing table, and the IPv6 one.
    const routing_table& table() const { return table_; }
    const routing_table& table6() const { return table6_; }
    const routing_table& table(ip_family family) const { return family == ip_family::v6 ? table6_ : table_; }
    const peer_store& storage() const { return storage_; }
    const item_store& items() const { return items_; }
    const node_stats& stats() const { return stats_; }
    random_source& rng() { return rng_; }
    // The nodes worth saving across a restart.
    std::vector<contact> export_nodes() const;

private:
    // Answers a simple query without building a tree; false when the general path must
    // answer it instead (a response hook wants to see it).
    bool answer_simple(timestamp now, const endpoint& from, const krpc::simple_query& query);
    // Gives a query to its method's flat_query_handler; false when there is none or it
    // declines.
    bool answer_flat(timestamp now, const endpoint& from, const krpc::query_header& query);
    void handle_query(timestamp now, const endpoint& from, const krpc::message& query);
    query_reply answer_builtin(timestamp now, const endpoint& from, const krpc::message& query, bool& handled);
    void consider_querier(timestamp now, const endpoint& from, const node_id& id);
    void queue(const endpoint& to, const krpc::message& msg);
    routing_table& table_for(ip_family family) { return family == ip_family::v6 ? table6_ : table_; }
    // Adds "nodes" and/or "nodes6" (BEP 32) for `target` to a reply.
    void add_closest_nodes(const node_id& target, address_families families, bencode::dict& reply) const;
    // Appends the compact node infos of the closest nodes of `family` to `out`.
    void write_closest_nodes(const node_id& target, ip_family family, std::string& out) const;
    void maintain(timestamp now);
    std::shared_ptr<traversal> make_lookup(traversal::kind kind, const node_id& target, lookup_callback done,
                                           bool use_bootstrap, address_families families);
    void start_lookup(timestamp now, traversal::kind kind, const node_id& target, lookup_callback done,
                      bool use_bootstrap, address_families families);
    query_reply answer_get(timestamp now, const endpoint& from, const krpc::message& query);
    query_reply answer_put(timestamp now, const endpoint& from, const krpc::message& query);

    node_config config_;
    random_source rng_;
    logger_ptr log_;
    routing_table table_;
    routing_table table6_;
    peer_store storage_;
    item_store items_;
    token_manager tokens_;
    krpc::rpc_manager rpc_;
    ip_rate_limiter limiter_;
    // Reused for every datagram, so parsing and answering allocate nothing once warm.
    bencode::flat_reader reader_;
    mutable std::vector<const node_entry*> closest_scratch_;
    std::string nodes_scratch_;
    std::string nodes6_scratch_;
    std::deque<outgoing_datagram> outbox_;
    std::unordered_map<std::string, query_handler> extensions_;
    // Few (one per fast method): a scan beats hashing the method name.
    std::vector<std::pair<std::string, flat_query_handler>> flat_extensions_;
    std::unordered_map<std::string, std::vector<response_hook>> hooks_;
    observed_address_listener observed_listener_;
    // Unknown nodes we pinged after they queried us, so a flood of queries does not
    // become a flood of pings.
    std::unordered_map<endpoint, timestamp, endpoint_hash> recently_pinged_;
    timestamp next_maintenance_;
    timestamp next_storage_expiry_;
    node_stats stats_;
};

} // namespace ovl::dht
