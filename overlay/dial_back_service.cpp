#include "overlay/dial_back_service.hpp"

#include "dht/krpc/compact.hpp"
#include "overlay/methods.hpp"
#include "overlay/wire_tags.hpp"

#include <algorithm>
#include <set>

namespace ovl::overlay {

namespace {
constexpr int probers_per_request = 2;
constexpr std::size_t max_excluded = 16;
} // namespace

dial_back_service::dial_back_service(dht::node& dht, raw_sender send, logger_ptr log)
    : dht_(dht), send_(std::move(send)), log_(std::move(log)), per_requester_(0.5, 6), per_probe_target_(1, 8) {
    dht_.register_query(method::dial_back,
                        [this](timestamp t, const endpoint& from, const krpc::message& q) { return on_dial_back(t, from, q); });
    dht_.register_query(method::probe,
                        [this](timestamp t, const endpoint& from, const krpc::message& q) { return on_probe(t, from, q); });
}

bytes dial_back_service::probe_datagram(std::string_view nonce) {
    bytes out;
    out.reserve(1 + nonce.size());
    out.push_back(tag::dial_back);
    out.insert(out.end(), nonce.begin(), nonce.end());
    return out;
}

dht::query_reply dial_back_service::on_dial_back(timestamp now, const endpoint& from, const krpc::message& q) {
    const auto* nonce = bencode::find_string(q.body, "n");
    if (!nonce || nonce->size() != 8) return dht::query_reply::error(krpc::protocol_error, "missing or malformed nonce n");
    if (!from.address.is_global() || !per_requester_.allow(now, address_key(from.address))) {
        ++stats_.refused;
        return dht::query_reply::error(krpc::server_error, "dial-back refused");
    }
    // Probers must be strangers to the requester: not its IP, and none of the IPs it
    // says it has already written to ("x", compact IPv4 addresses).
    std::set<ip_address> excluded{from.address};
    if (const auto* x = bencode::find_string(q.body, "x"))
        for (std::size_t i = 0; i + 4 <= std::min<std::size_t>(x->size(), 4 * max_excluded); i += 4)
            excluded.insert(krpc::parse_compact_endpoint(x->substr(i, 4) + std::string(2, '\0'))->address);
    int dispatched = 0;
    // Probers of the requester's family: they must be able to send to the address asked
    // about. From a random part of the table, the nodes known longest: a prober that has
    // gone away sends nothing, and the requester would read the silence as "unreachable".
    auto sample = dht_.table(from.address.family()).closest(dht::node_id::random(dht_.rng()), 16);
    std::stable_sort(sample.begin(), sample.end(),
                     [](const dht::node_entry& a, const dht::node_entry& b) { return a.first_seen < b.first_seen; });
    for (const auto& c : sample) {
        if (dispatched >= probers_per_request) break;
        if (!excluded.insert(c.ep.address).second) continue;
        dht_.send_notice(c.ep, method::probe, {{"id", dht_.id().to_bytes()}, {"ep", krpc::compact_endpoint(from)}, {"n", *nonce}});
        ++dispatched;
    }
    if (dispatched == 0) {
        ++stats_.refused;
        return dht::query_reply::error(krpc::server_error, "no prober available");
    }
    ++stats_.requests_served;
    return dht::query_reply::respond({{"np", dispatched}});
}

dht::query_reply dial_back_service::on_probe(timestamp now, const endpoint& from, const krpc::message& q) {
    const auto* nonce = bencode::find_string(q.body, "n");
    const auto* ep_text = bencode::find_string(q.body, "ep");
    auto target = ep_text ? krpc::parse_compact_endpoint(*ep_text) : std::nullopt;
    if (!nonce || nonce->size() != 8 || !target) return dht::query_reply::error(krpc::protocol_error, "missing n or ep");
    // One small datagram per request, only to global addresses, and rate-limited per
    // target: a hostile helper could point us at a victim, but gains nothing from it.
    if (!target->address.is_global() || target->address == from.address ||
        !per_probe_target_.allow(now, address_key(target->address))) {
        ++stats_.refused;
        return dht::query_reply::error(krpc::server_error, "probe refused");
    }
    // From our secondary port: the target never wrote to it, so only a NAT that lets
    // unsolicited packets in will pass the probe.
    send_(outgoing_datagram{*target, probe_datagram(*nonce), true});
    ++stats_.probes_sent;
    return dht::query_reply::respond({});
}

} // namespace ovl::overlay
