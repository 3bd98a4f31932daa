#include "dht/node.hpp"

#include "dht/krpc/codec.hpp"

#include <algorithm>

namespace ovl::dht {

namespace {
constexpr std::size_t nodes_per_reply = 8;
constexpr std::size_t max_recent_pings = 4096;
constexpr std::size_t questionable_pings_per_round = 3;
constexpr auto storage_expiry_interval = std::chrono::minutes(1);
constexpr auto querier_ping_backoff = std::chrono::minutes(5);
} // namespace

node::node(node_config config, random_source rng, logger_ptr log, timestamp now)
    : config_(std::move(config)),
      rng_(std::move(rng)),
      log_(std::move(log)),
      table_((config_.id == node_id{} ? config_.id = node_id::random(rng_) : config_.id), config_.table),
      table6_(config_.id, config_.table),
      storage_(config_.storage),
      items_(config_.items),
      tokens_(rng_, now),
      rpc_(rng_),
      limiter_(config_.per_ip, rng_),
      next_maintenance_(now + config_.maintenance_interval),
      next_storage_expiry_(now + storage_expiry_interval) {
    register_query(method::get, [this](timestamp t, const endpoint& from, const krpc::message& q) {
        return answer_get(t, from, q);
    });
    register_query(method::put, [this](timestamp t, const endpoint& from, const krpc::message& q) {
        return answer_put(t, from, q);
    });
}

void node::on_datagram(timestamp now, const endpoint& from, bytes_view payload) {
    ++stats_.datagrams_in;
    if (!limiter_.allow(now, from.address)) {
        ++stats_.dropped_rate_limited;
        return;
    }
    std::string why;
    if (!reader_.parse(payload, &why)) {
        ++stats_.dropped_malformed;
        log_->debug("dropped datagram from {}: not bencode: {}", from.to_string(), why);
        return;
    }
    if (const auto header = krpc::read_query_header(reader_)) {
        if (auto simple = krpc::read_simple_query(reader_, *header); simple && answer_simple(now, from, *simple)) return;
        if (!flat_extensions_.empty() && answer_flat(now, from, *header)) return;
    }
    auto decoded = krpc::decode(reader_);
    if (auto* failure = std::get_if<krpc::decode_failure>(&decoded)) {
        ++stats_.dropped_malformed;
        log_->debug("dropped datagram from {}: {}", from.to_string(), failure->reason);
        if (failure->error_reply) {
            ++stats_.errors_sent;
            queue(from, *failure->error_reply);
        }
        return;
    }
    on_message(now, from, std::get<krpc::message>(decoded));
}

void node::on_message(timestamp now, const endpoint& from, const krpc::message& msg) {
    if (msg.kind == krpc::message_kind::query) {
        handle_query(now, from, msg);
        return;
    }
    if (!rpc_.on_reply(now, from, msg)) {
        ++stats_.dropped_unmatched;
        log_->trace("unmatched reply from {}", from.to_string());
    }
}

bool node::answer_simple(timestamp now, const endpoint& from, const krpc::simple_query& query) {
    if (!hooks_.empty() && hooks_.contains(std::string(query.method))) return false;
    const auto sender = node_id::from_bytes(query.sender_id);
    if (!sender) return false;
    krpc::simple_response r;
    r.transaction_id = query.transaction_id;
    r.observed = from;
    r.id = std::string_view(reinterpret_cast<const char*>(config_.id.bytes().data()), node_id::size);
    r.version = config_.version;
    std::string token;
    std::vector<endpoint> peers;
    if (query.method == method::ping) {
        ++stats_.queries_ping;
    } else {
        const auto target = *node_id::from_bytes(query.target);
        const auto families = reply_families(from.address, query.want_n4, query.want_n6);
        if (families.v4) {
            nodes_scratch_.clear();
            write_closest_nodes(target, ip_family::v4, nodes_scratch_);
            r.nodes = nodes_scratch_;
        }
        if (families.v6) {
            nodes6_scratch_.clear();
            write_closest_nodes(target, ip_family::v6, nodes6_scratch_);
            r.nodes6 = nodes6_scratch_;
        }
        if (query.method == method::find_node) {
            ++stats_.queries_find_node;
        } else {
            ++stats_.queries_get_peers;
            token = tokens_.issue(now, from.address, target);
            r.token = token;
            peers = storage_.peers(now, target, config_.max_values_per_reply, rng_, from.address.family());
            r.values = peers;
        }
    }
    if (outbox_.size() >= config_.max_outbox) {
        ++stats_.dropped_outbox_full;
    } else {
        outbox_.push_back({from, {}});
        krpc::encode_simple_response(r, outbox_.back().payload);
    }
    if (!query.read_only && !config_.read_only) consider_querier(now, from, *sender);
    return true;
}

bool node::answer_flat(timestamp now, const endpoint& from, const krpc::query_header& query) {
    const auto handler = std::find_if(flat_extensions_.begin(), flat_extensions_.end(),
                                      [&](const auto& e) { return e.first == query.method; });
    if (handler == flat_extensions_.end() || (!hooks_.empty() && hooks_.contains(handler->first))) return false;
    if (!handler->second(now, from, reader_, query.transaction_id)) return false;
    ++stats_.queries_extension;
    ++stats_.queries_extension_flat;
    if (!query.read_only && !config_.read_only) consider_querier(now, from, *node_id::from_bytes(query.sender_id));
    return true;
}

void node::handle_query(timestamp now, const endpoint& from, const krpc::message& query) {
    auto sender = sender_id(query.body);
    if (!sender) {
        ++stats_.errors_sent;
        queue(from, krpc::message::error(query.transaction_id, krpc::protocol_error, "missing or malformed id"));
        return;
    }
    bool handled = false;
    query_reply reply = answer_builtin(now, from, query, handled);
    if (!handled) {
        if (auto it = extensions_.find(query.method); it != extensions_.end()) {
            ++stats_.queries_extension;
            reply = it->second(now, from, query);
        } else {
            ++stats_.queries_unknown;
            reply = query_reply::error(krpc::method_unknown, "method unknown");
        }
    }
    switch (reply.act) {
    case query_reply::action::ignore:
        return;
    case query_reply::action::error:
        send_reply(from, query.transaction_id, std::move(reply));
        return;
    case query_reply::action::respond:
        if (auto it = hooks_.find(query.method); it != hooks_.end())
            for (auto& hook : it->second) hook(now, from, query, reply.values);
        send_reply(from, query.transaction_id, std::move(reply));
        break;
    case query_reply::action::answered:
        break;
    }
    if (!query.read_only && !config_.read_only) consider_querier(now, from, *sender);
}

void node::send_reply(const endpoint& to, std::string_view transaction_id, query_reply reply) {
    switch (reply.act) {
    case query_reply::action::ignore:
    case query_reply::action::answered:
        return;
    case query_reply::action::error: {
        ++stats_.errors_sent;
        auto err = krpc::message::error(std::string(transaction_id), reply.error_code, std::move(reply.error_message));
        err.observed = to;
        queue(to, err);
        return;
    }
    case query_reply::action::respond:
        break;
    }
    reply.values.insert_or_assign("id", config_.id.to_bytes());
    auto response = krpc::message::response(std::string(transaction_id), std::move(reply.values));
    response.observed = to;
    queue(to, response);
}

query_reply node::answer_builtin(timestamp now, const endpoint& from, const krpc::message& query, bool& handled) {
    handled = true;
    const auto& a = query.body;
    if (query.method == method::ping) {
        ++stats_.queries_ping;
        return query_reply::respond({});
    }
    if (query.method == method::find_node) {
        ++stats_.queries_find_node;
        auto target = read_id(a, "target");
        if (!target) return query_reply::error(krpc::protocol_error, "missing or malformed target");
        bencode::dict r;
        add_closest_nodes(*target, read_want(a, from.address), r);
        return query_reply::respond(std::move(r));
    }
    if (query.method == method::get_peers) {
        ++stats_.queries_get_peers;
        auto info_hash = read_id(a, "info_hash");
        if (!info_hash) return query_reply::error(krpc::protocol_error, "missing or malformed info_hash");
        bencode::dict r{{"token", tokens_.issue(now, from.address, *info_hash)}};
        add_closest_nodes(*info_hash, read_want(a, from.address), r);
        auto peers = storage_.peers(now, *info_hash, config_.max_values_per_reply, rng_, from.address.family());
        if (!peers.empty()) r.emplace("values", encode_values(peers));
        return query_reply::respond(std::move(r));
    }
    if (query.method == method::announce_peer) {
        ++stats_.queries_announce;
        auto info_hash = read_id(a, "info_hash");
        const auto* token = bencode::find_string(a, "token");
        const auto* port = bencode::find_int(a, "port");
        const auto* implied = bencode::find_int(a, "implied_port");
        const bool use_source_port = implied && *implied != 0;
        if (!info_hash || !token) return query_reply::error(krpc::protocol_error, "missing info_hash or token");
        if (!use_source_port && (!port || *port <= 0 || *port > 65535))
            return query_reply::error(krpc::protocol_error, "missing or invalid port");
        if (!tokens_.accepts(now, from.address, *info_hash, *token)) {
            ++stats_.announces_rejected_token;
            return query_reply::error(krpc::protocol_error, "bad token");
        }
        endpoint peer{from.address, use_source_port ? from.port : static_cast<std::uint16_t>(*port)};
        if (storage_.announce(now, *info_hash, peer) == store_result::full)
            log_->debug("peer store full; announce for {} not stored", info_hash->to_hex());
        return query_reply::respond({});
    }
    handled = false;
    return {};
}

void node::add_closest_nodes(const node_id& target, address_families families, bencode::dict& reply) const {
    for (auto [family, key] : {std::pair{ip_family::v4, "nodes"}, std::pair{ip_family::v6, "nodes6"}}) {
        if (!families.has(family)) continue;
        std::string out;
        write_closest_nodes(target, family, out);
        reply.insert_or_assign(key, std::move(out));
    }
}

void node::write_closest_nodes(const node_id& target, ip_family family, std::string& out) const {
    // What encode_nodes() / encode_nodes6() make of the entries, written in place.
    table(family).closest(target, nodes_per_reply, closest_scratch_);
    for (const auto* e : closest_scratch_) {
        if (e->ep.address.family() != family) continue;
        out.append(reinterpret_cast<const char*>(e->id.bytes().data()), node_id::size);
        out.append(reinterpret_cast<const char*>(e->ep.address.data()), e->ep.address.size());
        out.push_back(static_cast<char>(e->ep.port >> 8));
        out.push_back(static_cast<char>(e->ep.port & 0xff));
    }
}

void node::consider_querier(timestamp now, const endpoint& from, const node_id& id) {
    // Nodes enter the table only by answering us, which proves they own the endpoint.
    const auto& table = table_for(from.address.family());
    if (table.find(id) || !table.has_room_for(now, id)) return;
    auto [it, inserted] = recently_pinged_.try_emplace(from, now);
    if (!inserted) {
        if (now - it->second < querier_ping_backoff) return;
        it->second = now;
    }
    if (recently_pinged_.size() > max_recent_pings) {
        std::erase_if(recently_pinged_, [&](const auto& e) { return now - e.second >= querier_ping_backoff; });
        if (recently_pinged_.size() > max_recent_pings) return;
    }
    send_query(now, from, method::ping, ping_args(config_.id), [](timestamp, const krpc::query_outcome&) {}, id);
}

bool node::send_query(timestamp now, const endpoint& to, const std::string& method, bencode::dict args,
                      krpc::reply_handler handler, std::optional<node_id> expected, duration slow_after) {
    if (outbox_.size() >= config_.max_outbox) {
        ++stats_.dropped_outbox_full;
        return false;
    }
    auto wrapped = [this, expected, handler = std::move(handler)](timestamp t, const krpc::query_outcome& outcome) {
        if (outcome.status == krpc::query_status::response) {
            if (auto id = sender_id(outcome.reply->body)) {
                table_for(outcome.remote.address.family()).on_reply(t, *id, outcome.remote, outcome.round_trip);
                if (outcome.reply->observed && observed_listener_)
                    observed_listener_(t, outcome.remote, *id, *outcome.reply->observed);
            }
        } else if (outcome.status == krpc::query_status::timeout && expected) {
            table_for(outcome.remote.address.family()).on_failure(*expected, outcome.remote);
        }
        handler(t, outcome);
    };
    auto tid = rpc_.begin(now, to, config_.query_timeout, std::move(wrapped), slow_after);
    if (!tid) return false;
    auto query = krpc::message::query(std::move(*tid), method, std::move(args));
    query.read_only = config_.read_only;
    queue(to, query);
    return true;
}

void node::send_notice(const endpoint& to, const std::string& method, bencode::dict args) {
    auto query = krpc::message::query(notice_transaction_id(), method, std::move(args));
    query.read_only = config_.read_only;
    queue(to, query);
}

std::string node::notice_transaction_id() {
    std::string tid(2, '\0');
    rng_.fill({reinterpret_cast<std::uint8_t*>(tid.data()), tid.size()});
    return tid;
}

bytes* node::send_encoded(const endpoint& to) {
    if (outbox_.size() >= config_.max_outbox) {
        ++stats_.dropped_outbox_full;
        return nullptr;
    }
    return &outbox_.emplace_back(outgoing_datagram{to, {}}).payload;
}

void node::queue(const endpoint& to, const krpc::message& msg) {
    if (outbox_.size() >= config_.max_outbox) {
        ++stats_.dropped_outbox_full;
        return;
    }
    auto copy = msg;
    copy.version = config_.version;
    outbox_.push_back({to, krpc::encode(copy)});
}

std::optional<outgoing_datagram> node::poll_transmit() {
    if (outbox_.empty()) return std::nullopt;
    auto d = std::move(outbox_.front());
    outbox_.pop_front();
    ++stats_.datagrams_out;
    return d;
}

std::optional<timestamp> node::next_deadline() const {
    timestamp next = std::min(next_maintenance_, next_storage_expiry_);
    if (auto rpc = rpc_.next_deadline()) next = std::min(next, *rpc);
    return next;
}

void node::on_timeout(timestamp now) {
    rpc_.on_timeout(now);
    if (now >= next_maintenance_) {
        next_maintenance_ = now + config_.maintenance_interval;
        maintain(now);
    }
    if (now >= next_storage_expiry_) {
        next_storage_expiry_ = now + storage_expiry_interval;
        storage_.expire(now);
        items_.expire(now);
    }
}

void node::maintain(timestamp now) {
    if (table_.size() + table6_.size() == 0) {
        const bool can_rejoin = !config_.bootstrap.empty() || !config_.saved_nodes.empty();
        if (can_rejoin && rpc_.outstanding() == 0) bootstrap(now);
        return;
    }
    for (auto family : {ip_family::v4, ip_family::v6}) {
        auto& table = table_for(family);
        if (table.size() == 0 && !config_.families.has(family)) continue;
        for (const auto& e : table.questionable(now, questionable_pings_per_round))
            send_query(now, e.ep, method::ping, ping_args(config_.id), [](timestamp, const krpc::query_outcome&) {},
                       e.id);
        // An empty table is refilled through every family we have: a dual-stack node may
        // know only IPv4 nodes, which can still name IPv6 ones ("want").
        const auto over = table.size() == 0 ? config_.families : address_families::of(family);
        for (const auto& target : table.refresh_targets(now, config_.bucket_refresh_after, rng_))
            start_lookup(now, traversal::kind::find_node, target, {}, false, over);
    }
}

std::shared_ptr<traversal> node::make_lookup(traversal::kind kind, const node_id& target, lookup_callback done,
                                             bool use_bootstrap, address_families families) {
    ++stats_.lookups_started;
    auto t = std::make_shared<traversal>(static_cast<query_sender&>(*this), kind, target, config_.lookup, families,
                                         std::move(done));
    std::size_t known = 0;
    for (auto family : {ip_family::v4, ip_family::v6}) {
        if (!families.has(family)) continue;
        const auto& table = table_for(family);
        known += table.size();
        for (const auto& e : table.closest(target, config_.lookup.max_candidates / 2)) t->add_seed({e.id, e.ep});
    }
    if (use_bootstrap || known < config_.lookup.k) {
        for (const auto& c : config_.saved_nodes) t->add_seed(c);
        for (const auto& ep : config_.bootstrap) t->add_bootstrap(ep);
    }
    return t;
}

void node::start_lookup(timestamp now, traversal::kind kind, const node_id& target, lookup_callback done,
                        bool use_bootstrap, address_families families) {
    make_lookup(kind, target, std::move(done), use_bootstrap, families)->start(now);
}

void node::bootstrap(timestamp now, std::function<void(timestamp, std::size_t)> done) {
    log_->info("bootstrapping node {} through {} bootstrap and {} saved nodes", config_.id.to_hex(),
               config_.bootstrap.size(), config_.saved_nodes.size());
    start_lookup(
        now, traversal::kind::find_node, config_.id,
        [this, done = std::move(done)](timestamp t, const lookup_result& r) {
            // Fill the farther buckets too: one lookup per bucket we already have, per family.
            for (auto family : {ip_family::v4, ip_family::v6}) {
                if (!config_.families.has(family)) continue;
                const auto buckets = static_cast<int>(table_for(family).bucket_count());
                for (int i = 0; i + 1 < buckets; ++i)
                    start_lookup(t, traversal::kind::find_node, node_id::random_in_bucket(config_.id, i, rng_), {},
                                 false, address_families::of(family));
            }
            log_->info("bootstrap lookup done: {} answered, routing tables hold {} IPv4 and {} IPv6 nodes",
                       r.responses, table_.size(), table6_.size());
            if (done) done(t, table_.size() + table6_.size());
        },
        true, config_.families);
}

void node::find_node(timestamp now, const node_id& target, lookup_callback done) {
    start_lookup(now, traversal::kind::find_node, target, std::move(done), false, config_.families);
}

void node::find_node(timestamp now, const node_id& target, lookup_callback done, address_families only) {
    const address_families families{config_.families.v4 && only.v4, config_.families.v6 && only.v6};
    start_lookup(now, traversal::kind::find_node, target, std::move(done), false, families);
}

void node::get_peers(timestamp now, const node_id& info_hash, lookup_callback done) {
    start_lookup(now, traversal::kind::get_peers, info_hash, std::move(done), false, config_.families);
}

void node::announce(timestamp now, const node_id& info_hash, std::uint16_t port, bool implied_port,
                    announce_callback done) {
    get_peers(now, info_hash, [this, info_hash, port, implied_port, done = std::move(done)](timestamp t,
                                                                                             const lookup_result& r) {
        struct progress {
            announce_result result;
            std::size_t waiting = 0;
            announce_callback done;
        };
        auto state = std::make_shared<progress>();
        state->result.lookup = r;
        state->done = done;
        for (std::size_t i = 0; i < r.closest.size(); ++i) {
            if (r.tokens[i].empty()) continue;
            bool sent = send_query(
                t, r.closest[i].ep, method::announce_peer,
                announce_args(config_.id, info_hash, port, implied_port, r.tokens[i]),
                [state](timestamp t2, const krpc::query_outcome& outcome) {
                    if (outcome.status == krpc::query_status::response) ++state->result.stored_at;
                    if (--state->waiting == 0 && state->done) state->done(t2, state->result);
                },
                r.closest[i].id);
            if (sent) ++state->waiting;
        }
        if (state->waiting == 0 && done) done(t, state->result);
    });
}

void node::ping(timestamp now, const endpoint& to, ping_callback done) {
    bool sent = send_query(now, to, method::ping, ping_args(config_.id),
                           [done](timestamp t, const krpc::query_outcome& outcome) {
                               std::optional<node_id> id;
                               if (outcome.status == krpc::query_status::response) id = sender_id(outcome.reply->body);
                               if (done) done(t, id, outcome.round_trip);
                           });
    if (!sent && done) done(now, std::nullopt, duration{});
}

void node::register_query(const std::string& method, query_handler handler) {
    extensions_.insert_or_assign(method, std::move(handler));
}

void node::register_flat_query(const std::string& method, flat_query_handler handler) {
    std::erase_if(flat_extensions_, [&](const auto& e) { return e.first == method; });
    flat_extensions_.emplace_back(method, std::move(handler));
}

void node::add_response_hook(const std::string& method, response_hook hook) {
    hooks_[method].push_back(std::move(hook));
}

void node::set_observed_address_listener(observed_address_listener listener) {
    observed_listener_ = std::move(listener);
}

std::vector<contact> node::export_nodes() const {
    std::vector<contact> out;
    for (const auto* table : {&table_, &table6_})
        for (const auto& e : table->all_nodes()) out.push_back({e.id, e.ep});
    return out;
}

} // namespace ovl::dht
