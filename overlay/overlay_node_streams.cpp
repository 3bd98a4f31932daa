// overlay_node: secure streams on established paths — creation (initiator after a punch,
// responder on a handshake), routing, the endpoint and key checks, and connection events.
#include "overlay/overlay_node.hpp"
#include "overlay/overlay_node_internal.hpp"

#include "overlay/relay_table.hpp"

namespace ovl::overlay {

connection_id overlay_node::open_stream(timestamp now, const public_key& peer, const endpoint& remote,
                                        const std::optional<std::string>& relay_sid, std::uint16_t socket) {
    if (connections_.size() >= max_connections) return 0;
    auto stream = std::make_unique<secure_stream>(secure_stream::role::initiator, self_, peer, 0,
                                                  random_source(dht_.rng().derive_seed()), log_, now);
    const auto id = stream->id();
    connection c;
    c.stream = std::move(stream);
    c.remote = remote;
    c.relay_sid = relay_sid;
    c.socket = socket;
    sockets_awaiting_stream_.erase(socket);
    connections_.insert_or_assign(id, std::move(c));
    return id;
}

void overlay_node::on_stream_datagram(timestamp now, const endpoint& from, bytes_view payload,
                                      const std::optional<std::string>& relay_sid, std::uint16_t socket) {
    auto cid = secure_stream::connection_id(payload);
    if (!cid) return;
    auto it = connections_.find(*cid);
    if (it == connections_.end()) {
        if (!secure_stream::is_handshake_init(payload) || connections_.size() >= max_connections) return;
        connection c;
        c.stream = std::make_unique<secure_stream>(secure_stream::role::responder, self_, std::nullopt, *cid,
                                                   random_source(dht_.rng().derive_seed()), log_, now);
        c.remote = from;
        c.relay_sid = relay_sid;
        c.socket = socket;
        c.incoming = true;
        sockets_awaiting_stream_.erase(socket);
        it = connections_.emplace(*cid, std::move(c)).first;
    }
    // A stream is bound to the endpoint and socket it started on; packets from elsewhere
    // are noise.
    if (it->second.remote != from || it->second.socket != socket) return;
    it->second.stream->on_packet(now, payload);
}

void overlay_node::service_streams(timestamp now) {
    for (auto it = connections_.begin(); it != connections_.end();) {
        auto& c = it->second;
        auto& st = *c.stream;
        while (auto p = st.poll_packet(now))
            send_raw(c.remote, c.relay_sid ? relay_table::frame(*c.relay_sid, *p) : std::move(*p), c.socket);
        const auto state = st.current_state();
        if (!c.opened && state == secure_stream::state::open) {
            c.opened = true;
            // An introduced peer must be the one the introduction named.
            std::optional<public_key> expected;
            if (c.relay_sid) {
                if (auto rp = relay_peers_.find(*c.relay_sid); rp != relay_peers_.end()) expected = rp->second;
            } else if (auto ep = expected_peers_.find(c.remote); ep != expected_peers_.end()) {
                expected = ep->second;
            }
            if (c.incoming && expected && st.peer() != *expected) {
                c.stream->abort("not the introduced peer");
                while (auto p = st.poll_packet(now)) send_raw(c.remote, std::move(*p), c.socket);
                release_socket(c.socket);
                it = connections_.erase(it);
                continue;
            }
            if (c.on_open) {
                auto cb = std::move(c.on_open);
                c.on_open = nullptr;
                cb(now, st);
            }
            events_.push_back({connection_event::kind::opened, it->first, *st.peer(), c.remote, c.incoming, {}});
        }
        if (!c.finished && (state == secure_stream::state::closed || state == secure_stream::state::failed)) {
            c.finished = true;
            c.finished_at = now;
            if (c.on_open) {
                auto cb = std::move(c.on_open);
                c.on_open = nullptr;
                cb(now, st);
            }
            if (c.opened)
                events_.push_back({state == secure_stream::state::closed ? connection_event::kind::closed
                                                                        : connection_event::kind::failed,
                                   it->first, st.peer().value_or(public_key{}), c.remote, c.incoming, st.failure_reason()});
        }
        if (c.finished && now - c.finished_at >= connection_linger) {
            release_socket(c.socket);
            it = connections_.erase(it);
            continue;
        }
        ++it;
    }
}

std::size_t overlay_node::write(connection_id id, bytes_view data) {
    auto it = connections_.find(id);
    if (it == connections_.end()) return 0;
    auto n = it->second.stream->write(data);
    service_streams(now_);
    return n;
}

bytes overlay_node::read(connection_id id) {
    auto it = connections_.find(id);
    if (it == connections_.end()) return {};
    auto out = it->second.stream->read();
    service_streams(now_);
    return out;
}

void overlay_node::close(connection_id id) {
    auto it = connections_.find(id);
    if (it == connections_.end()) return;
    it->second.stream->close();
    service_streams(now_);
}

std::optional<connection_event> overlay_node::poll_event() {
    if (events_.empty()) return std::nullopt;
    auto e = std::move(events_.front());
    events_.pop_front();
    return e;
}

const secure_stream* overlay_node::stream(connection_id id) const {
    auto it = connections_.find(id);
    return it == connections_.end() ? nullptr : it->second.stream.get();
}

} // namespace ovl::overlay
