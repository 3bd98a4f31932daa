#include "overlay/introducer_service.hpp"

#include "dht/bencode/encode.hpp"

#include "dht/krpc/compact.hpp"
#include "overlay/dht_id.hpp"
#include "overlay/methods.hpp"

#include <limits>

namespace ovl::overlay {

namespace {
constexpr auto expiry_interval = std::chrono::seconds(30);

rate_limiter global_limiter(const introducer_limits& l) {
    return rate_limiter(l.introductions_per_second, l.introductions_per_second, 1);
}

std::string subnet_of(const ip_address& a) {
    // /24 for IPv4, /48 for IPv6: the granularity one subscriber usually controls.
    return std::string(reinterpret_cast<const char*>(a.data()), a.is_v4() ? 3 : 6);
}
} // namespace

std::vector<endpoint> read_endpoint_list(const bencode::dict& d, const char* key, std::size_t max) {
    std::vector<endpoint> out;
    const auto* l = bencode::find_list(d, key);
    if (!l) return out;
    for (const auto& v : *l) {
        if (out.size() >= max) break;
        if (const auto* s = v.as_string())
            if (auto ep = krpc::parse_compact_endpoint(*s); ep && ep->port != 0) out.push_back(*ep);
    }
    return out;
}

bencode::list endpoint_list(const std::vector<endpoint>& eps) {
    bencode::list out;
    for (const auto& ep : eps) out.emplace_back(krpc::compact_endpoint(ep));
    return out;
}

std::optional<public_key> read_key(const bencode::dict& d, const char* key) {
    const auto* s = bencode::find_string(d, key);
    return s ? public_key_from_bytes(*s) : std::nullopt;
}

std::optional<endpoint> read_ipv6_endpoint(const bencode::dict& d, const char* key) {
    const auto* s = bencode::find_string(d, key);
    if (!s || s->size() != 18) return std::nullopt;
    auto ep = krpc::parse_compact_endpoint(*s);
    if (!ep || !ep->address.is_v6() || !ep->address.is_global() || ep->port == 0) return std::nullopt;
    return ep;
}

bytes introducer_service::registration_message(const dht::node_id& introducer, const std::string& token,
                                               const bencode::dict& registration) {
    // The signed fields travel bencoded in canonical order, so both ends derive the same
    // bytes from the values they sent and received.
    bencode::dict signed_fields;
    for (const char* key : {"ep6", "lan", "nat", "pd"})
        if (auto it = registration.find(key); it != registration.end()) signed_fields.emplace(key, it->second);
    const auto fields = bencode::encode(bencode::value(std::move(signed_fields)));
    static constexpr std::string_view domain = "ovl-register";
    bytes out(domain.size() + dht::node_id::size + token.size() + fields.size());
    auto* p = out.data();
    p = std::copy(domain.begin(), domain.end(), p);
    p = std::copy(introducer.bytes().begin(), introducer.bytes().end(), p);
    p = std::copy(token.begin(), token.end(), p);
    std::copy(fields.begin(), fields.end(), p);
    return out;
}

introducer_service::introducer_service(dht::node& dht, const introducer_limits& limits, const relay_limits& relay,
                                       duration registration_ttl, random_source& rng, logger_ptr log, timestamp now,
                                       std::function<bool()> serving)
    : dht_(dht),
      limits_(limits),
      ttl_(registration_ttl),
      log_(std::move(log)),
      serving_(std::move(serving)),
      tokens_(rng, now),
      // The cap is enforced in on_register, so that set_limits can move it.
      registrations_(std::numeric_limits<std::size_t>::max()),
      relays_(relay),
      global_(global_limiter(limits)),
      per_requester_(limits.per_requester_per_second, limits.burst),
      per_subnet_(limits.per_subnet_per_second, limits.burst * 2),
      per_target_(limits.per_target_per_second, limits.burst),
      next_expiry_(now + expiry_interval) {
    dht_.register_query(method::register_peer,
                        [this](timestamp t, const endpoint& from, const krpc::message& q) { return on_register(t, from, q); });
    dht_.register_query(method::introduce,
                        [this](timestamp t, const endpoint& from, const krpc::message& q) { return on_introduce(t, from, q); });
    dht_.register_query(method::relay,
                        [this](timestamp t, const endpoint& from, const krpc::message& q) { return on_relay(t, from, q); });
}

std::optional<dht::query_reply> introducer_service::check_serving_and_token(timestamp now, const endpoint& from,
                                                                            const public_key& key,
                                                                            const krpc::message& q) {
    if (!limits_.enabled || !serving_()) {
        ++stats_.refused_not_serving;
        return dht::query_reply::error(krpc::server_error, "not serving as introducer");
    }
    const auto* token = bencode::find_string(q.body, "tok");
    const auto key_id = dht_id_for(key);
    if (!token || !tokens_.accepts(now, from.address, key_id, *token)) {
        // First contact: hand out a token bound to the sender's IP. The reply is
        // smaller than the query, so an unverified sender gains no amplification.
        return dht::query_reply::respond({{"tok", tokens_.issue(now, from.address, key_id)}});
    }
    return std::nullopt;
}

dht::query_reply introducer_service::on_register(timestamp now, const endpoint& from, const krpc::message& q) {
    auto key = read_key(q.body, "k");
    if (!key) return dht::query_reply::error(krpc::protocol_error, "missing or malformed key k");
    if (auto early = check_serving_and_token(now, from, *key, q)) return *early;
    const auto* sig_text = bencode::find_string(q.body, "sig");
    auto sig = sig_text ? signature_from_bytes(*sig_text) : std::nullopt;
    if (!sig || !verify(*key, registration_message(dht_.id(), *bencode::find_string(q.body, "tok"), q.body), *sig)) {
        ++stats_.bad_signatures;
        return dht::query_reply::error(krpc::protocol_error, "bad registration signature");
    }
    registration r;
    r.observed = from;
    r.lan = read_endpoint_list(q.body, "lan");
    if (const auto* nat = bencode::find_string(q.body, "nat")) r.nat = nat->substr(0, 32);
    if (const auto* pd = bencode::find_int(q.body, "pd"); pd && *pd >= -64 && *pd <= 64) r.port_delta = static_cast<int>(*pd);
    r.ipv6 = read_ipv6_endpoint(q.body);
    r.expires = now + ttl_;
    const bool is_new = !registrations_.find(now, *key);
    if (is_new && registrations_.size() >= limits_.max_registrations) registrations_.expire(now);
    if (is_new && registrations_.size() >= limits_.max_registrations) {
        ++stats_.registrations_refused;
        return dht::query_reply::error(krpc::server_error, "introducer full");
    }
    if (registrations_.upsert(now, *key, std::move(r)) == registration_table::result::added) {
        ++stats_.registrations_accepted;
        log_->debug("registered peer {} at {}", to_hex(*key).substr(0, 16), from.to_string());
    }
    return dht::query_reply::respond({{"ttl", static_cast<std::int64_t>(std::chrono::duration_cast<std::chrono::seconds>(ttl_).count())}});
}

std::variant<const registration*, dht::query_reply> introducer_service::admit(timestamp now, const endpoint& from,
                                                                            const krpc::message& q) {
    auto requester = read_key(q.body, "k");
    auto target = read_key(q.body, "t");
    const auto* sid = bencode::find_string(q.body, "sid");
    if (!requester || !target || !sid || sid->size() != 8)
        return dht::query_reply::error(krpc::protocol_error, "missing or malformed k, t or sid");
    if (auto early = check_serving_and_token(now, from, *requester, q)) return *early;
    const std::string target_key(target->begin(), target->end());
    if (!global_.allow(now, "") || !per_requester_.allow(now, from.address.to_string()) ||
        !per_subnet_.allow(now, subnet_of(from.address)) || !per_target_.allow(now, target_key)) {
        ++stats_.introductions_rate_limited;
        return dht::query_reply::error(krpc::server_error, "rate limited");
    }
    const auto* reg = registrations_.find(now, *target);
    if (!reg) {
        ++stats_.introductions_unknown_target;
        return dht::query_reply::error(krpc::generic_error, "target not registered here");
    }
    return reg;
}

void introducer_service::notify_target(const registration& reg, const endpoint& requester,
                                       const krpc::message& q, bool relayed) {
    bencode::dict notice{{"id", dht_.id().to_bytes()},
                         {"k", *bencode::find_string(q.body, "k")},
                         {"ep", krpc::compact_endpoint(requester)},
                         {"lan", endpoint_list(read_endpoint_list(q.body, "lan"))},
                         {"sid", *bencode::find_string(q.body, "sid")}};
    if (const auto* nat = bencode::find_string(q.body, "nat")) notice.emplace("nat", nat->substr(0, 32));
    if (relayed) notice.emplace("relay", 1);
    if (auto ep6 = read_ipv6_endpoint(q.body)) notice.emplace("ep6", krpc::compact_endpoint(*ep6));
    if (const auto* tr = bencode::find_string(q.body, "tr"); tr && *tr == "tcp") notice.emplace("tr", "tcp");
    // Opaque to the introducer: what the requester wants from the target (the torrent
    // plugin puts a rendezvous hash here, never an info-hash).
    if (const auto* ctx = bencode::find_string(q.body, "ctx"); ctx && ctx->size() <= 32) notice.emplace("ctx", *ctx);
    if (const auto* pred = bencode::find_list(q.body, "pred"); pred && !pred->empty())
        notice.emplace("pred", endpoint_list(read_endpoint_list(q.body, "pred", max_predictions)));
    dht_.send_notice(reg.observed, method::introduction, std::move(notice));
}

dht::query_reply introducer_service::on_introduce(timestamp now, const endpoint& from, const krpc::message& q) {
    auto admitted = admit(now, from, q);
    if (auto* refusal = std::get_if<dht::query_reply>(&admitted)) return *refusal;
    const auto* reg = std::get<const registration*>(admitted);
    const auto* sid = bencode::find_string(q.body, "sid");
    // Tell the target first: it must punch outward before the requester's packets reach
    // its NAT (an early inbound packet can poison the mapping on some routers).
    notify_target(*reg, from, q, false);
    ++stats_.introductions_ok;
    log_->debug("introduced {} to {}", from.to_string(), reg->observed.to_string());
    bencode::dict reply{{"ep", krpc::compact_endpoint(reg->observed)},
                        {"lan", endpoint_list(reg->lan)},
                        {"nat", reg->nat},
                        {"sid", *sid}};
    if (reg->port_delta != 0) reply.emplace("pd", reg->port_delta);
    if (reg->ipv6) reply.emplace("ep6", krpc::compact_endpoint(*reg->ipv6));
    return dht::query_reply::respond(std::move(reply));
}

dht::query_reply introducer_service::on_relay(timestamp now, const endpoint& from, const krpc::message& q) {
    auto admitted = admit(now, from, q);
    if (auto* refusal = std::get_if<dht::query_reply>(&admitted)) return *refusal;
    const auto* reg = std::get<const registration*>(admitted);
    const auto* sid = bencode::find_string(q.body, "sid");
    switch (relays_.open(now, *sid, from, reg->observed)) {
    case relay_table::open_result::disabled:
        return dht::query_reply::error(krpc::server_error, "relaying is turned off on this introducer");
    case relay_table::open_result::full:
        return dht::query_reply::error(krpc::server_error, "relay full");
    case relay_table::open_result::budget_spent:
        return dht::query_reply::error(krpc::server_error, "relay budget for this period used up");
    case relay_table::open_result::opened:
        break;
    }
    notify_target(*reg, from, q, true);
    log_->debug("relaying between {} and {}", from.to_string(), reg->observed.to_string());
    return dht::query_reply::respond({{"relay", 1}, {"sid", *sid}});
}

void introducer_service::set_limits(const introducer_limits& limits, const relay_limits& relay) {
    limits_ = limits;
    global_ = global_limiter(limits);
    per_requester_ = rate_limiter(limits.per_requester_per_second, limits.burst);
    per_subnet_ = rate_limiter(limits.per_subnet_per_second, limits.burst * 2);
    per_target_ = rate_limiter(limits.per_target_per_second, limits.burst);
    relays_.set_limits(relay);
}

void introducer_service::on_timeout(timestamp now) {
    if (now < next_expiry_) return;
    next_expiry_ = now + expiry_interval;
    registrations_.expire(now);
    relays_.expire(now);
}

} // namespace ovl::overlay
