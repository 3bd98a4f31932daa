#include "overlay/introducer_service.hpp"

#include "dht/bencode/encode.hpp"

#include "dht/krpc/compact.hpp"
#include "overlay/dht_id.hpp"
#include "overlay/methods.hpp"

#include <limits>

#include <sodium.h>

namespace ovl::overlay {

namespace {
constexpr auto expiry_interval = std::chrono::seconds(30);

// A digest of a signed registration message and its signature (BLAKE2b, 16 bytes).
registration_digest registration_proof(std::span<const std::uint8_t> message, const signature& sig) {
    registration_digest out;
    crypto_generichash_state st;
    crypto_generichash_init(&st, nullptr, 0, out.size());
    crypto_generichash_update(&st, message.data(), message.size());
    crypto_generichash_update(&st, sig.data(), sig.size());
    crypto_generichash_final(&st, out.data(), out.size());
    return out;
}

rate_limiter global_limiter(const introducer_limits& l) {
    return rate_limiter(l.introductions_per_second, l.introductions_per_second, 1);
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
    dht_.register_flat_query(method::introduce, [this](timestamp t, const endpoint& from,
                                                       const bencode::flat_reader& q, std::string_view tid) {
        return on_introduce_flat(t, from, q, tid);
    });
    dht_.register_query(method::relay,
                        [this](timestamp t, const endpoint& from, const krpc::message& q) { return on_relay(t, from, q); });
}

bool introducer_service::token_valid(timestamp now, const endpoint& from, const dht::node_id& key_id,
                                     std::optional<std::string_view> token) {
    return token && tokens_.accepts(now, from.address, key_id, *token);
}

std::optional<dht::query_reply> introducer_service::check_serving_and_token(timestamp now, const endpoint& from,
                                                                            const public_key& key,
                                                                            std::optional<std::string_view> token) {
    if (!serving()) {
        ++stats_.refused_not_serving;
        return dht::query_reply::error(krpc::server_error, "not serving as introducer");
    }
    const auto key_id = dht_id_for(key);
    if (!token_valid(now, from, key_id, token)) {
        // First contact: hand out a token bound to the sender's IP. The reply is
        // smaller than the query, so an unverified sender gains no amplification.
        return dht::query_reply::respond({{"tok", tokens_.issue(now, from.address, key_id)}});
    }
    return std::nullopt;
}

krpc_sender introducer_service::sender() const { return {dht_.id(), dht_.version(), dht_.read_only()}; }

dht::query_reply introducer_service::on_register(timestamp now, const endpoint& from, const krpc::message& q) {
    auto key = read_key(q.body, "k");
    if (!key) return dht::query_reply::error(krpc::protocol_error, "missing or malformed key k");
    const auto* token = bencode::find_string(q.body, "tok");
    if (auto early = check_serving_and_token(now, from, *key, token ? std::optional<std::string_view>(*token) : std::nullopt))
        return *early;
    const auto* sig_text = bencode::find_string(q.body, "sig");
    auto sig = sig_text ? signature_from_bytes(*sig_text) : std::nullopt;
    if (!sig) {
        ++stats_.bad_signatures;
        return dht::query_reply::error(krpc::protocol_error, "bad registration signature");
    }
    const auto message = registration_message(dht_.id(), *token, q.body);
    const auto proof = registration_proof(message, *sig);
    const auto* known = registrations_.find(now, *key);
    // A keepalive repeats the registration it refreshes, signature and all, while its
    // token lasts: what was verified once need not be verified again.
    if (!known || known->proof != proof) {
        ++stats_.signature_checks;
        if (!verify(*key, message, *sig)) {
            ++stats_.bad_signatures;
            return dht::query_reply::error(krpc::protocol_error, "bad registration signature");
        }
    }
    const bool is_new = !known;
    registration r;
    r.proof = proof;
    r.observed = from;
    r.lan = read_endpoint_list(q.body, "lan");
    if (const auto* nat = bencode::find_string(q.body, "nat")) r.nat = nat->substr(0, 32);
    if (const auto* pd = bencode::find_int(q.body, "pd"); pd && *pd >= -64 && *pd <= 64) r.port_delta = static_cast<int>(*pd);
    r.ipv6 = read_ipv6_endpoint(q.body);
    r.expires = now + ttl_;
    if (is_new && registrations_.size() >= limits_.max_registrations) registrations_.expire(now);
    if (is_new && registrations_.size() >= limits_.max_registrations) {
        ++stats_.registrations_refused;
        return dht::query_reply::error(krpc::server_error, "introducer full");
    }
    if (registrations_.upsert(now, *key, std::move(r)) == registration_table::result::added) {
        ++stats_.registrations_accepted;
        if (log_->should_log(spdlog::level::debug))
            log_->debug("registered peer {} at {}", to_hex(*key).substr(0, 16), from.to_string());
    }
    return dht::query_reply::respond({{"ttl", static_cast<std::int64_t>(std::chrono::duration_cast<std::chrono::seconds>(ttl_).count())}});
}

std::variant<const registration*, dht::query_reply> introducer_service::admit(timestamp now, const endpoint& from,
                                                                            const introduction_request& request) {
    // Keyed by the binary address, its /24 (/48 for IPv6: what one subscriber usually
    // controls) and the target key.
    const auto address = address_key(from.address);
    const std::string_view target(reinterpret_cast<const char*>(request.target.data()), request.target.size());
    if (!global_.allow(now, {}) || !per_requester_.allow(now, address) ||
        !per_subnet_.allow(now, address.substr(0, from.address.is_v4() ? 3 : 6)) || !per_target_.allow(now, target)) {
        ++stats_.introductions_rate_limited;
        return dht::query_reply::error(krpc::server_error, "rate limited");
    }
    const auto* reg = registrations_.find(now, request.target);
    if (!reg) {
        ++stats_.introductions_unknown_target;
        return dht::query_reply::error(krpc::generic_error, "target not registered here");
    }
    return reg;
}

void introducer_service::notify_target(const registration& reg, const endpoint& requester,
                                       const introduction_request& request, bool relayed) {
    if (auto* out = dht_.send_encoded(reg.observed))
        write_introduction_notice(*out, sender(), dht_.notice_transaction_id(), request, requester, relayed);
}

dht::query_reply introducer_service::on_introduce(timestamp now, const endpoint& from, const krpc::message& q) {
    const auto request = read_introduction(q.body);
    if (!request) return dht::query_reply::error(krpc::protocol_error, "missing or malformed k, t or sid");
    if (auto early = check_serving_and_token(now, from, request->requester, request->token)) return *early;
    return introduce(now, from, q.transaction_id, *request);
}

bool introducer_service::on_introduce_flat(timestamp now, const endpoint& from, const bencode::flat_reader& query,
                                           std::string_view tid) {
    const auto request = read_introduction(query, list_scratch_);
    if (!request || !serving() || !request->token || !token_valid(now, from, dht_id_for(request->requester), request->token))
        return false;
    dht_.send_reply(from, tid, introduce(now, from, tid, *request));
    return true;
}

dht::query_reply introducer_service::introduce(timestamp now, const endpoint& from, std::string_view tid,
                                               const introduction_request& request) {
    auto admitted = admit(now, from, request);
    if (auto* refusal = std::get_if<dht::query_reply>(&admitted)) return *refusal;
    const auto* reg = std::get<const registration*>(admitted);
    // Tell the target first: it must punch outward before the requester's packets reach
    // its NAT (an early inbound packet can poison the mapping on some routers).
    notify_target(*reg, from, request, false);
    ++stats_.introductions_ok;
    if (log_->should_log(spdlog::level::debug))
        log_->debug("introduced {} to {}", from.to_string(), reg->observed.to_string());
    if (auto* out = dht_.send_encoded(from)) write_introduction_reply(*out, sender(), tid, from, request.sid, *reg);
    return dht::query_reply::answered();
}

dht::query_reply introducer_service::on_relay(timestamp now, const endpoint& from, const krpc::message& q) {
    const auto request = read_introduction(q.body);
    if (!request) return dht::query_reply::error(krpc::protocol_error, "missing or malformed k, t or sid");
    if (auto early = check_serving_and_token(now, from, request->requester, request->token)) return *early;
    auto admitted = admit(now, from, *request);
    if (auto* refusal = std::get_if<dht::query_reply>(&admitted)) return *refusal;
    const auto* reg = std::get<const registration*>(admitted);
    const std::string sid(request->sid);
    switch (relays_.open(now, sid, from, reg->observed)) {
    case relay_table::open_result::disabled:
        return dht::query_reply::error(krpc::server_error, "relaying is turned off on this introducer");
    case relay_table::open_result::full:
        return dht::query_reply::error(krpc::server_error, "relay full");
    case relay_table::open_result::budget_spent:
        return dht::query_reply::error(krpc::server_error, "relay budget for this period used up");
    case relay_table::open_result::opened:
        break;
    }
    notify_target(*reg, from, *request, true);
    log_->debug("relaying between {} and {}", from.to_string(), reg->observed.to_string());
    return dht::query_reply::respond({{"relay", 1}, {"sid", sid}});
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
