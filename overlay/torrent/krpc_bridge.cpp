#include "overlay/torrent/krpc_bridge.hpp"

#include "dht/krpc/codec.hpp"
#include "overlay/torrent/lt_endpoint.hpp"

namespace ovl::torrent {

namespace {
bytes_view as_bytes(lt::span<const char> s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), static_cast<std::size_t>(s.size())};
}

// libtorrent answers or times out every query within ~16 s; an entry older than this
// lost its alert (a full alert queue) and is forgotten.
constexpr auto stale_after = std::chrono::seconds(60);
} // namespace

struct krpc_bridge::cookie_tag {};
struct krpc_bridge::ping_tag {};
krpc_bridge::ping_tag krpc_bridge::ping_marker;

krpc_bridge::krpc_bridge(lt::session_handle session, logger_ptr log) : session_(std::move(session)), log_(std::move(log)) {}

void krpc_bridge::flush(datagram_core& core, timestamp now) {
    while (auto d = core.poll_transmit()) send(now, *d);
    forget_stale(now);
}

void krpc_bridge::send(timestamp now, const outgoing_datagram& d) {
    if (d.payload.empty() || d.payload[0] != 'd' || d.from_secondary_port || d.socket != 0) {
        ++dropped_raw_;
        return;
    }
    lt::error_code ec;
    const auto node = lt::bdecode({reinterpret_cast<const char*>(d.payload.data()), static_cast<int>(d.payload.size())}, ec);
    if (ec || node.type() != lt::bdecode_node::dict_t || node.dict_find_string_value("y") != "q") {
        // A response or error outside on_request: libtorrent cannot send it for us.
        ++dropped_raw_;
        return;
    }
    lt::entry e;
    e["q"] = std::string(node.dict_find_string_value("q"));
    if (auto args = node.dict_find_dict("a")) e["a"] = lt::entry(args);
    const auto cookie = next_cookie_++;
    pending_[cookie] = pending{d.to, std::string(node.dict_find_string_value("t")), now};
    session_.dht_direct_request(to_lt_udp(d.to), e, lt::client_data_t(reinterpret_cast<cookie_tag*>(cookie)));
    ++queries_sent_;
}

void krpc_bridge::ping(const endpoint& to) {
    lt::entry e;
    e["q"] = "ping";
    e["a"] = lt::entry::dictionary_type{};
    session_.dht_direct_request(to_lt_udp(to), e, lt::client_data_t(&ping_marker));
}

bool krpc_bridge::on_request(datagram_core& core, timestamp now, const lt::udp::endpoint& from,
                             const lt::bdecode_node& message, lt::entry& response) {
    const auto section = message.data_section();
    const auto sender = from_lt(from);
    const auto tid = std::string(message.dict_find_string_value("t"));
    core.on_datagram(now, sender, as_bytes(section));
    bool answered = false;
    while (auto d = core.poll_transmit()) {
        if (answered || d->to != sender || d->payload.empty() || d->payload[0] != 'd') {
            send(now, *d);
            continue;
        }
        auto decoded = krpc::decode(d->payload);
        const auto* reply = std::get_if<krpc::message>(&decoded);
        if (!reply || reply->transaction_id != tid || reply->kind == krpc::message_kind::query) {
            send(now, *d);
            continue;
        }
        answered = true;
        if (reply->kind == krpc::message_kind::error) {
            response["y"] = "e";
            response["e"] = lt::entry::list_type{lt::entry(reply->error_code), lt::entry(reply->error_message)};
            response.dict().erase("r");
            continue;
        }
        // Keep libtorrent's own node id in "r": it is the id this socket has in the DHT.
        lt::error_code ec;
        const auto node = lt::bdecode({reinterpret_cast<const char*>(d->payload.data()), static_cast<int>(d->payload.size())}, ec);
        auto values = node.dict_find_dict("r");
        for (int i = 0; !ec && values && i < values.dict_size(); ++i) {
            auto [key, value] = values.dict_at(i);
            if (key != "id") response["r"][std::string(key)] = lt::entry(value);
        }
    }
    return answered;
}

bool krpc_bridge::on_alert(datagram_core& core, timestamp now, const lt::alert& a) {
    const auto* r = lt::alert_cast<lt::dht_direct_response_alert>(&a);
    if (!r) return false;
    if (r->userdata.get<ping_tag>() != nullptr) return true;
    auto* tag = r->userdata.get<cookie_tag>();
    if (tag == nullptr) return false;
    auto it = pending_.find(reinterpret_cast<std::uintptr_t>(tag));
    if (it == pending_.end()) return true;
    const auto p = it->second;
    pending_.erase(it);
    const auto response = r->response();
    std::vector<std::uint8_t> datagram;
    if (response.type() == lt::bdecode_node::dict_t) {
        const auto section = response.data_section();
        auto decoded = krpc::decode(as_bytes(section));
        auto* m = std::get_if<krpc::message>(&decoded);
        if (!m) return true;
        m->transaction_id = p.transaction_id;
        datagram = krpc::encode(*m);
    } else {
        datagram = krpc::encode(krpc::message::error(p.transaction_id, krpc::server_error,
                                                     "no answer through libtorrent (timeout or KRPC error)"));
    }
    core.on_datagram(now, p.to, datagram);
    flush(core, now);
    return true;
}

void krpc_bridge::forget_stale(timestamp now) {
    for (auto it = pending_.begin(); it != pending_.end();) {
        if (now - it->second.sent > stale_after)
            it = pending_.erase(it);
        else
            ++it;
    }
}

} // namespace ovl::torrent
